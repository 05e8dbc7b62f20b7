"""Step 5: Create users — the summary, Confirm, progress, and what came of it (with its undo).

Over 400 lines: one State runs the create and shows its result, and the result page now carries
the results file and the undo preview; splitting them would split that State. Next to split.
"""

from __future__ import annotations

import asyncio
import logging

import reflex as rx

from bulk_upload_app import embed, routes
from bulk_upload_app.errors import FileProblem, QueueMissing, UndoRefused, UploadBusy, UploadNotFound
from bulk_upload_app.services import batches, creating, history, notifications
from bulk_upload_app.settings import get_settings
from bulk_upload_app.statuses import UploadStatus, WizardStep, shown_status
from bulk_upload_app.ui.layout import named_table
from bulk_upload_app.ui.wizard.draft import DraftState

logger = logging.getLogger("bulk_upload")
WATCH_SECONDS = 0.5


class CreateState(DraftState):
    confirm_open: bool = False
    summary: dict[str, str] = {}
    creating: bool = False
    progress_done: int = 0
    progress_total: int = 0
    created_count: int = 0
    failed: list[dict[str, str]] = []
    failed_total: int = 0
    rows_purged_on: str = ""  # the retention purge deleted the rows that day: only counts are left
    # Undo: possible until undo_until; the preview (or, once undone, the result) in undo_*.
    undo_possible: bool = False
    undo_until: str = ""
    undo_refused: str = ""
    undo_open: bool = False
    undo_busy: bool = False
    undo_removed: int = 0
    undo_kept: list[dict[str, str]] = []
    undo_kept_total: int = 0
    _watching_create: bool = False
    notification: str = ""  # what became of the email about this upload's end

    @rx.var
    def progress_percent(self) -> int:
        return int(100 * self.progress_done / self.progress_total) if self.progress_total else 0

    @rx.event
    def open_confirm(self):
        company_id = self._company_id()
        if company_id is None:
            return
        try:
            summary, self.summary = batches.confirmation(company_id, self.upload_id)
            self._show_summary(summary)
        except (UploadNotFound, UploadBusy) as exc:
            self.message = str(exc)
            return CreateState.load_result
        if self.count_valid == 0:
            self.message = "There are no valid rows to create. Fix the rows with errors first."
            return
        self.confirm_open = self.seats_short == 0

    @rx.event
    def close_confirm(self):
        if self.admin() is not None:
            self.confirm_open = False

    @rx.event
    async def confirm(self):
        """Queue the create for a worker, then follow it (`watch_create`)."""
        admin = self.admin()
        company_id = self._company_id()
        if admin is None or company_id is None or self.creating:
            return
        if self.status == UploadStatus.DRAFT and self.seats_short > 0:
            self.confirm_open = False
            return
        self.confirm_open, self.message = False, ""
        if admin.email:  # whoever starts (or resumes) creating is told when it ends
            try:
                await asyncio.to_thread(notifications.notify_uploader, company_id, self.upload_id, [admin.email])
            except (UploadNotFound, notifications.BadAddress):
                logger.warning("bulk upload %s: the uploader's address was not stored", self.upload_id)
        try:
            summary = creating.start_create(
                company_id, self.upload_id, admin_user_id=admin.user_id, actor=f"admin:{admin.user_id}"
            )
        except FileProblem as exc:  # seats taken meanwhile: nothing queued
            self.message = exc.message
            return
        except (UploadNotFound, UploadBusy) as exc:
            self.message = str(exc)
            return CreateState.load_result
        except QueueMissing:
            self.message = "Users can't be created right now. Please try again in a few minutes."
            return
        self._show_summary(summary)
        self.creating, self.step = True, WizardStep.CREATING
        self.progress_done, self.progress_total = 0, self.count_valid
        return CreateState.watch_create

    @rx.event(background=True)
    async def watch_create(self):
        """Follow the worker creating the users until the batch is finished (or stopped)."""
        async with self:
            if self._watching_create:
                return
            self._watching_create = True
        try:
            while True:
                await asyncio.sleep(WATCH_SECONDS)
                async with self:
                    summary = self._refresh_summary()
                    if summary is None:
                        return
                    self.progress_done = summary.create_done
                    self.progress_total = summary.create_total or self.progress_total
                    if summary.status != UploadStatus.CREATING and not summary.queued:
                        break
            async with self:
                self.creating = False
                company_id, upload_id = self._company_id() or 0, self.upload_id
                self._show_result(company_id, upload_id)
                if self.status in (UploadStatus.DRAFT, UploadStatus.INTERRUPTED) and self.problem:
                    self.message = self.problem  # refused by the worker (seats taken, a group deleted)
                    self.step = WizardStep.SETTINGS if self.status == UploadStatus.DRAFT else self.step
                done = self.status == UploadStatus.DONE
                finished = self._finished_message()
                counts = {
                    "uploadId": self.upload_id,
                    "created": self.created_count,
                    "failed": self.failed_total,
                    "total": self.count_all,
                }
        finally:
            async with self:
                self._watching_create = False
        if finished is not None:
            notifications.deliver_soon()  # the email about its end, off this event
        if done:  # embed mode: tell the dashboard (postMessage to its configured origin only)
            yield rx.call_script(embed.post_to_parent("batch-created", **counts))
        if finished is not None:
            yield rx.call_script(embed.post_to_parent("batch-finished", **finished))
            # Show what became of the email once it went (a few seconds at most, usually).
            for _ in range(10):
                await asyncio.sleep(1)
                text = await asyncio.to_thread(notifications.notification_of, company_id, upload_id)
                async with self:
                    self.notification = text
                if not text.startswith("Email waiting"):
                    break

    def _finished_message(self) -> dict[str, object] | None:
        """The embed message of a batch that has ended (created, with failures, interrupted, cancelled)."""
        if self.status not in (UploadStatus.DONE, UploadStatus.INTERRUPTED, UploadStatus.CANCELLED):
            return None
        return {
            "uploadId": self.upload_id,
            "created": self.created_count,
            "failed": self.failed_total,
            "status": shown_status(self.status, self.failed_total),
        }

    @rx.event
    def load_result(self):
        company_id = self._company_id()
        if company_id is None:
            return
        was_creating = self.step == WizardStep.CREATING and not self.creating
        self._show_result(company_id, self.upload_id)
        finished = self._finished_message()
        if self.status == UploadStatus.CREATING or self.queued:
            self.creating = True
            return CreateState.watch_create  # back on a running create (another tab, later): follow it
        if was_creating and finished is not None:
            # Created elsewhere (another tab, a worker) and seen ending here: tell the host too.
            return rx.call_script(embed.post_to_parent("batch-finished", **finished))

    def _show_result(self, company_id: int, upload_id: str) -> None:
        found = creating.outcome(company_id, upload_id)
        self._show_summary(found.summary)
        running = found.summary.status == UploadStatus.CREATING or found.summary.queued
        self.step = WizardStep.CREATING if running else found.summary.step
        self.created_count, self.failed, self.failed_total = found.created, found.failed, found.failed_total
        self.rows_purged_on = found.rows_purged_on
        self.notification = notifications.notification_of(company_id, upload_id)
        self._show_undo(company_id, upload_id)

    def _show_undo(self, company_id: int, upload_id: str) -> None:
        state = history.undo_state(company_id, upload_id)
        self.undo_possible, self.undo_until, self.undo_refused = state.possible, state.until, state.refused
        if state.done is not None:
            self._show_plan(state.done)

    def _show_plan(self, plan) -> None:
        self.undo_removed, self.undo_kept_total = plan.removed, len(plan.kept)
        self.undo_kept = [k.as_dict() for k in plan.kept[: creating.SHOWN_FAILURES]]

    @rx.event
    def open_undo(self):
        company_id = self._company_id()
        if company_id is None:
            return
        try:
            self._show_plan(history.undo_preview(company_id, self.upload_id))
        except (UploadNotFound, UndoRefused) as exc:
            self.message, self.undo_possible = str(exc), False
            return
        self.undo_open = True

    @rx.event
    def close_undo(self):
        if self.admin() is not None:
            self.undo_open = False

    @rx.event
    async def confirm_undo(self):
        admin = self.admin()
        company_id = self._company_id()
        if admin is None or company_id is None or self.undo_busy:
            return
        self.undo_busy = True
        try:
            plan = await asyncio.to_thread(
                history.undo_upload,
                company_id,
                self.upload_id,
                actor=f"admin:{admin.user_id}",
                admin_user_id=admin.user_id,
            )
            self.message = ""
        except (UploadNotFound, UndoRefused) as exc:
            self.message = str(exc)
            plan = None
        finally:
            self.undo_busy, self.undo_open = False, False
        self._show_result(company_id, self.upload_id)
        if plan is not None:
            self._show_plan(plan)

    @rx.event
    def download_results(self, fmt: str):
        company_id = self._company_id()
        if company_id is None or fmt not in ("csv", "xlsx"):
            return None
        try:
            report = history.results_report(company_id, self.upload_id, fmt)
        except UploadNotFound:
            return None
        return rx.download(data=report.data, filename=report.filename, mime_type=report.mime_type)

    @rx.event
    def download_failed(self, fmt: str):
        return self._report(fmt, "failed-users")


