"""A file becomes a draft; the draft is read page by page, fixed, re-checked and reported."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session

from bulk_upload_app import errors, jobs
from bulk_upload_app.db import get_engine, session_scope
from bulk_upload_app.files import matching
from bulk_upload_app.files.schema import REQUIRED_COLUMNS
from bulk_upload_app.models import BulkUpload
from bulk_upload_app.settings import get_settings
from bulk_upload_app.statuses import PAST_DRAFT, UploadSource, UploadStatus, WizardStep
from bulk_upload_app.uploads import capacity, drafts, lifecycle, pending, pipeline, records
from bulk_upload_app.uploads.report import report_csv, report_xlsx

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class DraftSummary:
    """What every step of the wizard shows about its upload."""

    id: str
    file_name: str
    user_type: str
    status: str
    step: str  # the wizard step to show: review, settings, creating or result
    notices: list[str]
    count_all: int
    count_valid: int
    count_errors: int
    seats_total: int
    seats_free: int
    columns: list[str] = field(default_factory=list)  # how the columns were matched, for the result page
    # Jobs (jobs.py): the file's rows (count_all counts those judged so far while "processing"),
    # whether a job waits for a worker, the running create's progress, and why a job stopped short.
    file_rows: int = 0
    queued: bool = False
    create_done: int = 0
    create_total: int = 0
    cancel_requested: bool = False
    problem: str = ""
    derived_columns: list[str] = field(default_factory=list)  # filled in from other columns, not the file's own

    @property
    def processing(self) -> bool:
        return self.status == UploadStatus.PROCESSING

    @property
    def judged_percent(self) -> int:
        if not self.processing:
            return 100
        return min(99, int(100 * self.count_all / self.file_rows)) if self.file_rows else 0


@dataclass(frozen=True)
class DraftProgress:
    """How far the worker got with a new draft's file: what the Upload step waits on, asked often
    (a DraftSummary without the company's seats, which count its users)."""

    status: str
    problem: str
    queued: bool
    count_all: int

    @property
    def processing(self) -> bool:
        return self.status == UploadStatus.PROCESSING


@dataclass(frozen=True)
class ColumnToMatch:
    index: int
    title: str
    samples: list[str]
    field: str  # the guess: one of the template's columns, or "" for "don't import"


@dataclass(frozen=True)
class ColumnsToMatch:
    """The Match columns step: each column of the file with our guess."""

    columns: list[ColumnToMatch]
    required: list[str]
    derivation_roles: dict[int, str] = field(default_factory=dict)  # columns a field could be derived from


@dataclass(frozen=True)
class Report:
    """A file for the admin to download."""

    filename: str
    data: bytes
    mime_type: str


@dataclass(frozen=True)
class RowsPage:
    rows: list[drafts.RowView] = field(default_factory=list)
    total: int = 0
    more: bool = False  # a search matched more than `total` rows (it counts up to a limit)


def summary_of(session: Session, upload: BulkUpload) -> DraftSummary:
    counts = drafts.stored_counts(upload)
    seats = records.company_seats(session, upload.company_id)
    if upload.status in PAST_DRAFT:
        step: str = WizardStep.CREATING if upload.status == UploadStatus.CREATING else WizardStep.RESULT
    else:
        step = upload.wizard_step or WizardStep.REVIEW
    return DraftSummary(
        id=upload.id,
        file_name=upload.file_name,
        user_type=upload.user_type,
        status=upload.status,
        step=step,
        notices=list(upload.notices or []),
        count_all=counts.all,
        count_valid=counts.valid,
        count_errors=counts.with_errors,
        seats_total=seats.total,
        seats_free=seats.free,
        columns=_columns_text(upload.column_mapping or {}),
        file_rows=upload.file_rows,
        queued=upload.queued_at is not None,
        create_done=upload.create_done,
        create_total=upload.create_total,
        cancel_requested=upload.cancel_requested,
        problem=upload.problem,
        derived_columns=_derived_columns(upload.column_mapping or {}),
    )


def _derived_columns(column_mapping: dict) -> list[str]:
    """Our columns a matched file had no column for, filled in from others (files/matching.py:
    the prefix from phones or a country, names split from a display name)."""
    if column_mapping.get("matched_by", "template") == "template":
        return []
    matched = set(column_mapping.get("mapping", {}).values())
    return [name for name in ("firstname", "lastname", "countryprefix") if name not in matched]


def _columns_text(column_mapping: dict) -> list[str]:
    how = column_mapping.get("matched_by", "")
    if not column_mapping.get("mapping") or how == "template":
        return []
    who = {"admin": "matched by an admin", "guessed": "guessed", "remembered": "matched as last time"}.get(how, how)
    return [f'"{title}" → {name} ({who})' for title, name in column_mapping["mapping"].items()]


def open_draft(company_id: int, upload_id: str) -> DraftSummary:
    with session_scope(read_only=True) as session:
        return summary_of(session, records.get_upload(session, company_id, upload_id))


def progress(company_id: int, upload_id: str) -> DraftProgress:
    with session_scope(read_only=True) as session:
        upload = records.get_upload(session, company_id, upload_id)
        return DraftProgress(upload.status, upload.problem, upload.queued_at is not None, upload.total_rows)


def replaceable_draft(company_id: int, upload_id: str) -> DraftSummary | None:
    """The draft whose file the admin wants to replace, if it is still a draft of theirs."""
    try:
        summary = open_draft(company_id, upload_id)
    except errors.UploadNotFound:
        return None
    return summary if summary.status == UploadStatus.DRAFT else None


def receive_file(
    company_id: int,
    admin_user_id: int | None,
    *,
    path: Path,
    file_name: str,
    user_type: str,
    replace_upload_id: str | None = None,
    ask_columns: bool = False,
    source: str = UploadSource.WIZARD,
    actor: str = "web",
) -> str:
    """Keep a received file and queue it for a worker (jobs.py); the draft's id at once. Its rows
    appear on the draft as the worker judges them (status "processing", then "draft")."""
    settings = get_settings()
    upload_id = pipeline.receive(
        get_engine(),
        company_id=company_id,
        admin_user_id=admin_user_id,
        file_name=file_name,
        data=path.read_bytes(),
        user_type=user_type,
        replace_upload_id=replace_upload_id,
        capacity_limits=capacity.Limits.from_settings(settings),
        source=source,
        actor=actor,
        ask_columns=ask_columns,
    )
    jobs.enqueue_processing(upload_id, ask_columns=ask_columns)
    return upload_id


def cancel(company_id: int, upload_id: str, *, actor: str) -> DraftSummary:
    """Stop the upload's running job (processing its file, or creating its users)."""
    with session_scope() as session:
        lifecycle.cancel(session, company_id, upload_id, actor=actor)
    return open_draft(company_id, upload_id)


def columns_to_match(company_id: int, upload_id: str) -> ColumnsToMatch:
    """The file's columns with our guesses, for the Match columns step (UploadBusy once matched)."""
    with session_scope(read_only=True) as session:
        plan = pending.plan_for(session, company_id, upload_id)
        roles = pending.roles_for(session, company_id, upload_id)
    return ColumnsToMatch(
        columns=[ColumnToMatch(c.index, c.title, list(c.samples), c.field) for c in plan.columns],
        required=list(REQUIRED_COLUMNS),
        derivation_roles=roles,
    )


def columns_missing(derivation_roles: dict[int, str], mapping: dict[int, str]) -> list[str]:
    """The required fields this matching neither fills nor lets us derive (the prefix from phones or
    a country column, names from a display name); no database read: the roles came with the columns."""
    return matching.missing_given(derivation_roles, mapping)


def confirm_columns(
    company_id: int, admin_user_id: int | None, upload_id: str, mapping: dict[int, str]
) -> DraftSummary:
    """Stage the waiting file with the admin's matching (remembered for the next file with the same
    titles); FileProblem when a required field is missing or a field is matched twice."""
    with session_scope() as session:
        pending.confirm(session, company_id, admin_user_id, upload_id, mapping)
    return open_draft(company_id, upload_id)


def rows_page(company_id: int, upload_id: str, *, only_errors: bool, search: str, offset: int, limit: int) -> RowsPage:
    with session_scope(read_only=True) as session:  # page() finds the upload within the company, or refuses
        views, total = drafts.page(
            session, company_id, upload_id, only_errors=only_errors, search=search, offset=offset, limit=limit
        )
    more = bool(search.strip()) and total > drafts.SEARCH_COUNT_LIMIT
    return RowsPage(views, min(total, drafts.SEARCH_COUNT_LIMIT) if more else total, more)


def _changed(company_id: int, upload_id: str, change: Callable[[Session], object]) -> DraftSummary:
    with session_scope() as session:
        change(session)
        return summary_of(session, records.get_upload(session, company_id, upload_id))


def edit_cell(company_id: int, upload_id: str, row_id: int, column: str, value: str) -> DraftSummary:
    return _changed(
        company_id, upload_id, lambda s: drafts.edit_cell(s, company_id, upload_id, row_id, column, value[:2000])
    )


def remove_row(company_id: int, upload_id: str, row_id: int) -> DraftSummary:
    return _changed(company_id, upload_id, lambda s: drafts.remove_row(s, company_id, upload_id, row_id))


def recheck(company_id: int, upload_id: str) -> DraftSummary:
    """Seats and taken emails read again (e.g. after buying seats in the legacy dashboard)."""
    return _changed(company_id, upload_id, lambda s: drafts.recheck_account(s, company_id, upload_id))


def set_step(company_id: int, upload_id: str, step: str) -> None:
    with session_scope() as session:
        drafts.set_step(session, company_id, upload_id, step)


def rows_report(company_id: int, upload_id: str, fmt: str, *, stem: str) -> Report:
    """The rows with errors (before creating) or that failed (after), as XLSX or CSV."""
    with session_scope(read_only=True) as session:
        upload = records.get_upload(session, company_id, upload_id)
        failed = records.failed_rows(session, upload.id)
        file_stem = upload.file_name.rsplit(".", 1)[0] or "users"
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in f"{stem}-{file_stem}")[:80]
    if fmt == "csv":
        return Report(f"{safe}.csv", report_csv(failed), "text/csv")
    return Report(f"{safe}.xlsx", report_xlsx(failed), XLSX_MIME)
