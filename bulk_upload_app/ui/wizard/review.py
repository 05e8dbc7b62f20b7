"""Step 3: every row of the file, checked; fixed in place, a page at a time."""

from __future__ import annotations

import asyncio

import reflex as rx

from bulk_upload_app import routes
from bulk_upload_app.errors import UploadNotFound
from bulk_upload_app.files.schema import COLUMN_NAMES, COLUMNS
from bulk_upload_app.services import drafts as draft_service
from bulk_upload_app.statuses import UploadStatus, WizardStep
from bulk_upload_app.ui.layout import named_table
from bulk_upload_app.ui.pager import PagedMixin, pager
from bulk_upload_app.ui.session import as_id
from bulk_upload_app.ui.wizard.create import CreateState
from bulk_upload_app.ui.wizard.draft import ARRIVE_ON_STEP, DraftState, counts_bar, seats_banner
from bulk_upload_app.ui.wizard.match import MatchState
from bulk_upload_app.ui.wizard.settings import SettingsState
from bulk_upload_app.uploads import drafts


def _flat_row(view: drafts.RowView) -> dict[str, str]:
    """A grid row as plain strings: each cell's value, and its error as '<CODE>: message'."""
    row = {"id": str(view.id), "row": str(view.row), **view.values}
    for column in ("", *COLUMN_NAMES):
        error = view.errors.get(column)
        row[f"{column or 'row'}_error"] = f"{error['code']}: {error['message']}" if error else ""
    return row


WATCH_SECONDS = 0.5  # how often a page following a running job looks at the database


class ReviewState(PagedMixin, DraftState):
    rows: list[dict[str, str]] = []
    only_errors: bool = False
    search: str = ""
    more_matches: bool = False  # the search matched more rows than it counted
    _watching: bool = False

    @rx.event
    def load(self):
        upload = self._load_draft()
        if upload is None:
            return
        self.page_index, self.only_errors, self.search = 0, False, ""
        if self.step == WizardStep.MATCH:
            return MatchState.load_match
        self._load_page()
        if self.processing:
            return ReviewState.watch_processing
        if self.step == WizardStep.SETTINGS:
            return SettingsState.load_settings
        if self.step in (WizardStep.RESULT, WizardStep.CREATING):
            return CreateState.load_result

    def preload(self, upload_id: str) -> None:
        """The draft's counts and first page, set before the browser moves to the draft's page so
        that page shows them at once (its on_load, `load`, then refreshes them)."""
        if self._load_draft(upload_id) is not None and self.step == WizardStep.REVIEW:
            self.page_index, self.only_errors, self.search = 0, False, ""
            self._load_page()

    @rx.event(background=True)
    async def watch_processing(self):
        """Follow the worker judging the file: the counts and the grid grow until every row is judged."""
        async with self:
            if self._watching or not self.processing:
                return
            self._watching = True
        try:
            while True:
                await asyncio.sleep(WATCH_SECONDS)
                async with self:
                    summary = self._refresh_summary()
                    if summary is None:
                        return
                    self._load_page()
                    if not summary.processing:
                        break
        finally:
            async with self:
                self._watching = False
        return ReviewState.load  # judged (or held for matching, refused, cancelled): show that step

    @rx.event
    def reload_rows(self):
        self._load_page()

    def _load_page(self) -> None:
        company_id = self._company_id()
        if company_id is None:
            return
        try:
            found = draft_service.rows_page(
                company_id,
                self.upload_id,
                only_errors=self.only_errors,
                search=self.search,
                offset=self.page_index * self.PAGE_SIZE,
                limit=self.PAGE_SIZE,
            )
        except UploadNotFound:
            return
        self._assign(rows=[_flat_row(v) for v in found.rows], total_items=found.total, more_matches=found.more)

    @rx.event
    def set_only_errors(self, value: bool):
        self.only_errors, self.page_index = bool(value), 0
        self._load_page()

    @rx.event
    def set_search(self, value: str):
        self.search, self.page_index = str(value)[:200], 0
        self._load_page()

    @rx.event
    def edit_cell(self, row_id: str, column: str, value: str):
        current = next((r for r in self.rows if r["id"] == str(row_id)), None)
        rid = as_id(row_id)
        if column not in COLUMN_NAMES or current is None or rid is None or current[column] == str(value).strip():
            return
        if self._change_draft(
            lambda company_id: draft_service.edit_cell(company_id, self.upload_id, rid, column, str(value))
        ):
            self._load_page()

    @rx.event
    def remove_row(self, row_id: str):
        rid = as_id(row_id)
        if rid is None:
            return
        if self._change_draft(lambda company_id: draft_service.remove_row(company_id, self.upload_id, rid)):
            if self.page_index > 0 and self.page_index * self.PAGE_SIZE >= self.total_items - 1:
                self.page_index -= 1
            self._load_page()

    @rx.event
    def download_errors(self, fmt: str):
        return self._report(fmt, "rows-with-errors")


