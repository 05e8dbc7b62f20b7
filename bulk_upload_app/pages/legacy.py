"""The demo legacy dashboard: stands in for the company's old dashboard, where an admin adds seats."""

from __future__ import annotations

import reflex as rx

from ..legacy_seats import MAX_SEATS_TO_ADD, MIN_SEATS_TO_ADD
from ..state.legacy import LegacyDashboardState as State
from .layout import admins_only, page_frame

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
                f"From {MIN_SEATS_TO_ADD} to {MAX_SEATS_TO_ADD} at a time.", id=SEATS_HINT_ID, size="2", color_scheme="gray"
            ),
            spacing="2",
        ),
        on_submit=State.add,
        reset_on_submit=False,
    )


def _dashboard() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(State.company_name, size="5", as_="h2"),
            rx.text(
                "Seats used: ",
                rx.text.strong(f"{State.seats_used} / {State.seats_total}"),
                id="legacy-seats",
            ),
            _add_seats_form(),
            # Live regions stay in the page, so screen readers announce what appears in them.
            rx.box(
                rx.box(
                    rx.cond(State.error != "", rx.callout(State.error, icon="triangle_alert", color_scheme="red")),
                    role="alert",
                ),
                rx.box(
                    rx.cond(
                        State.confirmation != "",
                        rx.callout(State.confirmation, icon="circle_check", color_scheme="green"),
                    ),
                    role="status",
                ),
                width="100%",
            ),
            rx.link("Back to bulk user upload", href=State.back_href),
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
        admins_only(State, _dashboard()),
    )
