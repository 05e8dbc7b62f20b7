"""Working on a draft upload: pages of staged rows, counts, editing a cell, removing a row.

Every change runs in one transaction that first locks the upload row, so two tabs editing
one draft take turns and each sees a whole, consistent draft. Duplicates are a property of
the whole file: an edit re-judges every row sharing the old or the new email.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import func, or_, select
from sqlmodel import Session

from bulk_upload_app.errors import ErrorCode, UploadNotFound, message_for
from bulk_upload_app.files.schema import COLUMN_NAMES
from bulk_upload_app.files.validation import validate_rows
from bulk_upload_app.models import BulkUpload, BulkUploadRow, utcnow
from bulk_upload_app.statuses import RowOutcome, WizardStep
from bulk_upload_app.uploads import accounts, lifecycle
from bulk_upload_app.uploads.records import get_upload, locked_draft
from bulk_upload_app.uploads.search import can_search, matching_rows, search_term, update_rows

EDITABLE = COLUMN_NAMES


@dataclass(frozen=True)
class DraftCounts:
    all: int
    valid: int
    with_errors: int


@dataclass(frozen=True)
class RowView:
    id: int
    row: int
    values: dict[str, str]
    errors: dict[str, dict[str, str]]  # column ("" for the row itself) -> {"code", "message"}
    is_valid: bool

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "row": self.row, **self.values, "is_valid": self.is_valid, "errors": self.errors}


def stored_counts(upload: BulkUpload) -> DraftCounts:
    return DraftCounts(all=upload.total_rows, valid=upload.valid_rows, with_errors=upload.invalid_rows)


def counts(session: Session, upload_id: str) -> DraftCounts:
    valid, total = session.exec(
        select(func.count().filter(BulkUploadRow.is_valid.is_(True)), func.count()).where(
            BulkUploadRow.upload_id == upload_id, BulkUploadRow.outcome != RowOutcome.REMOVED
        )
    ).one()
    return DraftCounts(all=total, valid=valid, with_errors=total - valid)


SEARCH_COUNT_LIMIT = 1000


def page(
    session: Session,
    company_id: int,
    upload_id: str,
    *,
    only_errors: bool = False,
    search: str = "",
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[RowView], int]:
    """One page of the draft's rows in file order, and how many rows match in all."""
    upload = get_upload(session, company_id, upload_id)
    term = search_term(search)
    # Counted up to SEARCH_COUNT_LIMIT + 1 only: a common term in a million rows would otherwise
    # be looked for in them all for a number nobody pages through ("1,000+" is shown). One pass
    # finds the count and the page, whose rows are then read by id.
    wanted = max(SEARCH_COUNT_LIMIT + 1, offset + limit)
    found = (
        matching_rows(session, upload_id, term, only_errors=only_errors, wanted=wanted) if can_search(term) else None
    )
    if found is not None:
        page_ids = found[offset : offset + limit]
        rows = session.exec(select(BulkUploadRow).where(BulkUploadRow.id.in_(page_ids))).scalars().all()
        rows = sorted(rows, key=lambda r: r.row_number)
        return [_view(r) for r in rows], min(len(found), SEARCH_COUNT_LIMIT + 1)
    conditions = [BulkUploadRow.upload_id == upload_id, BulkUploadRow.outcome != RowOutcome.REMOVED]
    if only_errors:
        conditions.append(BulkUploadRow.is_valid.is_(False))
    if term:  # row by row: a term holding a separator of the rows' text, or a draft staged without it
        escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = f"%{escaped}%"
        conditions.append(or_(*(func.lower(getattr(BulkUploadRow, c)).like(like, escape="\\") for c in COLUMN_NAMES)))
        matches = select(BulkUploadRow.id).where(*conditions).limit(SEARCH_COUNT_LIMIT + 1).subquery()
        total = session.exec(select(func.count()).select_from(matches)).scalar_one()
    else:  # the draft keeps its counts up to date (see _touch): no count over every row
        total = upload.invalid_rows if only_errors else upload.total_rows
    rows = (
        session.exec(
            select(BulkUploadRow).where(*conditions).order_by(BulkUploadRow.row_number).offset(offset).limit(limit)
        )
        .scalars()
        .all()
    )
    return [_view(r) for r in rows], total