# ---------------------------------------------------------------- components


DERIVED_HINT_ID = "derived-hint"


ARRIVE_ON_STEP[WizardStep.REVIEW] = ReviewState.reload_rows


def _cell(row: rx.Var, column: str) -> rx.Component:
    error = row[f"{column}_error"]
    error_id = f"err-{column}-" + row["id"]
    derived = DraftState.derived_columns.contains(column) & (row[column] != "")
    field = rx.input(
        default_value=row[column],
        read_only=DraftState.processing,  # rows are fixed once every row is judged
        key=row["id"] + "-" + column + "-" + row[column],
        on_blur=lambda value: ReviewState.edit_cell(row["id"], column, value),
        aria_label=f"{column} of row " + row["row"],
        aria_invalid=rx.cond(error != "", "true", "false"),
        aria_describedby=rx.cond(error != "", error_id, rx.cond(derived, DERIVED_HINT_ID, "")),
        title=rx.cond(derived, "Derived from the file's other columns: check it", ""),
        color_scheme=rx.cond(error != "", "red", rx.cond(derived, "blue", "gray")),
        variant=rx.cond(error != "", "soft", rx.cond(derived, "soft", "surface")),
        size="1",
        width="100%",
    )
    return rx.table.cell(
        rx.cond(
            error != "",
            rx.tooltip(rx.box(field, rx.el.span(error, id=error_id, class_name="sr-only")), content=error),
            field,
        ),
        min_width="9em",
    )


def _grid_row(row: rx.Var) -> rx.Component:
    # Keyed by the row's id: when a fixed or removed row leaves the page, React moves the rows
    # after it instead of rebuilding every one of their inputs.
    return rx.table.row(
        rx.table.row_header_cell(row["row"]),
        *[_cell(row, c.name) for c in COLUMNS],
        rx.table.cell(
            rx.hstack(
                rx.cond(
                    row["row_error"] != "",
                    rx.tooltip(
                        rx.icon("circle-alert", color="var(--red-9)", aria_label=row["row_error"]),
                        content=row["row_error"],
                    ),
                ),
                rx.icon_button(
                    rx.icon("trash-2"),
                    variant="ghost",
                    color_scheme="red",
                    size="1",
                    on_click=ReviewState.remove_row(row["id"]),
                    disabled=DraftState.processing,
                    aria_label="Remove row " + row["row"],
                    title="Remove row " + row["row"],
                ),
            )
        ),
        key=row["id"],
    )


def _column_header(column: str) -> rx.Component:
    return rx.table.column_header_cell(
        column,
        rx.cond(
            DraftState.derived_columns.contains(column),
            rx.badge("derived", variant="soft", color_scheme="blue", high_contrast=True, margin_left="0.4em"),
        ),
    )


