"""The Match columns step: each column of the file, a few of its values, and which of our fields
it fills (pre-filled with our guess). Shown only for files whose titles are not the template's."""

from __future__ import annotations

import reflex as rx

from bulk_upload_app.errors import FileProblem, UploadBusy, UploadNotFound
from bulk_upload_app.files.schema import COLUMNS
from bulk_upload_app.services import drafts as draft_service
from bulk_upload_app.statuses import WizardStep
from bulk_upload_app.ui.layout import named_table
from bulk_upload_app.ui.wizard.draft import ARRIVE_ON_STEP, DraftState, error_callout

IGNORE = "ignore"  # the select's value for "don't import" (a Radix select item can't be "")
_LABELS = {c.name: c.label for c in COLUMNS}


class MatchState(DraftState):
    file_columns: list[dict[str, str]] = []  # index, title, samples, field
    missing_labels: str = ""  # required fields neither matched nor derivable, as labels
    match_error_code: str = ""
    match_error: str = ""
    confirming: bool = False
    _derivation_roles: dict[int, str] = {}  # read with the columns: a select change reads no table

    def _check(self) -> None:
        mapping = {int(c["index"]): c["field"] for c in self.file_columns if c["field"] != IGNORE}
        missing = draft_service.columns_missing(self._derivation_roles, mapping)
        self.missing_labels = ", ".join(_LABELS[name] for name in missing)

    @rx.var
    def twice_labels(self) -> str:
        fields = [c["field"] for c in self.file_columns if c["field"] != IGNORE]
        return ", ".join(_LABELS[f] for f in dict.fromkeys(fields) if fields.count(f) > 1)

    @rx.event
    def load_match(self):
        company_id = self._company_id()
        if company_id is None:
            return
        self.match_error_code = self.match_error = ""
        try:
            found = draft_service.columns_to_match(company_id, self.upload_id)
        except (UploadNotFound, UploadBusy):
            self.file_columns = []
            return
        self.file_columns = [
            {
                "index": str(c.index),
                "title": c.title,
                "samples": " · ".join(c.samples) or "(empty)",
                "field": c.field or IGNORE,
            }
            for c in found.columns
        ]
        self._derivation_roles = found.derivation_roles
        self._check()

    @rx.event
    def choose(self, index: str, value: str):
        if value != IGNORE and value not in _LABELS:
            return
        self.file_columns = [{**c, "field": value} if c["index"] == str(index) else c for c in self.file_columns]
        self._check()

    @rx.event
    def confirm(self):
        admin = self.admin()
        company_id = self._company_id()
        if admin is None or company_id is None or self.confirming:
            return
        mapping = {int(c["index"]): c["field"] for c in self.file_columns if c["field"] != IGNORE}
        self.match_error_code = self.match_error = ""
        try:
            summary = draft_service.confirm_columns(company_id, admin.user_id, self.upload_id, mapping)
        except FileProblem as problem:
            self.match_error_code, self.match_error = problem.code.value, problem.message
            return
        except (UploadNotFound, UploadBusy, ValueError) as exc:
            self.match_error_code, self.match_error = "UPLOAD_CLOSED", str(exc)
            return
        self._show_summary(summary, with_step=True)
        return [rx.call_script("window.scrollTo(0, 0)"), ARRIVE_ON_STEP[WizardStep.REVIEW]]


def _field_select(column: rx.Var) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(aria_label="Import “" + column["title"].to(str) + "” as", width="100%"),
        rx.select.content(
            *[rx.select.item(f"{c.label}{' (required)' if c.required else ''}", value=c.name) for c in COLUMNS],
            rx.select.separator(),
            rx.select.item("Don't import", value=IGNORE),
        ),
        value=column["field"].to(str),
        on_change=lambda value: MatchState.choose(column["index"].to(str), value),
    )


def match_step() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Match columns", size="5", as_="h2"),
            rx.text(
                "Your file's column titles are not the template's. Tell us which column holds what: "
                "we filled in our best guess. First name, last name and email are required; the country "
                "prefix is too, unless we can tell it from the phone numbers or a country column."
            ),
            named_table(
                "Columns of your file",
                rx.table.header(
                    rx.table.row(
                        rx.table.column_header_cell("Column in your file"),
                        rx.table.column_header_cell("Sample values"),
                        rx.table.column_header_cell("Import as"),
                    )
                ),
                rx.table.body(
                    rx.foreach(
                        MatchState.file_columns,
                        lambda column: rx.table.row(
                            rx.table.row_header_cell(column["title"]),
                            rx.table.cell(rx.text(column["samples"], size="2", color_scheme="gray")),
                            rx.table.cell(_field_select(column), min_width="14em"),
                        ),
                    )
                ),
                variant="surface",
                size="1",
                width="100%",
            ),
            rx.box(
                rx.cond(
                    MatchState.twice_labels != "",
                    rx.callout(
                        rx.text("Each field can be matched to one column only: ", MatchState.twice_labels, "."),
                        icon="triangle-alert",
                        color_scheme="amber",
                    ),
                ),
                rx.cond(
                    MatchState.missing_labels != "",
                    rx.callout(
                        rx.text("Required, not matched yet: ", MatchState.missing_labels, "."),
                        icon="info",
                        color_scheme="gray",
                        high_contrast=True,
                    ),
                ),
                role="status",
                aria_live="polite",
                width="100%",
            ),
            rx.cond(MatchState.match_error != "", error_callout(MatchState.match_error_code, MatchState.match_error)),
            rx.hstack(
                rx.spacer(),
                rx.button(
                    "Continue",
                    size="3",
                    on_click=MatchState.confirm,
                    disabled=(MatchState.twice_labels != "") | (MatchState.missing_labels != ""),
                ),
                width="100%",
            ),
            spacing="4",
            width="100%",
        ),
        width="100%",
    )