def _view(row: BulkUploadRow) -> RowView:
    errors: dict[str, dict[str, str]] = {}
    for error in row.errors or []:
        errors.setdefault(error["column"] or "", {"code": error["code"], "message": error["message"]})
    return RowView(row.id, row.row_number, {c: getattr(row, c) for c in COLUMN_NAMES}, errors, row.is_valid)


def edit_cell(session: Session, company_id: int, upload_id: str, row_id: int, column: str, value: str) -> RowView:
    if column not in EDITABLE:
        raise ValueError(f"{column} can't be edited.")
    upload = locked_draft(session, company_id, upload_id)
    row = _row_of(session, upload.id, row_id)
    old_email, was_valid = row.email_norm, row.is_valid
    setattr(row, column, " ".join(str(value).split()) if column in ("firstname", "lastname") else str(value).strip())
    single = pl.DataFrame(
        {"row": [row.row_number], **{c: [getattr(row, c)] for c in COLUMN_NAMES}},
        schema={"row": pl.Int64, **{c: pl.String for c in COLUMN_NAMES}},
    )
    update_rows(session, upload.id, single)
    checked = validate_rows(single)
    result = checked.frame.row(0, named=True)
    row.email_norm, row.prefix_norm, row.phone_e164 = result["email_norm"], result["prefix_norm"], result["phone_e164"]
    errors = [{"column": e.column, "code": e.code.value, "message": e.message} for e in checked.errors]
    if row.email_norm and accounts.existing_emails(session, [row.email_norm]):
        errors.append(
            {
                "column": "email",
                "code": ErrorCode.EMAIL_ALREADY_EXISTS.value,
                "message": message_for(ErrorCode.EMAIL_ALREADY_EXISTS, value=row.email_norm),
            }
        )
    # Assigned whole: a JSON column does not see changes made inside the list.
    row.errors, row.is_valid = errors, not errors
    session.add(row)
    session.flush()
    valid_delta = int(row.is_valid) - int(was_valid)
    valid_delta += _rejudge_duplicates(session, upload.id, {old_email, row.email_norm} - {None})
    _touch(session, upload, valid_delta=valid_delta)
    session.refresh(row)
    return _view(row)


def remove_row(session: Session, company_id: int, upload_id: str, row_id: int) -> None:
    upload = locked_draft(session, company_id, upload_id)
    row = _row_of(session, upload.id, row_id)
    row.outcome = RowOutcome.REMOVED
    session.add(row)
    session.flush()
    valid_delta = -int(row.is_valid)
    if row.email_norm:
        valid_delta += _rejudge_duplicates(session, upload.id, {row.email_norm})
    _touch(session, upload, valid_delta=valid_delta, total_delta=-1)


def recheck_account(session: Session, company_id: int, upload_id: str) -> DraftCounts:
    """Re-judge EMAIL_ALREADY_EXISTS for every row: users may have been added meanwhile."""
    upload = locked_draft(session, company_id, upload_id)
    rows = (
        session.exec(
            select(BulkUploadRow).where(
                BulkUploadRow.upload_id == upload.id,
                BulkUploadRow.outcome == RowOutcome.PENDING,
                BulkUploadRow.email_norm.is_not(None),
            )
        )
        .scalars()
        .all()
    )
    taken = accounts.existing_emails(session, [r.email_norm for r in rows])
    for row in rows:
        had = any(e["code"] == ErrorCode.EMAIL_ALREADY_EXISTS.value for e in row.errors)
        has = row.email_norm in taken
        if had != has:
            others = [e for e in row.errors if e["code"] != ErrorCode.EMAIL_ALREADY_EXISTS.value]
            if has:
                others.append(
                    {
                        "column": "email",
                        "code": ErrorCode.EMAIL_ALREADY_EXISTS.value,
                        "message": message_for(ErrorCode.EMAIL_ALREADY_EXISTS, value=row.email_norm),
                    }
                )
            row.errors, row.is_valid = others, not others
            session.add(row)
    session.flush()
    _touch(session, upload)
    return counts(session, upload.id)