# ---------------------------------------------------------------- components


def confirm_dialog() -> rx.Component:
    line = lambda label, value: rx.data_list.item(rx.data_list.label(label), rx.data_list.value(value))  # noqa: E731
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Create ", DraftState.count_valid, " users?"),
            rx.alert_dialog.description(
                "These users will be created as ",
                rx.text.strong(DraftState.user_type),
                " users. ",
                rx.cond(
                    DraftState.count_errors > 0,
                    rx.text.span(DraftState.count_errors, " rows with errors will be left out."),
                ),
            ),
            rx.data_list.root(
                line("Advanced settings", CreateState.summary["settings"]),
                line("Groups", CreateState.summary["groups"]),
                line("Outbound call numbers", CreateState.summary["numbers"]),
                line("User skills", CreateState.summary["skills"]),
                margin_y="1em",
            ),
            rx.hstack(
                rx.alert_dialog.cancel(
                    rx.button("Cancel", variant="soft", color_scheme="gray", on_click=CreateState.close_confirm)
                ),
                rx.alert_dialog.action(
                    rx.button("Confirm", on_click=CreateState.confirm, disabled=CreateState.creating)
                ),
                justify="end",
                spacing="3",
            ),
        ),
        open=CreateState.confirm_open,
    )


# ---------------------------------------------------------------- steps 5 and 6


