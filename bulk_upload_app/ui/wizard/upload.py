"""Steps 1 and 2: the template, and receiving a file that becomes a draft."""

from __future__ import annotations

import asyncio
import logging

import reflex as rx

from bulk_upload_app import routes
from bulk_upload_app.errors import ErrorCode, FileProblem, QueueMissing, UploadBusy, UploadNotFound, message_for
from bulk_upload_app.files.schema import COLUMNS, DEFAULT_USER_TYPE, USER_TYPES
from bulk_upload_app.files.template import template_bytes
from bulk_upload_app.services import drafts as draft_service
from bulk_upload_app.settings import get_settings
from bulk_upload_app.statuses import UploadStatus, WizardStep
from bulk_upload_app.ui.layout import admins_only, named_table, page_frame
from bulk_upload_app.ui.session import SessionState
from bulk_upload_app.ui.wizard.draft import error_callout, stepper, user_type_select
from bulk_upload_app.ui.wizard.review import ReviewState
from bulk_upload_app.uploaded_files import new_upload_path, receive_to_disk

logger = logging.getLogger("bulk_upload")
UPLOAD_ID = "users_file"
FIRST_VERDICT_SECONDS = 10.0
VERDICT_POLL_SECONDS = 0.05  # one small read of the upload's row: its first rows show within this
ACCEPTED = ".csv, .tsv, .txt, .xlsx, .xls, .ods"


class UploadState(SessionState):
    step: str = WizardStep.TEMPLATE
    user_type: str = DEFAULT_USER_TYPE
    replacing: str = ""
    ask_columns: bool = False
    uploading: bool = False
    upload_percent: int = 0
    processing: bool = False
    phase: str = ""
    phase_percent: int = 0
    error_code: str = ""
    error_message: str = ""

    @rx.var
    def max_file_mb(self) -> int:
        return get_settings().max_file_bytes // (1024 * 1024)

    @rx.event
    def start(self):
        admin = self.admin()
        self.error_code = self.error_message = ""
        self.uploading = self.processing = False
        self.replacing = ""
        if admin is None:
            return
        params = self.router.url.query_parameters
        replace = params.get("replace", "")
        if replace and (draft := draft_service.replaceable_draft(admin.company_id, replace)) is not None:
            self.replacing, self.user_type = draft.id, draft.user_type
        self.step = (
            WizardStep.UPLOAD if self.replacing or params.get("step") == WizardStep.UPLOAD else WizardStep.TEMPLATE
        )

    @rx.event
    def download_template(self, fmt: str):
        if self.admin() is None or fmt not in ("csv", "xlsx"):
            return
        mime = "text/csv" if fmt == "csv" else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return rx.download(data=template_bytes(fmt), filename=f"bulk-user-upload-template.{fmt}", mime_type=mime)

    @rx.event
    def go_to_upload(self):
        self.step = WizardStep.UPLOAD

    @rx.event
    def go_to_template(self):
        self.step = WizardStep.TEMPLATE

    @rx.event
    def set_user_type(self, value: str):
        if value in USER_TYPES:
            self.user_type = value

    @rx.event
    def set_ask_columns(self, value: bool):
        self.ask_columns = bool(value)

    @rx.event
    def upload_progress(self, progress: dict):
        self.upload_percent = int(float(progress.get("progress", 0) or 0) * 100)

    @rx.event
    def rejected(self, files: list[dict]):
        self.error_code = ErrorCode.UNSUPPORTED_FILE.value
        self.error_message = message_for(
            ErrorCode.UNSUPPORTED_FILE,
            reason=f"only one {ACCEPTED} file of up to {self.max_file_mb} MB can be uploaded",
        )

    @rx.event(background=True)
    async def receive_file(self, chunks: rx.UploadChunkIterator):
        async with self:
            admin = self.admin()
            if admin is None or self.processing:
                return
            self.uploading, self.processing, self.error_code, self.error_message = True, True, "", ""
            self.phase, self.phase_percent = "Uploading", 0
            company_id, user_id, user_type, replacing = admin.company_id, admin.user_id, self.user_type, self.replacing
            ask_columns = self.ask_columns
        settings = get_settings()
        path = new_upload_path(settings.storage_dir)
        file_name = ""
        try:
            file_name = await receive_to_disk(chunks, path, settings.max_file_bytes)
            async with self:
                self.uploading, self.phase, self.phase_percent = False, "Waiting for a worker to read the file", 5
            upload_id = await asyncio.to_thread(
                draft_service.receive_file,
                company_id,
                user_id,
                path=path,
                file_name=file_name,
                user_type=user_type,
                replace_upload_id=replacing or None,
                ask_columns=ask_columns,
                actor=f"admin:{user_id}",
            )
            # A worker reads the file now. Its first rows, or why it can't be used, come within a
            # moment: wait for them here, so a refused file is explained on this step.
            refused = await self._first_verdict(company_id, upload_id, bool(replacing))
            if refused is not None:
                raise refused
        except FileProblem as problem:
            async with self:
                self.processing = self.uploading = False
                self.error_code, self.error_message = problem.code.value, problem.message
            return rx.clear_selected_files(UPLOAD_ID)
        except asyncio.CancelledError:
            # The request ended under us (the browser went away, or the body passed the size
            # limit and http_guard cut it off): leave the page ready for another try.
            async with self:
                self.processing = self.uploading = False
                self.error_code = "UPLOAD_INTERRUPTED"
                self.error_message = (
                    "The upload did not finish. Nothing was saved: choose the file and upload it again."
                )
            raise
        except (UploadNotFound, UploadBusy) as exc:
            async with self:
                self.processing = self.uploading = False
                self.error_code, self.error_message = "UPLOAD_CLOSED", str(exc)
            return
        except QueueMissing:
            logger.exception("bulk upload: no job queue to process %s", file_name)
            async with self:
                self.processing = self.uploading = False
                self.error_code = "SERVICE_UNAVAILABLE"
                self.error_message = "Files can't be processed right now. Please try again in a few minutes."
            return
        except Exception:
            logger.exception("bulk upload: reading %s for company %s failed", file_name, company_id)
            async with self:
                self.processing = self.uploading = False
                self.error_code = ErrorCode.UNSUPPORTED_FILE.value
                self.error_message = message_for(
                    ErrorCode.UNSUPPORTED_FILE, reason="its content could not be understood"
                )
            return
        finally:
            path.unlink(missing_ok=True)
        async with self:
            self.processing = False
            self.phase, self.phase_percent = "Done", 100
            (await self.get_state(ReviewState)).preload(upload_id)  # its page shows the rows at once
        return rx.redirect(routes.draft(upload_id))

    async def _first_verdict(self, company_id: int, upload_id: str, replacing: bool) -> FileProblem | None:
        """Wait until the worker judged the first rows, held the file for matching, or refused it
        (that FileProblem); at most FIRST_VERDICT_SECONDS, then the draft page shows the rest."""
        reading_shown = False
        for _ in range(int(FIRST_VERDICT_SECONDS / VERDICT_POLL_SECONDS)):
            progress = await asyncio.to_thread(draft_service.progress, company_id, upload_id)
            if progress.status == UploadStatus.REJECTED or (replacing and progress.problem and not progress.processing):
                code, _, message = progress.problem.partition(": ")
                return FileProblem.from_stored(code, message)
            if not progress.processing or progress.count_all > 0:
                return None
            if not progress.queued and not reading_shown:
                reading_shown = True
                async with self:
                    self.phase, self.phase_percent = "Reading the file", 20
            await asyncio.sleep(VERDICT_POLL_SECONDS)
        return None