def review_grid() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.hstack(
                rx.switch(checked=ReviewState.only_errors, on_change=ReviewState.set_only_errors, id="only-errors"),
                rx.el.label("Only rows with errors", html_for="only-errors"),
                align="center",
            ),
            rx.spacer(),
            rx.debounce_input(
                rx.input(
                    rx.input.slot(rx.icon("search")),
                    placeholder="Search rows",
                    value=ReviewState.search,
                    on_change=ReviewState.set_search,
                    aria_label="Search rows",
                    type="search",
                ),
                debounce_timeout=150,
            ),
            width="100%",
            align="center",
            wrap="wrap",
        ),
        rx.cond(
            DraftState.derived_columns.length() > 0,
            rx.text(
                "Blue cells were derived from the file's other columns (see the notes above): check them; "
                "they can be edited like any other.",
                id=DERIVED_HINT_ID,
                size="2",
                color_scheme="gray",
            ),
        ),
        rx.box(
            named_table(
                "Rows of the file",
                rx.table.header(
                    rx.table.row(
                        rx.table.column_header_cell("Row"),
                        *[_column_header(c.name) for c in COLUMNS],
                        rx.table.column_header_cell(rx.el.span("Actions", class_name="sr-only")),
                    )
                ),
                rx.table.body(rx.foreach(ReviewState.rows, _grid_row)),
                variant="surface",
                size="1",
                width="100%",
            ),
            overflow_x="auto",
            width="100%",
        ),
        rx.cond(ReviewState.total_items == 0, rx.text("No rows match.", color_scheme="gray")),
        pager(
            ReviewState.page_index,
            ReviewState.page_count,
            ReviewState.previous_page,
            ReviewState.next_page,
            " · ",
            ReviewState.total_items,
            rx.cond(ReviewState.more_matches, "+ rows", " rows"),
        ),
        width="100%",
        spacing="3",
    )


def processing_progress() -> rx.Component:
    """While a worker judges the file: how far it got; the rows shown are final already."""
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("Checking rows…", size="3", as_="h3"),
                rx.spacer(),
                rx.button(
                    "Cancel processing",
                    variant="soft",
                    color_scheme="red",
                    size="1",
                    on_click=DraftState.cancel_job,
                    disabled=DraftState.cancel_requested,
                ),
                width="100%",
                align="center",
            ),
            rx.progress(value=DraftState.judged_percent, max=100, aria_label="Rows checked", width="100%"),
            rx.text(
                rx.cond(
                    DraftState.queued,
                    "Waiting for a free worker to read the file…",
                    rx.text.span(
                        DraftState.count_all,
                        " of ",
                        DraftState.file_rows,
                        " rows checked. Counts, filters and search cover the rows checked so far; "
                        "you can leave this page and come back.",
                    ),
                ),
                role="status",
                aria_live="polite",
                size="2",
            ),
            width="100%",
            spacing="2",
        ),
        width="100%",
    )


def rejected_callout() -> rx.Component:
    return rx.callout.root(
        rx.callout.icon(rx.icon("triangle-alert")),
        rx.callout.text(
            "This file could not be used: ",
            DraftState.problem,
            " ",
            rx.link("Upload another file", href=f"{routes.BULK_UPLOAD}?step={WizardStep.UPLOAD}"),
        ),
        color_scheme="red",
        role="alert",
        width="100%",
    )


def review_step() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.heading("Review", size="5", as_="h2"),
            rx.text(DraftState.file_name, color_scheme="gray"),
            rx.spacer(),
            rx.button(
                rx.link(
                    rx.icon("file-up"), "Replace file", href=f"{routes.BULK_UPLOAD}?replace=" + DraftState.upload_id
                ),
                as_child=True,
                variant="soft",
            ),
            rx.cond(
                DraftState.count_errors > 0,
                rx.menu.root(
                    rx.menu.trigger(rx.button(rx.icon("download"), "Download rows with errors", variant="soft")),
                    rx.menu.content(
                        rx.menu.item("Excel (.xlsx)", on_click=ReviewState.download_errors("xlsx")),
                        rx.menu.item("CSV", on_click=ReviewState.download_errors("csv")),
                    ),
                ),
            ),
            width="100%",
            align="center",
            wrap="wrap",
        ),
        rx.foreach(DraftState.notices, lambda n: rx.callout(n, icon="info", size="1", width="100%")),
        rx.cond(DraftState.processing, processing_progress()),
        rx.cond(DraftState.status == UploadStatus.REJECTED, rejected_callout()),
        counts_bar(),
        seats_banner(),
        review_grid(),
        rx.hstack(
            rx.cond(
                DraftState.processing,
                rx.text("Continue is available once every row is checked.", color_scheme="gray", size="2"),
            ),
            rx.spacer(),
            rx.button(
                "Continue",
                size="3",
                on_click=DraftState.go_to(WizardStep.SETTINGS),
                disabled=(DraftState.count_valid == 0) | DraftState.processing,
            ),
            width="100%",
            align="center",
        ),
        width="100%",
        spacing="4",
    )


# ---------------------------------------------------------------- step 4: settings
