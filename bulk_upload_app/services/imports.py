"""A file checked, or imported whole, without the wizard (the CLI now, the HTTP API next)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bulk_upload_app.db import get_engine, session_scope
from bulk_upload_app.errors import ErrorCode, FileProblem, RowError
from bulk_upload_app.files.intake import ParsedFile, parse_file, validate_file
from bulk_upload_app.files.reading import ReadLimits
from bulk_upload_app.settings import get_settings
from bulk_upload_app.statuses import UploadSource
from bulk_upload_app.uploads import creating, pipeline, records, staging
from bulk_upload_app.uploads.batch import BatchProblem, batch_from_names


@dataclass(frozen=True)
class FileCheck:
    rows: int
    valid: int
    invalid: int
    notices: list[str]
    errors: list[RowError] = field(default_factory=list)


@dataclass(frozen=True)
class BatchByName:
    """A batch as a script names it: groups, numbers and skills by name, settings from a user's email."""

    user_type: str
    group_names: list[str] = field(default_factory=list)
    outbound_numbers: list[str] = field(default_factory=list)
    skills: list[tuple[str, int]] = field(default_factory=list)
    settings_from_email: str | None = None


def _parsed(path: Path, overrides: dict[str, str] | None = None) -> ParsedFile:
    settings = get_settings()
    size = path.stat().st_size
    if size > settings.max_file_bytes:
        raise FileProblem(
            ErrorCode.FILE_TOO_LARGE, reason=f"it has {size:,} bytes; the limit is {settings.max_file_bytes:,}"
        )
    try:
        return parse_file(
            path.read_bytes(),
            path.name,
            ReadLimits(max_bytes=settings.max_file_bytes, max_rows=settings.max_rows),
            overrides=overrides or None,
        )
    except ValueError as exc:  # an override naming no column or no field
        raise BatchProblem(str(exc)) from None


def _require_company(session, company_id: int) -> None:
    if not records.company_exists(session, company_id):
        raise BatchProblem(f"There is no company {company_id}.")


def check_file(path: Path, company_id: int | None = None, overrides: dict[str, str] | None = None) -> FileCheck:
    """Every row's verdict; with a company, also taken emails and whether its seats suffice.

    The columns are matched as `parse_file` does: the template's titles, else a confident guess;
    `overrides` ({file title: field or "ignore"}) correct the guess."""
    parsed = _parsed(path, overrides)
    validation = validate_file(parsed)
    notices = list(parsed.notices)
    if company_id is not None:
        with session_scope() as session:
            _require_company(session, company_id)
            validation = staging.check_against_account(session, validation)
            problem = records.seat_problem(session, company_id, validation.valid, get_settings().legacy_dashboard_url)
            if problem is not None:
                notices.append(problem.message)
    return FileCheck(validation.rows, validation.valid, validation.invalid, notices, list(validation.errors))


def import_file(
    path: Path,
    company_id: int,
    batch: BatchByName,
    *,
    actor: str,
    on_progress: Callable[[int, int], None] | None = None,
    overrides: dict[str, str] | None = None,
    notify: list[str] | None = None,
) -> creating.CreateResult:
    """Stage the file as an upload with this batch and create its valid users; `notify` (checked
    addresses, see services.notifications.checked_addresses) get the email when it finishes.

    Refused whole (SEATS_EXCEEDED, nothing created) when the seats do not suffice, before staging
    or when another batch took them meanwhile; FileProblem / BatchProblem for the file or names.
    """
    settings = get_settings()
    parsed = _parsed(path, overrides)
    validation = validate_file(parsed)
    with session_scope() as session:
        _require_company(session, company_id)
        spec = batch_from_names(
            session,
            company_id,
            user_type=batch.user_type,
            group_names=batch.group_names,
            outbound_numbers=batch.outbound_numbers,
            skills=batch.skills,
            settings_from_email=batch.settings_from_email,
        )
        validation = staging.check_against_account(session, validation)
        problem = records.seat_problem(session, company_id, validation.valid, settings.legacy_dashboard_url)
        if problem is not None:
            raise problem
        upload_id = pipeline.stage_batch(
            session,
            company_id=company_id,
            file_name=path.name,
            parsed=parsed,
            validation=validation,
            spec=spec,
            source=UploadSource.CLI,
            actor=actor,
            notify=notify,
        ).id
    result = creating.create_users(
        get_engine(),
        company_id,
        upload_id,
        on_progress=on_progress,
        actor=actor,
        legacy_dashboard_url=settings.legacy_dashboard_url,
    )
    return dataclasses.replace(result, notices=list(parsed.notices))