# ---------------------------------------------------------------- components
# ---------------------------------------------------------------- steps 1 and 2


def template_step() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Download template", size="5", as_="h2"),
            rx.text(
                "Recommended: format your Google Sheet, Excel sheet or CSV file with our template. "
                "Every user in one file gets the same user type and settings."
            ),
            rx.el.ul(
                rx.el.li(
                    rx.text(
                        "Required values: ",
                        rx.code("firstname"),
                        ", ",
                        rx.code("lastname"),
                        ", ",
                        rx.code("email"),
                        ", (E.164) ",
                        rx.code("countryprefix"),
                        " such as +44.",
                    )
                ),
                rx.el.li(rx.text("Optional: ", rx.code("phone"), ", with area code.")),
                rx.el.li(
                    rx.text(
                        "Column titles follow the template. A users export from Google Workspace, "
                        "Microsoft 365 or Okta works too: you match its columns in the next step."
                    )
                ),
                padding_left="1.2em",
            ),
            named_table(
                "Template columns",
                rx.table.header(
                    rx.table.row(
                        rx.table.column_header_cell("Column"),
                        rx.table.column_header_cell("Required"),
                        rx.table.column_header_cell("Example"),
                    )
                ),
                rx.table.body(
                    *[
                        rx.table.row(
                            rx.table.row_header_cell(rx.code(c.name)),
                            rx.table.cell("Yes" if c.required else "No"),
                            rx.table.cell(c.example),
                        )
                        for c in COLUMNS
                    ]
                ),
                variant="surface",
                size="1",
            ),
            rx.hstack(
                rx.button(
                    rx.icon("download"),
                    "Download template (Excel)",
                    variant="soft",
                    on_click=UploadState.download_template("xlsx"),
                ),
                rx.button(
                    rx.icon("download"),
                    "Download template (CSV)",
                    variant="soft",
                    on_click=UploadState.download_template("csv"),
                ),
                wrap="wrap",
            ),
            rx.hstack(rx.spacer(), rx.button("Continue", size="3", on_click=UploadState.go_to_upload), width="100%"),
            spacing="4",
            width="100%",
        ),
        width="100%",
    )


