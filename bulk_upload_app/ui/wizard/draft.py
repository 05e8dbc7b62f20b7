"""What every step of a draft shares: its State (the upload, its counts and seats, moving between
steps) and the components more than one step shows.

Every handler first asks `self.admin()`; the upload id comes from the URL and is looked up
within the signed-in admin's company only (services/), so a guessed or foreign id finds nothing.
"""

from __future__ import annotations

import reflex as rx
from reflex.event import EventHandler

from bulk_upload_app import routes
from bulk_upload_app.errors import UploadBusy, UploadNotFound
from bulk_upload_app.files.schema import USER_TYPES
from bulk_upload_app.services import drafts as draft_service
from bulk_upload_app.services.drafts import DraftSummary, Report
from bulk_upload_app.settings import get_settings
from bulk_upload_app.statuses import WizardStep
from bulk_upload_app.ui.session import SessionState
from bulk_upload_app.uploads import drafts

# What the wizard runs when it arrives on a step (the Review grid's rows, the Settings form):
# each step's module adds its own here, since those modules build on this one and this one
# must not import them back.
ARRIVE_ON_STEP: dict[str, EventHandler] = {}


class DraftState(SessionState):
    upload_id: str = ""
    not_found: bool = False
    file_name: str = ""
    user_type: str = "agent"
    status: str = ""
    step: str = WizardStep.REVIEW
    notices: list[str] = []
    columns_used: list[str] = []  # how the file's columns were matched (not for template titles)
    count_all: int = 0
    count_valid: int = 0
    count_errors: int = 0
    seats_total: int = 0
    seats_free: int = 0
    message: str = ""
    # While a worker judges the file (status "processing"), and what a job left to say.
    processing: bool = False
    file_rows: int = 0
    judged_percent: int = 100
    queued: bool = False
    cancel_requested: bool = False
    problem: str = ""
    derived_columns: list[str] = []  # columns filled in from the file's other columns (Match columns)

    @rx.var
    def seats_short(self) -> int:
        return max(self.count_valid - self.seats_free, 0)

    @rx.var
    def legacy_dashboard_url(self) -> str:
        base = get_settings().legacy_dashboard_url
        joiner = "&" if "?" in base else "?"
        return f"{base}{joiner}return={routes.draft(self.upload_id)}"

    def _id_from_url(self) -> str:
        path = self.router.url.path.rstrip("/")
        return path.rsplit("/", 1)[-1] if path.startswith(routes.BULK_UPLOAD) else ""

    def _assign(self, **values) -> None:
        """Set only the vars whose value changed: Reflex sends (and the page redraws) every var
        assigned, equal or not, and a page following a running job asks twice a second."""
        for name, value in values.items():
            if getattr(self, name) != value:
                setattr(self, name, value)

    def _show_summary(self, summary: DraftSummary, *, with_step: bool = False) -> None:
        self._assign(
            file_name=summary.file_name,
            user_type=summary.user_type,
            status=summary.status,
            notices=summary.notices,
            columns_used=summary.columns,
            count_all=summary.count_all,
            count_valid=summary.count_valid,
            count_errors=summary.count_errors,
            seats_total=summary.seats_total,
            seats_free=summary.seats_free,
            processing=summary.processing,
            file_rows=summary.file_rows,
            judged_percent=summary.judged_percent,
            queued=summary.queued,
            cancel_requested=summary.cancel_requested,
            problem=summary.problem,
            derived_columns=summary.derived_columns,
        )
        if with_step:
            self._assign(step=summary.step)

    def _load_draft(self, upload_id: str = "") -> DraftSummary | None:
        """The draft of this page's URL (or `upload_id`, one the server chose) in the admin's company."""
        admin = self.admin()
        self.not_found = False
        if admin is None:
            return None
        try:
            summary = draft_service.open_draft(admin.company_id, upload_id or self._id_from_url())
        except UploadNotFound:
            self.not_found, self.upload_id = True, ""
            return None
        self.upload_id = summary.id
        self._show_summary(summary, with_step=True)
        return summary

    def _company_id(self) -> int | None:
        """The signed-in admin's company, when this tab has a draft open."""
        admin = self.admin()
        if admin is None or not self.upload_id:
            return None
        return admin.company_id

    def _change_draft(self, change) -> bool:
        """Run a draft-changing service and show the counts it leaves; False when refused."""
        company_id = self._company_id()
        if company_id is None:
            return False
        try:
            self._show_summary(change(company_id))
        except (UploadNotFound, UploadBusy, ValueError) as exc:
            self.message = str(exc)
            return False
        return True

    @rx.event
    def go_to(self, step: str):
        company_id = self._company_id()
        if company_id is None or step not in drafts.WIZARD_STEPS:
            return
        try:
            draft_service.set_step(company_id, self.upload_id, step)
        except (UploadNotFound, UploadBusy) as exc:
            self.message = str(exc)
            return
        self.step = step
        arrive = ARRIVE_ON_STEP[WizardStep.SETTINGS if step == WizardStep.SETTINGS else WizardStep.REVIEW]
        return [rx.call_script("window.scrollTo(0, 0)"), arrive]

    def _refresh_summary(self) -> DraftSummary | None:
        """The draft as it is now (a worker may be changing it); None when it is gone."""
        company_id = self._company_id()
        if company_id is None:
            return None
        try:
            summary = draft_service.open_draft(company_id, self.upload_id)
        except UploadNotFound:
            return None
        self._show_summary(summary)
        return summary

    @rx.event
    def cancel_job(self):
        """Stop the running job: processing the file (it is dropped) or creating users (those
        created so far stay)."""
        admin = self.admin()
        company_id = self._company_id()
        if admin is None or company_id is None:
            return
        try:
            self._show_summary(draft_service.cancel(company_id, self.upload_id, actor=f"admin:{admin.user_id}"))
        except (UploadNotFound, UploadBusy) as exc:
            self.message = str(exc)

    @rx.event
    def check_again(self):
        """Re-read seats and taken emails, e.g. after a trip to the legacy dashboard."""
        self._change_draft(lambda company_id: draft_service.recheck(company_id, self.upload_id))

    def _report(self, fmt: str, stem: str):
        company_id = self._company_id()
        if company_id is None:
            return None
        try:
            report: Report = draft_service.rows_report(company_id, self.upload_id, fmt, stem=stem)
        except UploadNotFound:
            return None
        return rx.download(data=report.data, filename=report.filename, mime_type=report.mime_type)