def _row_of(session: Session, upload_id: str, row_id: int) -> BulkUploadRow:
    row = (
        session.exec(
            select(BulkUploadRow).where(
                BulkUploadRow.id == int(row_id),
                BulkUploadRow.upload_id == upload_id,
                BulkUploadRow.outcome != RowOutcome.REMOVED,
            )
        )
        .scalars()
        .first()
    )
    if row is None:
        raise UploadNotFound("That row is not part of this bulk upload.")
    return row


def _rejudge_duplicates(session: Session, upload_id: str, emails: set[str]) -> int:
    """Within these emails, the first row keeps its address; every later one is a duplicate.

    Reads only the rows sharing these emails (the (upload_id, email_norm) index); returns how
    many more rows are valid now (negative: fewer).
    """
    if not emails:
        return 0
    # Sorted here, not by ORDER BY: with it, SQLite walks the (upload_id, row_number) index over
    # the whole draft instead of looking these few emails up (82 ms instead of < 1 ms at 300k rows).
    found = session.exec(
        select(BulkUploadRow).where(
            BulkUploadRow.upload_id == upload_id,
            BulkUploadRow.outcome != RowOutcome.REMOVED,
            BulkUploadRow.email_norm.in_(sorted(emails)),
        )
    )
    rows = sorted(found.scalars().all(), key=lambda r: r.row_number)
    first_row: dict[str, int] = {}
    valid_delta = 0
    for row in rows:
        others = [e for e in row.errors if e["code"] != ErrorCode.DUPLICATE_EMAIL_IN_FILE.value]
        first = first_row.setdefault(row.email_norm, row.row_number)
        if first != row.row_number:
            others.append(
                {
                    "column": "email",
                    "code": ErrorCode.DUPLICATE_EMAIL_IN_FILE.value,
                    "message": message_for(ErrorCode.DUPLICATE_EMAIL_IN_FILE, value=row.email_norm, first_row=first),
                }
            )
            others.sort(key=lambda e: COLUMN_NAMES.index(e["column"]) if e["column"] in COLUMN_NAMES else -1)
        if others != row.errors:
            valid_delta += int(not others) - int(row.is_valid)
            row.errors, row.is_valid = others, not others
            session.add(row)
    session.flush()
    return valid_delta


def _touch(session: Session, upload: BulkUpload, *, valid_delta: int | None = None, total_delta: int = 0) -> None:
    """Store the draft's counts and bump its version (the upload row is locked).

    With the change an edit made (`valid_delta`, `total_delta`), no row is counted: an edit in a
    million-row draft reads only the rows it touched. Without, every row is counted again.
    """
    if valid_delta is None:
        current = counts(session, upload.id)
        upload.total_rows, upload.valid_rows, upload.invalid_rows = current.all, current.valid, current.with_errors
    else:
        upload.total_rows += total_delta
        upload.valid_rows += valid_delta
        upload.invalid_rows = upload.total_rows - upload.valid_rows
    upload.version += 1
    upload.updated_at = utcnow()
    session.add(upload)
    session.flush()


# The steps an admin moves between in a draft; the others follow from what happens to it.
WIZARD_STEPS = (WizardStep.REVIEW, WizardStep.SETTINGS)


def set_step(session: Session, company_id: int, upload_id: str, step: str) -> None:
    if step not in WIZARD_STEPS:
        raise ValueError(f"Unknown step {step}")
    upload = locked_draft(session, company_id, upload_id)
    if upload.pending_table is not None:
        raise ValueError("Match the file's columns first.")
    lifecycle.set_step(upload, WizardStep(step))
    session.add(upload)