class PrefetchPageLinks(rx.Component):
    """React Router's <PrefetchPageLinks>: preloads another page's code, so that moving to it
    later does not wait for the download."""

    library = "react-router"
    tag = "PrefetchPageLinks"
    page: rx.Var[str]


def upload_step() -> rx.Component:
    busy = UploadState.processing
    return rx.card(
        # An uploaded file opens on its draft's page: its code is fetched while the admin picks the file.
        PrefetchPageLinks.create(page=routes.draft("next")),
        rx.vstack(
            rx.heading(rx.cond(UploadState.replacing != "", "Replace the file", "Upload files"), size="5", as_="h2"),
            rx.text("Drag or locate your formatted file of users to add, then select Upload files."),
            user_type_select(UploadState.user_type, UploadState.set_user_type),
            rx.upload.root(
                rx.vstack(
                    rx.icon("file-up", size=32, aria_hidden="true"),
                    rx.text("Drag a file here, or ", rx.text.strong("browse"), " to choose one"),
                    rx.text(
                        f"Accepted: {ACCEPTED} · up to ",
                        UploadState.max_file_mb,
                        " MB · one file",
                        size="2",
                        color_scheme="gray",
                    ),
                    rx.foreach(rx.selected_files(UPLOAD_ID), lambda f: rx.badge(rx.icon("file"), f, size="2")),
                    align="center",
                    spacing="2",
                ),
                id=UPLOAD_ID,
                multiple=False,
                max_files=1,
                accept={
                    "text/csv": [".csv"],
                    "text/plain": [".txt", ".tsv"],
                    "text/tab-separated-values": [".tsv"],
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": [".xlsx"],
                    "application/vnd.ms-excel": [".xls"],
                    "application/vnd.oasis.opendocument.spreadsheet": [".ods"],
                },
                on_drop_rejected=UploadState.rejected,
                disabled=busy,
                border="2px dashed var(--accent-8)",
                border_radius="var(--radius-4)",
                padding="2em",
                width="100%",
                cursor="pointer",
                aria_label="Users file: drag a file here or press Enter to browse",
            ),
            rx.checkbox(
                "Let me match the columns myself",
                checked=UploadState.ask_columns,
                on_change=UploadState.set_ask_columns,
                disabled=busy,
            ),
            rx.cond(UploadState.error_message != "", error_callout(UploadState.error_code, UploadState.error_message)),
            rx.cond(
                busy,
                rx.vstack(
                    rx.cond(
                        UploadState.uploading,
                        rx.text("Uploading… ", UploadState.upload_percent, "%"),
                        rx.text(UploadState.phase, "…"),
                    ),
                    rx.progress(
                        value=rx.cond(UploadState.uploading, UploadState.upload_percent, UploadState.phase_percent),
                        max=100,
                        aria_label="Upload progress",
                        width="100%",
                    ),
                    width="100%",
                    role="status",
                    aria_live="polite",
                ),
            ),
            rx.hstack(
                rx.button("Back", variant="soft", on_click=UploadState.go_to_template, disabled=busy),
                rx.spacer(),
                rx.button(
                    rx.icon("upload"),
                    "Upload files",
                    size="3",
                    loading=busy,
                    disabled=busy | (rx.selected_files(UPLOAD_ID).length() == 0),
                    on_click=UploadState.receive_file(
                        rx.upload_files_chunk(upload_id=UPLOAD_ID, on_upload_progress=UploadState.upload_progress)
                    ),
                ),
                width="100%",
            ),
            spacing="4",
            width="100%",
        ),
        width="100%",
    )


def start_page() -> rx.Component:
    return page_frame(
        "Bulk user upload",
        admins_only(
            UploadState,
            rx.vstack(
                rx.cond(UploadState.step == WizardStep.TEMPLATE, stepper(0), stepper(1)),
                rx.cond(UploadState.step == WizardStep.TEMPLATE, template_step(), upload_step()),
                width="100%",
                spacing="4",
            ),
        ),
    )


# ---------------------------------------------------------------- step 3: review