def creating_step() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Creating users…", size="5", as_="h2"),
            rx.progress(value=CreateState.progress_percent, max=100, aria_label="Creating users", width="100%"),
            rx.text(
                CreateState.progress_done,
                " of ",
                CreateState.progress_total,
                " rows done. You can leave this page; the users keep being created.",
                role="status",
                aria_live="polite",
            ),
            rx.hstack(
                rx.button("Check progress", variant="soft", on_click=CreateState.load_result),
                rx.button(
                    "Cancel creating",
                    variant="soft",
                    color_scheme="red",
                    on_click=DraftState.cancel_job,
                    disabled=DraftState.cancel_requested,
                ),
                spacing="3",
            ),
            rx.cond(
                DraftState.queued,
                rx.text("Waiting for a free worker…", color_scheme="gray", size="2"),
            ),
            width="100%",
            spacing="3",
        ),
        width="100%",
    )


def undo_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Undo this upload?"),
            rx.alert_dialog.description(
                rx.text.strong(CreateState.undo_removed, " users will be removed"),
                rx.cond(
                    CreateState.undo_kept_total > 0,
                    rx.text.span(
                        "; ", CreateState.undo_kept_total, " are kept because they changed since they were created"
                    ),
                ),
                ". Their seats become free again. This can't be reversed.",
            ),
            _kept_list(),
            rx.hstack(
                rx.alert_dialog.cancel(
                    rx.button("Cancel", variant="soft", color_scheme="gray", on_click=CreateState.close_undo)
                ),
                rx.alert_dialog.action(
                    rx.button(
                        "Remove users",
                        color_scheme="red",
                        high_contrast=True,
                        on_click=CreateState.confirm_undo,
                        loading=CreateState.undo_busy,
                    )
                ),
                justify="end",
                spacing="3",
                margin_top="1em",
            ),
        ),
        open=CreateState.undo_open,
    )