# ---------------------------------------------------------------- shared components


STEPS = ("Template", "Upload", "Review", "Settings", "Create users")


def stepper(current: int) -> rx.Component:
    items = []
    for index, label in enumerate(STEPS):
        state = "current" if index == current else ("done" if index < current else "todo")
        items.append(
            rx.el.li(
                rx.badge(str(index + 1), variant="solid" if state != "todo" else "soft", radius="full"),
                rx.text(
                    label,
                    weight="bold" if state == "current" else "regular",
                    color_scheme="gray" if state == "todo" else None,
                ),
                display="flex",
                align_items="center",
                gap="0.5em",
                aria_current="step" if state == "current" else None,
            )
        )
    return rx.el.nav(
        rx.el.ol(*items, display="flex", gap="1.5em", flex_wrap="wrap", list_style="none", padding="0", margin="0"),
        aria_label="Bulk user upload steps",
    )


def error_callout(code: rx.Var, message: rx.Var) -> rx.Component:
    return rx.callout.root(
        rx.callout.icon(rx.icon("triangle-alert")),
        rx.callout.text(rx.text.strong(code), " ", message),
        color_scheme="red",
        role="alert",
        width="100%",
    )


def user_type_select(value: rx.Var, on_change) -> rx.Component:
    return rx.hstack(
        rx.el.label("User type for this batch", html_for="user-type", font_weight="500"),
        rx.select.root(
            rx.select.trigger(id="user-type", aria_label="User type for this batch"),
            rx.select.content(*[rx.select.item(t.capitalize(), value=t) for t in USER_TYPES]),
            value=value,
            on_change=on_change,
        ),
        align="center",
    )


def seats_banner() -> rx.Component:
    return rx.cond(
        DraftState.seats_short > 0,
        rx.callout.root(
            rx.callout.icon(rx.icon("users")),
            rx.vstack(
                rx.text(
                    rx.text.strong("Not enough seats. "),
                    "These users need ",
                    DraftState.count_valid,
                    " seats, but only ",
                    DraftState.seats_free,
                    " are free. Add at least ",
                    DraftState.seats_short,
                    " seats in the legacy dashboard, or remove users from the file.",
                ),
                rx.hstack(
                    rx.button(
                        rx.link(
                            rx.icon("external-link"),
                            "Go to legacy dashboard",
                            href=DraftState.legacy_dashboard_url,
                            target="_top",
                            id="legacy-dashboard-link",
                        ),
                        as_child=True,
                        size="2",
                    ),
                    rx.button(
                        rx.icon("refresh-cw"), "Check again", variant="soft", size="2", on_click=DraftState.check_again
                    ),
                ),
                spacing="2",
            ),
            color_scheme="amber",
            role="alert",
            width="100%",
        ),
    )


def counts_bar() -> rx.Component:
    return rx.hstack(
        rx.badge("All rows: ", DraftState.count_all, size="2", variant="soft", color_scheme="gray", high_contrast=True),
        rx.badge("Valid: ", DraftState.count_valid, size="2", variant="soft", color_scheme="green", high_contrast=True),
        rx.badge(
            "With errors: ", DraftState.count_errors, size="2", variant="soft", color_scheme="red", high_contrast=True
        ),
        rx.badge(
            "Seats free: ",
            DraftState.seats_free,
            " of ",
            DraftState.seats_total,
            size="2",
            variant="soft",
            high_contrast=True,
        ),
        wrap="wrap",
        aria_live="polite",
        id="draft-counts",
    )
