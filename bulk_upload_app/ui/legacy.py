"""The demo legacy dashboard (demo mode only): stands in for the company's old dashboard, where an
admin adds seats to the company account.

Every handler asks `self.admin()` first: the company is the signed-in admin's, never one the
browser names.
"""

from __future__ import annotations

import reflex as rx

from bulk_upload_app.legacy_seats import (
    FALLBACK_RETURN,
    MAX_SEATS_TO_ADD,
    MIN_SEATS_TO_ADD,
    parse_seat_count,
    safe_return_path,
)
from bulk_upload_app.services import directory
from bulk_upload_app.ui.layout import admins_only, page_frame
from bulk_upload_app.ui.session import SessionState


class LegacyDashboardState(SessionState):
    company_name: str = ""
    seats_total: int = 0
    seats_used: int = 0
    confirmation: str = ""
    error: str = ""
    back_href: str = FALLBACK_RETURN

    def _show(self, company_id: int) -> None:
        overview = directory.overview(company_id)
        self.company_name = overview.name
        self.seats_total, self.seats_used = overview.seats_total, overview.seats_used

    @rx.event
    def load(self):
        admin = self.admin()
        self.back_href = safe_return_path(self.router.url.query_parameters.get("return"))
        self.confirmation = self.error = ""
        if admin is not None:
            self._show(admin.company_id)

    @rx.event
    def add(self, form_data: dict):
        admin = self.admin()
        if admin is None:
            self.confirmation, self.error = "", "Only admins can add seats."
            return
        self.confirmation = self.error = ""
        try:
            count = parse_seat_count(form_data.get("seats_to_add"))
            before, after = directory.add_demo_seats(admin.company_id, count)
        except (ValueError, PermissionError) as exc:
            self.error = str(exc)
            return
        self.confirmation = f"Seats added: {before} → {after} seats."
        self._show(admin.company_id)


# ---------------------------------------------------------------- the page

SEATS_INPUT_ID = "seats-to-add"
SEATS_HINT_ID = "seats-to-add-hint"


def _add_seats_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.el.label("Seats to add", html_for=SEATS_INPUT_ID, style={"fontWeight": "500"}),
            rx.hstack(
                rx.input(
                    id=SEATS_INPUT_ID,
                    name="seats_to_add",
                    type="number",
                    min=MIN_SEATS_TO_ADD,
                    max=MAX_SEATS_TO_ADD,
                    step=1,
                    default_value="1",
                    required=True,
                    aria_describedby=SEATS_HINT_ID,
                    size="3",
                    width="10em",
                ),
                rx.button("Add seats", type="submit", size="3"),
                align="center",
            ),
            rx.text(
                f"From {MIN_SEATS_TO_ADD} to {MAX_SEATS_TO_ADD} at a time.",
                id=SEATS_HINT_ID,
                size="2",
                color_scheme="gray",
            ),
            spacing="2",
        ),
        on_submit=LegacyDashboardState.add,
        reset_on_submit=False,
    )


def _dashboard() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(LegacyDashboardState.company_name, size="5", as_="h2"),
            rx.text(
                "Seats used: ",
                rx.text.strong(f"{LegacyDashboardState.seats_used} / {LegacyDashboardState.seats_total}"),
                id="legacy-seats",
            ),
            _add_seats_form(),
            # Live regions stay in the page, so screen readers announce what appears in them.
            rx.box(
                rx.box(
                    rx.cond(
                        LegacyDashboardState.error != "",
                        rx.callout(LegacyDashboardState.error, icon="triangle_alert", color_scheme="red"),
                    ),
                    role="alert",
                ),
                rx.box(
                    rx.cond(
                        LegacyDashboardState.confirmation != "",
                        rx.callout(LegacyDashboardState.confirmation, icon="circle_check", color_scheme="green"),
                    ),
                    role="status",
                ),
                width="100%",
            ),
            rx.link("Back to bulk user upload", href=LegacyDashboardState.back_href),
            spacing="4",
            width="100%",
        ),
        size="3",
        width="100%",
        max_width="40em",
    )


def legacy_dashboard_page() -> rx.Component:
    return page_frame(
        "Legacy dashboard",
        rx.text(
            "Demo stand-in for the company's old dashboard, where seats are bought.",
            color_scheme="gray",
        ),
        admins_only(LegacyDashboardState, _dashboard()),
    )
