"""An upload waiting for its columns to be matched, and each company's remembered matchings.

When a file's titles are not the template's, the wizard asks the admin to match them (the Match
columns step). Until they confirm, the file's table as read is kept in the upload's row
(`pending_table`, wizard_step "match"): nothing else of the file is kept, the upload is a draft
like any other (counted, purged when unused). Confirming stages the table with the mapping, drops
the kept table and remembers the mapping for the company's next file with the same titles.
"""

from __future__ import annotations

import hashlib
from typing import Any

import polars as pl
from sqlmodel import Session, select

from bulk_upload_app.errors import FileProblem, UploadBusy
from bulk_upload_app.files.column_aliases import FIELDS
from bulk_upload_app.files.intake import parse_table, validate_file
from bulk_upload_app.files.matching import MatchPlan, check_mapping, derivation_roles, guess
from bulk_upload_app.files.reading import RawTable
from bulk_upload_app.models import ColumnMapping, utcnow
from bulk_upload_app.uploads.records import get_upload, locked_draft


def table_to_json(raw: RawTable) -> dict[str, Any]:
    return {
        "header": list(raw.header),
        "rows": raw.data["row"].cast(pl.Int64).to_list(),
        "columns": [raw.data[f"c{i}"].to_list() for i in range(len(raw.header))],
        "header_row": raw.header_row,
        "extra_values": {str(k): v for k, v in raw.extra_values.items()},
        "file_format": raw.file_format,
        "sheet_name": raw.sheet_name,
        "encoding": raw.encoding,
        "delimiter": raw.delimiter,
        "notices": list(raw.notices),
    }


def table_from_json(data: dict[str, Any]) -> RawTable:
    header = list(data["header"])
    frame = pl.DataFrame(
        {
            **{f"c{i}": pl.Series(values, dtype=pl.String) for i, values in enumerate(data["columns"])},
            "row": pl.Series(data["rows"], dtype=pl.Int64),
        }
    )
    return RawTable(
        header=header,
        data=frame,
        header_row=int(data["header_row"]),
        extra_values={int(k): int(v) for k, v in data["extra_values"].items()},
        file_format=data["file_format"],
        sheet_name=data["sheet_name"],
        encoding=data["encoding"],
        delimiter=data["delimiter"],
        notices=list(data["notices"]),
    )


def titles_key(header: list[str]) -> str:
    return hashlib.sha256("\x1f".join(header).encode()).hexdigest()


def remembered(session: Session, company_id: int, raw: RawTable) -> dict[int, str] | None:
    """The mapping the company confirmed last for a file with exactly these titles, if it still fits."""
    found = session.exec(
        select(ColumnMapping).where(
            ColumnMapping.company_id == company_id, ColumnMapping.titles_key == titles_key(raw.header)
        )
    ).first()
    if found is None:
        return None
    mapping = {int(k): v for k, v in found.mapping.items()}
    try:
        check_mapping(raw, mapping)
    except (FileProblem, ValueError):
        return None
    return mapping


def remember(session: Session, company_id: int, raw: RawTable, mapping: dict[int, str]) -> None:
    key = titles_key(raw.header)
    found = session.exec(
        select(ColumnMapping).where(ColumnMapping.company_id == company_id, ColumnMapping.titles_key == key)
    ).first()
    if found is None:
        found = ColumnMapping(company_id=company_id, titles_key=key)
    found.mapping = {str(i): name for i, name in sorted(mapping.items())}
    found.updated_at = utcnow()
    session.add(found)


def plan_for(session: Session, company_id: int, upload_id: str) -> MatchPlan:
    """Our guess for the upload waiting at the Match step (UploadBusy when none is waiting)."""
    upload = get_upload(session, company_id, upload_id)
    if upload.pending_table is None:
        raise UploadBusy("The columns of this upload are already matched.")
    return guess(table_from_json(upload.pending_table))


def roles_for(session: Session, company_id: int, upload_id: str) -> dict[int, str]:
    """The waiting table's columns a field could be derived from (matching.derivation_roles)."""
    upload = get_upload(session, company_id, upload_id)
    if upload.pending_table is None:
        return {}
    return derivation_roles(table_from_json(upload.pending_table))


def confirm(session: Session, company_id: int, admin_user_id: int | None, upload_id: str, mapping: dict[int, str]):
    """Stage the waiting table with the admin's mapping; FileProblem (MISSING_COLUMN, DUPLICATE_COLUMN)
    when it can't be used, ValueError for a field or column that does not exist."""
    from bulk_upload_app.uploads.staging import stage_upload  # staging builds on this module

    upload = locked_draft(session, company_id, upload_id)
    if upload.pending_table is None:
        raise UploadBusy("The columns of this upload are already matched.")
    if any(name not in FIELDS for name in mapping.values()):
        raise ValueError("Not one of our fields.")
    raw = table_from_json(upload.pending_table)
    parsed = parse_table(raw, upload.file_sha256, mapping=mapping, matched_by="admin")
    validation = validate_file(parsed)
    upload.pending_table = None
    stage_upload(
        session,
        company_id=company_id,
        admin_user_id=admin_user_id,
        file_name=upload.file_name,
        parsed=parsed,
        validation=validation,
        user_type=upload.user_type,
        into=upload,
    )
    remember(session, company_id, raw, mapping)
    return upload
