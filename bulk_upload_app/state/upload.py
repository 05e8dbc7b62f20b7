"""Steps 1 and 2: the template, and receiving a file that becomes a draft."""

from __future__ import annotations

import asyncio
import logging

import reflex as rx

from ..settings import get_settings
from ..db import get_engine, session_scope
from ..importer import capacity, uploads
from ..importer.errors import ErrorCode, FileProblem, message_for
from ..importer.reading import ReadLimits
from ..importer.schema import DEFAULT_USER_TYPE, USER_TYPES
from ..importer.template import template_bytes
from ..uploaded_files import new_upload_path, receive_to_disk
from .draft import DRAFT_PATH
from .session import SessionState

logger = logging.getLogger("bulk_upload")
UPLOAD_ID = "users_file"
ACCEPTED = ".csv, .tsv, .txt, .xlsx, .xls, .ods"


class UploadState(SessionState):
    step: str = "template"
    user_type: str = DEFAULT_USER_TYPE
    replacing: str = ""
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
        if replace:
            with session_scope(read_only=True) as session:
                try:
                    upload = uploads.get_upload(session, admin.company_id, replace)
                    if upload.status == UploadStatus.DRAFT:
                        self.replacing, self.user_type = upload.id, upload.user_type
                except uploads.UploadNotFound:
                    pass
        self.step = "upload" if self.replacing or params.get("step") == "upload" else "template"

    @rx.event
    def download_template(self, fmt: str):
        if self.admin() is None or fmt not in ("csv", "xlsx"):
            return
        mime = "text/csv" if fmt == "csv" else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return rx.download(data=template_bytes(fmt), filename=f"bulk-user-upload-template.{fmt}", mime_type=mime)

    @rx.event
    def go_to_upload(self):
        self.step = "upload"

    @rx.event
    def go_to_template(self):
        self.step = "template"

    @rx.event
    def set_user_type(self, value: str):
        if value in USER_TYPES:
            self.user_type = value

    @rx.event
    def upload_progress(self, progress: dict):
        self.upload_percent = int(float(progress.get("progress", 0) or 0) * 100)

    @rx.event
    def rejected(self, files: list[dict]):
        self.error_code = ErrorCode.UNSUPPORTED_FILE.value
        self.error_message = message_for(
            ErrorCode.UNSUPPORTED_FILE, reason=f"only one {ACCEPTED} file of up to {self.max_file_mb} MB can be uploaded"
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
        settings = get_settings()
        path = new_upload_path(settings.storage_dir)
        file_name = ""
        try:
            file_name = await receive_to_disk(chunks, path, settings.max_file_bytes)
            phase = {"label": "Reading the file", "percent": 5}

            def on_phase(label: str, percent: int) -> None:
                phase.update(label=label, percent=percent)

            work = asyncio.create_task(asyncio.to_thread(
                uploads.draft_from_file, get_engine(), company_id=company_id, admin_user_id=user_id,
                file_name=file_name[-255:], data=path.read_bytes(),
                limits=ReadLimits(max_bytes=settings.max_file_bytes, max_rows=settings.max_rows),
                user_type=user_type, replace_upload_id=replacing or None, on_phase=on_phase,
                capacity_limits=capacity.Limits.from_settings(settings),
            ))
            async with self:
                self.uploading = False
            while not work.done():
                async with self:
                    self.phase, self.phase_percent = phase["label"], phase["percent"]
                await asyncio.sleep(0.1)
            upload_id = work.result()
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
                self.error_message = "The upload did not finish. Nothing was saved: choose the file and upload it again."
            raise
        except (uploads.UploadNotFound, uploads.UploadBusy) as exc:
            async with self:
                self.processing = self.uploading = False
                self.error_code, self.error_message = "UPLOAD_CLOSED", str(exc)
            return
        except Exception:  # noqa: BLE001  (the admin gets a plain message; the operator the log)
            logger.exception("bulk upload: reading %s for company %s failed", file_name, company_id)
            async with self:
                self.processing = self.uploading = False
                self.error_code = ErrorCode.UNSUPPORTED_FILE.value
                self.error_message = message_for(ErrorCode.UNSUPPORTED_FILE, reason="its content could not be understood")
            return
        finally:
            path.unlink(missing_ok=True)
        async with self:
            self.processing = False
            self.phase, self.phase_percent = "Done", 100
        return rx.redirect(f"{DRAFT_PATH}{upload_id}")