def _kept_list() -> rx.Component:
    return rx.cond(
        CreateState.undo_kept_total > 0,
        named_table(
            "Users kept",
            rx.table.header(rx.table.row(rx.table.column_header_cell("Kept user"), rx.table.column_header_cell("Why"))),
            rx.table.body(
                rx.foreach(
                    CreateState.undo_kept,
                    lambda k: rx.table.row(rx.table.row_header_cell(k["email"]), rx.table.cell(k["reason"])),
                )
            ),
            variant="surface",
            size="1",
            width="100%",
            margin_top="1em",
        ),
    )


def _undo_section() -> rx.Component:
    undone = (DraftState.status == UploadStatus.UNDONE) | (DraftState.status == UploadStatus.PARTLY_UNDONE)
    return rx.fragment(
        rx.cond(
            undone,
            rx.callout.root(
                rx.callout.icon(rx.icon("undo-2")),
                rx.vstack(
                    rx.text(
                        rx.text.strong("This upload was undone. "),
                        CreateState.undo_removed,
                        " users were removed",
                        rx.cond(
                            CreateState.undo_kept_total > 0,
                            rx.text.span(
                                "; ",
                                CreateState.undo_kept_total,
                                " were kept because they changed since they were created",
                            ),
                        ),
                        ".",
                    ),
                    _kept_list(),
                    width="100%",
                ),
                color_scheme="gray",
                role="status",
                width="100%",
                id="undo-result",
            ),
        ),
        rx.cond(
            CreateState.undo_possible,
            rx.hstack(
                rx.text(
                    "Added the wrong users? You can undo this upload until ",
                    CreateState.undo_until,
                    ": the users it created are removed again, except those changed since.",
                    color_scheme="gray",
                ),
                rx.button(
                    rx.icon("undo-2"),
                    "Undo this upload",
                    variant="soft",
                    color_scheme="red",
                    high_contrast=True,
                    on_click=CreateState.open_undo,
                ),
                width="100%",
                align="center",
                wrap="wrap",
            ),
        ),
        rx.cond(
            (DraftState.status == UploadStatus.DONE) & (CreateState.undo_refused != ""),
            rx.text(CreateState.undo_refused, color_scheme="gray", id="undo-refused"),
        ),
        undo_dialog(),
    )


def _email_notice() -> rx.Component:
    """What became of the email about the batch's end; in demo mode, where to read it."""
    demo_link = (
        rx.link("Read the email in the demo mail box", href=routes.DEMO_MAIL, id="demo-mail-link")
        if get_settings().demo
        else rx.fragment()
    )
    return rx.el.div(
        rx.cond(
            CreateState.notification != "",
            rx.hstack(
                rx.icon("mail", size=16, aria_hidden="true"),
                rx.text(CreateState.notification, id="email-notification"),
                demo_link,
                align="center",
                wrap="wrap",
            ),
        ),
        role="status",
        aria_live="polite",
        style={"width": "100%"},
    )


