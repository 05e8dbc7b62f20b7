"""The wizard's states: thin layers that ask the engine and hold one page for the browser.

Every handler first asks `self.admin()`; the upload id comes from the URL and is looked up
within the signed-in admin's company only, so a guessed or foreign id finds nothing.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import reflex as rx

from .. import embed
from ..settings import get_settings
from ..db import get_engine, session_scope
from ..directory import company_choices
from ..importer import drafts, uploads
from ..importer.batch import BatchProblem, BatchSpec, SkillChoice, describe_batch, settings_of_user
from ..importer.errors import FileProblem
from ..importer.report import report_csv, report_xlsx
from ..importer.schema import COLUMN_NAMES
from ..importer.settings_catalogue import DEFAULT_SKILL_LEVEL, SETTINGS, default_settings
from ..models import BulkUpload, UploadStatus
from .session import SessionState, as_id

logger = logging.getLogger("bulk_upload")
PAGE_SIZE = 50
DRAFT_PATH = "/users/bulk-upload/"


def _flat_row(view: drafts.RowView) -> dict[str, str]:
    """A grid row as plain strings: each cell's value, and its error as '<CODE>: message'."""
    row = {"id": str(view.id), "row": str(view.row), **view.values}
    for column in ("", *COLUMN_NAMES):
        error = view.errors.get(column)
        row[f"{column or 'row'}_error"] = f"{error['code']}: {error['message']}" if error else ""
    return row


class DraftState(SessionState):
    upload_id: str = ""
    not_found: bool = False
    file_name: str = ""
    user_type: str = "agent"
    status: str = ""
    step: str = "review"
    notices: list[str] = []
    count_all: int = 0
    count_valid: int = 0
    count_errors: int = 0
    seats_total: int = 0
    seats_free: int = 0
    message: str = ""

    @rx.var
    def seats_short(self) -> int:
        return max(self.count_valid - self.seats_free, 0)

    @rx.var
    def legacy_dashboard_url(self) -> str:
        base = get_settings().legacy_dashboard_url
        joiner = "&" if "?" in base else "?"
        return f"{base}{joiner}return={DRAFT_PATH}{self.upload_id}"

    def _id_from_url(self) -> str:
        path = self.router.url.path.rstrip("/")
        return path.rsplit("/", 1)[-1] if path.startswith(DRAFT_PATH.rstrip("/")) else ""

    def _refresh(self, session: Any, upload: BulkUpload) -> None:
        counts = drafts.stored_counts(upload)
        seats = uploads.company_seats(session, upload.company_id)
        self.file_name, self.user_type, self.status = upload.file_name, upload.user_type, upload.status
        self.notices = list(upload.notices or [])
        self.count_all, self.count_valid, self.count_errors = counts.all, counts.valid, counts.with_errors
        self.seats_total, self.seats_free = seats.total, seats.free

    def _load_draft(self) -> BulkUpload | None:
        admin = self.admin()
        self.not_found = False
        if admin is None:
            return None
        wanted = self._id_from_url()
        with session_scope(read_only=True) as session:
            try:
                upload = uploads.get_upload(session, admin.company_id, wanted)
            except uploads.UploadNotFound:
                self.not_found, self.upload_id = True, ""
                return None
            self.upload_id = upload.id
            self._refresh(session, upload)
        if upload.status in (UploadStatus.DONE, UploadStatus.CREATING, UploadStatus.INTERRUPTED, UploadStatus.ABANDONED):
            self.step = "creating" if upload.status == UploadStatus.CREATING else "result"
        else:
            self.step = upload.wizard_step or "review"
        return upload

    def _admin_and_draft(self):  # noqa: ANN202
        admin = self.admin()
        if admin is None or not self.upload_id:
            return None
        return admin

    @rx.event
    def go_to(self, step: str):
        admin = self._admin_and_draft()
        if admin is None or step not in drafts.WIZARD_STEPS:
            return
        try:
            with session_scope() as session:
                drafts.set_step(session, admin.company_id, self.upload_id, step)
        except (uploads.UploadNotFound, uploads.UploadBusy) as exc:
            self.message = str(exc)
            return
        self.step = step
        scroll = rx.call_script("window.scrollTo(0, 0)")
        return [scroll, SettingsState.load_settings] if step == "settings" else [scroll, ReviewState.reload_rows]

    def _change_draft(self, change) -> bool:  # noqa: ANN001
        """Run `change(session, company_id)` on the draft and refresh the counts; False when refused."""
        admin = self._admin_and_draft()
        if admin is None:
            return False
        try:
            with session_scope() as session:
                change(session, admin.company_id)
                self._refresh(session, uploads.get_upload(session, admin.company_id, self.upload_id))
        except (uploads.UploadNotFound, uploads.UploadBusy, ValueError) as exc:
            self.message = str(exc)
            return False
        return True

    @rx.event
    def check_again(self):
        """Re-read seats and taken emails, e.g. after a trip to the legacy dashboard."""
        self._change_draft(lambda session, company_id: drafts.recheck_account(session, company_id, self.upload_id))