def result_step() -> rx.Component:
    return rx.vstack(
        rx.cond(
            DraftState.status == UploadStatus.INTERRUPTED,
            rx.callout.root(
                rx.callout.icon(rx.icon("triangle-alert")),
                rx.vstack(
                    rx.text(
                        "Creating users stopped before the end. The users added so far are kept; "
                        "Resume creates the rest, nobody twice."
                    ),
                    rx.button(rx.icon("play"), "Resume", on_click=CreateState.confirm, loading=CreateState.creating),
                ),
                color_scheme="amber",
                role="alert",
                width="100%",
            ),
        ),
        rx.cond(
            DraftState.status == UploadStatus.ABANDONED,
            rx.callout(
                "Creating users stopped and was not resumed, so the file's rows were deleted. The users added "
                "before it stopped are kept; upload the file again to add the rest.",
                icon="triangle-alert",
                color_scheme="amber",
                role="alert",
                width="100%",
            ),
        ),
        rx.cond(
            DraftState.status == UploadStatus.CANCELLED,
            rx.callout(
                rx.cond(
                    CreateState.created_count > 0,
                    "This upload was cancelled. The users added before it stopped are kept.",
                    "This upload was cancelled. Nobody was created.",
                ),
                icon="circle-stop",
                color_scheme="gray",
                role="status",
                width="100%",
            ),
        ),
        rx.callout.root(
            rx.callout.icon(rx.icon("circle-check")),
            rx.callout.text(rx.text.strong(CreateState.created_count, " users added.")),
            # High contrast: bold green-11 text on the green callout fails WCAG AA (axe, serious).
            color_scheme="green",
            high_contrast=True,
            role="status",
            width="100%",
            size="3",
        ),
        _email_notice(),
        rx.cond(
            DraftState.columns_used.length() > 0,
            rx.vstack(
                rx.heading("Columns used", size="3", as_="h2"),
                rx.el.ul(
                    rx.foreach(DraftState.columns_used, lambda line: rx.el.li(rx.text(line))), padding_left="1.2em"
                ),
                spacing="1",
                id="columns-used",
            ),
        ),
        rx.cond(
            CreateState.rows_purged_on != "",
            rx.text(
                rx.cond(
                    CreateState.failed_total > 0,
                    rx.text.span(
                        CreateState.failed_total,
                        rx.cond(CreateState.failed_total == 1, " user", " users"),
                        " could not be created. ",
                    ),
                ),
                "The uploaded rows were deleted on ",
                CreateState.rows_purged_on,
                " (personal data is kept for a limited time), so they can no longer be listed or downloaded.",
                color_scheme="gray",
            ),
        ),
        rx.cond(
            (CreateState.failed_total > 0) & (CreateState.rows_purged_on == ""),
            rx.vstack(
                rx.hstack(
                    rx.heading(
                        CreateState.failed_total,
                        rx.cond(CreateState.failed_total == 1, " user", " users"),
                        " could not be created",
                        size="4",
                        as_="h2",
                    ),
                    rx.spacer(),
                    rx.button(
                        rx.icon("download"),
                        "Download failed rows (Excel)",
                        variant="soft",
                        on_click=CreateState.download_failed("xlsx"),
                    ),
                    rx.button(
                        rx.icon("download"),
                        "Download failed rows (CSV)",
                        variant="soft",
                        on_click=CreateState.download_failed("csv"),
                    ),
                    width="100%",
                    align="center",
                    wrap="wrap",
                ),
                rx.text("Fix these rows in the downloaded file and upload it again.", color_scheme="gray"),
                named_table(
                    "Users that failed",
                    rx.table.header(
                        rx.table.row(
                            *[rx.table.column_header_cell(t) for t in ("Row", "Email", "Error code", "How to fix it")]
                        )
                    ),
                    rx.table.body(
                        rx.foreach(
                            CreateState.failed,
                            lambda f: rx.table.row(
                                rx.table.row_header_cell(f["row"]),
                                rx.table.cell(f["email"]),
                                rx.table.cell(rx.code(f["code"])),
                                rx.table.cell(f["message"]),
                            ),
                        )
                    ),
                    variant="surface",
                    size="1",
                    width="100%",
                ),
                rx.cond(
                    CreateState.failed_total > creating.SHOWN_FAILURES,
                    rx.text(f"The first {creating.SHOWN_FAILURES} are shown; the download has all of them."),
                ),
                width="100%",
                spacing="3",
            ),
        ),
        rx.cond(
            CreateState.rows_purged_on == "",
            rx.hstack(
                rx.button(
                    rx.icon("download"),
                    "Download results (Excel)",
                    variant="soft",
                    on_click=CreateState.download_results("xlsx"),
                ),
                rx.button(
                    rx.icon("download"),
                    "Download results (CSV)",
                    variant="soft",
                    on_click=CreateState.download_results("csv"),
                ),
                rx.text("Every row with what became of it.", color_scheme="gray"),
                align="center",
                wrap="wrap",
            ),
        ),
        _undo_section(),
        rx.hstack(
            rx.button(rx.link("View users", href=routes.USERS), as_child=True, size="3"),
            rx.button(rx.link("All bulk uploads", href=routes.HISTORY), as_child=True, size="3", variant="soft"),
            rx.button(
                rx.link("Upload another file", href=f"{routes.BULK_UPLOAD}?step={WizardStep.UPLOAD}"),
                as_child=True,
                size="3",
                variant="soft",
            ),
        ),
        width="100%",
        spacing="4",
    )