class ReviewState(DraftState):
    rows: list[dict[str, str]] = []
    page_index: int = 0
    total_matching: int = 0
    only_errors: bool = False
    search: str = ""

    @rx.var
    def page_count(self) -> int:
        return max((self.total_matching + PAGE_SIZE - 1) // PAGE_SIZE, 1)

    @rx.event
    def load(self):
        upload = self._load_draft()
        if upload is None:
            return
        self.page_index, self.only_errors, self.search = 0, False, ""
        self._load_rows()
        if self.step == "settings":
            return SettingsState.load_settings
        if self.step in ("result", "creating"):
            return CreateState.load_result

    @rx.event
    def reload_rows(self):
        self._load_rows()

    def _load_rows(self) -> None:
        admin = self._admin_and_draft()
        if admin is None:
            return
        with session_scope(read_only=True) as session:
            views, total = drafts.page(session, admin.company_id, self.upload_id, only_errors=self.only_errors,
                                       search=self.search, offset=self.page_index * PAGE_SIZE, limit=PAGE_SIZE)
        self.rows = [_flat_row(v) for v in views]
        self.total_matching = total

    @rx.event
    def set_only_errors(self, value: bool):
        self.only_errors, self.page_index = bool(value), 0
        self._load_rows()

    @rx.event
    def set_search(self, value: str):
        self.search, self.page_index = str(value)[:200], 0
        self._load_rows()

    @rx.event
    def next_page(self):
        if self.page_index + 1 < self.page_count:
            self.page_index += 1
            self._load_rows()

    @rx.event
    def previous_page(self):
        if self.page_index > 0:
            self.page_index -= 1
            self._load_rows()

    @rx.event
    def edit_cell(self, row_id: str, column: str, value: str):
        current = next((r for r in self.rows if r["id"] == str(row_id)), None)
        rid = as_id(row_id)
        if column not in COLUMN_NAMES or current is None or rid is None or current[column] == str(value).strip():
            return
        if self._change_draft(lambda session, company_id: drafts.edit_cell(
                session, company_id, self.upload_id, rid, column, str(value)[:2000])):
            self._load_rows()

    @rx.event
    def remove_row(self, row_id: str):
        rid = as_id(row_id)
        if rid is None:
            return
        if self._change_draft(lambda session, company_id: drafts.remove_row(session, company_id, self.upload_id, rid)):
            if self.page_index > 0 and self.page_index * PAGE_SIZE >= self.total_matching - 1:
                self.page_index -= 1
            self._load_rows()

    @rx.event
    def download_errors(self, fmt: str):
        admin = self._admin_and_draft()
        if admin is None:
            return
        with session_scope(read_only=True) as session:
            uploads.get_upload(session, admin.company_id, self.upload_id)  # still this company's
            failed = uploads.failed_rows(session, self.upload_id)
        return _report_download(failed, fmt, f"rows-with-errors-{self.file_name.rsplit('.', 1)[0] or 'users'}")


def _report_download(failed: list[dict], fmt: str, stem: str):  # noqa: ANN202
    safe_stem = "".join(c if c.isalnum() or c in "-_" else "-" for c in stem)[:80]
    if fmt == "csv":
        return rx.download(data=report_csv(failed), filename=f"{safe_stem}.csv", mime_type="text/csv")
    return rx.download(
        data=report_xlsx(failed), filename=f"{safe_stem}.xlsx",
        mime_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


_SETTING_KEYS = [s.key for s in SETTINGS]


class SettingsState(DraftState):
    groups: list[dict[str, str]] = []
    numbers: list[dict[str, str]] = []
    skills: list[dict[str, str]] = []
    existing_users: list[dict[str, str]] = []
    use_company_settings: bool = True
    setting_values: dict[str, str] = {}
    group_ids: list[str] = []
    number_ids: list[str] = []
    chosen_skills: list[dict[str, str]] = []  # key, skill_id, name, level, is_new
    new_skill_name: str = ""
    loaded_from: str = ""
    settings_error: str = ""

    @rx.event
    def load_settings(self):
        admin = self._admin_and_draft()
        if admin is None:
            return
        with session_scope(read_only=True) as session:
            choices = company_choices(session, admin.company_id)
            upload = uploads.get_upload(session, admin.company_id, self.upload_id)
        self.groups, self.numbers, self.skills, self.existing_users = (
            choices.groups, choices.numbers, choices.skills, choices.users)
        self._show(BatchSpec.from_json(upload.batch))

    def _show(self, spec: BatchSpec) -> None:
        form = spec_to_form(spec, {s["id"]: s["name"] for s in self.skills})
        self.use_company_settings = form["use_company_settings"]
        self.setting_values, self.group_ids, self.number_ids = form["setting_values"], form["group_ids"], form["number_ids"]
        self.chosen_skills = form["chosen_skills"]

    def _spec(self) -> BatchSpec:
        return form_to_spec(self.user_type, self.use_company_settings, self.setting_values, self.group_ids,
                            self.number_ids, self.chosen_skills)

    def _save(self) -> None:
        admin = self._admin_and_draft()
        if admin is None:
            return
        try:
            with session_scope() as session:
                uploads.configure_batch(session, admin.company_id, self.upload_id, self._spec())
            self.settings_error = ""
        except (BatchProblem, uploads.UploadBusy, uploads.UploadNotFound, ValueError, OverflowError) as exc:
            self.settings_error = str(exc)
            # Show what is really saved, so one refused value does not spoil every later change.
            with session_scope(read_only=True) as session:
                try:
                    self._show(BatchSpec.from_json(uploads.get_upload(session, admin.company_id, self.upload_id).batch))
                except uploads.UploadNotFound:
                    pass

    @rx.event
    def set_user_type(self, value: str):
        self.user_type = value
        self._save()

    @rx.event
    def set_use_company_settings(self, value: bool):
        self.use_company_settings = bool(value)
        self._save()

    @rx.event
    def set_setting(self, key: str, value: Any):
        if key not in _SETTING_KEYS:
            return
        self.setting_values[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        self._save()

    @rx.event
    def toggle_group(self, group_id: str, checked: bool):
        if as_id(group_id) is None:
            return
        self.group_ids = _toggled(self.group_ids, str(group_id), bool(checked))
        self._save()

    @rx.event
    def toggle_number(self, number_id: str, checked: bool):
        if as_id(number_id) is None:
            return
        self.number_ids = _toggled(self.number_ids, str(number_id), bool(checked))
        self._save()

    @rx.event
    def toggle_skill(self, skill_id: str, checked: bool):
        if as_id(skill_id) is None:
            return
        skill_id = str(skill_id)
        self.chosen_skills = [s for s in self.chosen_skills if s["skill_id"] != skill_id]
        if checked:
            name = next((s["name"] for s in self.skills if s["id"] == skill_id), "")
            self.chosen_skills.append({"key": skill_id, "skill_id": skill_id, "name": name,
                                       "level": str(DEFAULT_SKILL_LEVEL), "is_new": ""})
        self._save()

    @rx.event
    def set_skill_level(self, key: str, level: str):
        if as_id(level) is None:
            return
        for skill in self.chosen_skills:
            if skill["key"] == key:
                skill["level"] = str(level)
        self._save()

    @rx.event
    def remove_skill(self, key: str):
        self.chosen_skills = [s for s in self.chosen_skills if s["key"] != key]
        self._save()

    @rx.event
    def set_new_skill_name(self, value: str):
        if self.admin() is None:
            return
        self.new_skill_name = str(value)[:100]

    @rx.event
    def add_new_skill(self):
        if self.admin() is None:
            return
        name = " ".join(self.new_skill_name.split())
        if not name:
            self.settings_error = "Type a name for the new skill."
            return
        existing = next((s for s in self.skills if s["name"].casefold() == name.casefold()), None)
        if existing is not None:
            self.new_skill_name = ""
            return SettingsState.toggle_skill(existing["id"], True)
        if any(s["name"].casefold() == name.casefold() for s in self.chosen_skills):
            self.settings_error = f'"{name}" is already in this batch.'
            return
        self.chosen_skills.append({"key": f"new:{name}", "skill_id": "", "name": name,
                                   "level": str(DEFAULT_SKILL_LEVEL), "is_new": "yes"})
        self.new_skill_name = ""
        self._save()

    @rx.event
    def load_existing(self, user_id: str):
        admin = self._admin_and_draft()
        uid = as_id(user_id)
        if admin is None or uid is None:
            return
        try:
            with session_scope(read_only=True) as session:
                spec = settings_of_user(session, admin.company_id, user_id=uid)
        except BatchProblem as exc:
            self.settings_error = str(exc)
            return
        spec.user_type = self.user_type
        self._show(spec)
        self.loaded_from = next((u["label"] for u in self.existing_users if u["id"] == str(user_id)), "")
        self._save()


_BOOLEAN_KEYS = {s.key for s in SETTINGS if s.choices is None}


def spec_to_form(spec: BatchSpec, skill_names: dict[str, str]) -> dict[str, Any]:
    """A batch as the settings form shows it: every value a string, as the browser sends them back."""
    values = spec.settings or default_settings()
    return {
        "use_company_settings": spec.settings is None,
        "setting_values": {k: ("true" if v is True else "false" if v is False else str(v)) for k, v in values.items()},
        "group_ids": [str(g) for g in spec.group_ids],
        "number_ids": [str(n) for n in spec.outbound_number_ids],
        "chosen_skills": [
            {"key": str(s.skill_id) if s.skill_id else f"new:{s.new_name}", "skill_id": str(s.skill_id or ""),
             "name": skill_names.get(str(s.skill_id), "") if s.skill_id else (s.new_name or ""), "level": str(s.level),
             "is_new": "" if s.skill_id else "yes"}
            for s in spec.skills
        ],
    }


def form_to_spec(user_type: str, use_company_settings: bool, setting_values: dict[str, str], group_ids: list[str],
                 number_ids: list[str], chosen_skills: list[dict[str, str]]) -> BatchSpec:
    """The form back as a batch; the engine checks every id against the company before use."""
    settings = None
    if not use_company_settings:
        settings = {k: (v == "true") if k in _BOOLEAN_KEYS else v for k, v in setting_values.items()}
    return BatchSpec(
        user_type=user_type,
        settings=settings,
        group_ids=[int(g) for g in group_ids],
        outbound_number_ids=[int(n) for n in number_ids],
        skills=[SkillChoice(level=int(s["level"]), skill_id=int(s["skill_id"]) if s["skill_id"] else None,
                            new_name=s["name"] if s["is_new"] else None) for s in chosen_skills],
    )


def _toggled(values: list[str], value: str, on: bool) -> list[str]:
    rest = [v for v in values if v != value]
    return [*rest, value] if on else rest


def _failed_total(upload: BulkUpload, failed: list[dict[str, Any]]) -> tuple[int, str]:
    """How many rows failed, and the day their rows were purged ("" if they are still there):
    once purged, only the count stored on the upload is left to show."""
    if upload.rows_purged_at is None:
        return len(failed), ""
    return upload.failed_count, f"{upload.rows_purged_at:%Y-%m-%d}"


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

    @rx.var
    def progress_percent(self) -> int:
        return int(100 * self.progress_done / self.progress_total) if self.progress_total else 0

    @rx.event
    def open_confirm(self):
        admin = self._admin_and_draft()
        if admin is None:
            return
        try:
            with session_scope() as session:
                drafts.recheck_account(session, admin.company_id, self.upload_id)
                upload = uploads.get_upload(session, admin.company_id, self.upload_id)
                self._refresh(session, upload)
                self.summary = describe_batch(session, admin.company_id, BatchSpec.from_json(upload.batch))
        except (uploads.UploadNotFound, uploads.UploadBusy) as exc:
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

    @rx.event(background=True)
    async def confirm(self):
        async with self:
            admin = self._admin_and_draft()
            if admin is None or self.creating:
                return
            if self.status == UploadStatus.DRAFT and self.seats_short > 0:
                self.confirm_open = False
                return
            step_before = self.step
            self.creating, self.confirm_open, self.step = True, False, "creating"
            self.progress_done, self.progress_total = 0, self.count_valid
            company_id, upload_id, admin_user_id = admin.company_id, self.upload_id, admin.user_id
        progress = {"done": 0, "total": 0}

        def on_progress(done: int, total: int) -> None:
            progress.update(done=done, total=total)

        work = asyncio.create_task(
            asyncio.to_thread(uploads.create_users, get_engine(), company_id, upload_id, on_progress=on_progress,
                              admin_user_id=admin_user_id, actor="web")
        )
        while not work.done():
            await asyncio.sleep(0.3)
            async with self:
                self.progress_done, self.progress_total = progress["done"], progress["total"] or self.progress_total
        problem = ""
        seats_refused = False
        try:
            work.result()
        except uploads.UploadBusy:
            pass  # another tab or click created them already: show that result
        except FileProblem as exc:
            # Another batch took the seats first: nothing was created, the draft waits for seats.
            problem, seats_refused = exc.message, True
        except BatchProblem as exc:
            problem = f"{exc} Go back to Settings and choose again."
        except Exception:  # noqa: BLE001  (the admin gets a plain message; the operator the log)
            logger.exception("bulk upload %s: creating users failed", upload_id)
            problem = ("Creating users stopped before the end. The users added so far are kept; "
                       "select Resume to create the rest.")
        async with self:
            self.creating = False
            self._show_result(company_id, upload_id)
            if seats_refused and self.status != UploadStatus.CREATING:
                self.step = step_before
            self.message = problem
            done = self.status == UploadStatus.DONE
            counts = {"uploadId": upload_id, "created": self.created_count, "failed": self.failed_total,
                      "total": self.count_all}
        if done:  # embed mode: tell the dashboard (postMessage to its configured origin only)
            yield rx.call_script(embed.post_to_parent("batch-created", **counts))

    @rx.event
    def load_result(self):
        admin = self._admin_and_draft()
        if admin is None:
            return
        self._show_result(admin.company_id, self.upload_id)

    def _show_result(self, company_id: int, upload_id: str) -> None:
        with session_scope(read_only=True) as session:
            upload = uploads.get_upload(session, company_id, upload_id)
            failed = uploads.failed_rows(session, upload_id)
            self._refresh(session, upload)
        self.step = "creating" if upload.status == UploadStatus.CREATING else "result"
        self.created_count = upload.created_count
        self.failed_total, self.rows_purged_on = _failed_total(upload, failed)
        self.failed = [{k: str(f.get(k) or "") for k in ("row", "email", "code", "message")} for f in failed[:200]]

    @rx.event
    def download_failed(self, fmt: str):
        admin = self._admin_and_draft()
        if admin is None:
            return
        with session_scope(read_only=True) as session:
            uploads.get_upload(session, admin.company_id, self.upload_id)
            failed = uploads.failed_rows(session, self.upload_id)
        return _report_download(failed, fmt, f"failed-users-{self.file_name.rsplit('.', 1)[0] or 'users'}")
