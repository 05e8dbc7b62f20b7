"""From uploaded bytes to checked rows: read the file, map its headers, validate."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import polars as pl

from bulk_upload_app.errors import ErrorCode, FileProblem
from bulk_upload_app.files import matching
from bulk_upload_app.files.headers import map_headers
from bulk_upload_app.files.reading import RawTable, ReadLimits, read_table
from bulk_upload_app.files.schema import COLUMN_NAMES
from bulk_upload_app.files.spreadsheet_out import unescape_csv_safe
from bulk_upload_app.files.validation import Validation, validate_rows


@dataclass
class ParsedFile:
    """The file's rows under the template's column names, with what we noticed reading it."""

    frame: pl.DataFrame  # row + template columns, "" for empty
    raw: RawTable
    notices: list[str] = field(default_factory=list)
    sha256: str = ""
    # How the columns were matched: {file title: our field}, and by whom ("template" for our own
    # titles or near misses, "guessed", "remembered", "admin").
    mapping: dict[str, str] = field(default_factory=dict)
    matched_by: str = "template"


def read_raw(data: bytes, filename: str, limits: ReadLimits | None = None) -> RawTable:
    """The file's table as it is: titles and values, before any matching."""
    return read_table(data, filename, limits or ReadLimits(), is_header=matching.looks_like_header)


def template_match(raw: RawTable) -> dict[int, str] | None:
    """The mapping when the titles are the template's (exact or near misses); None when another
    column could be matched to what is missing; FileProblem when nothing could (DUPLICATE_COLUMN,
    or MISSING_COLUMN in a file of template titles only)."""
    try:
        positions = map_headers(raw.header).positions
        if not matching.template_fits(raw, positions):
            return None
    except FileProblem as problem:
        if problem.code is not ErrorCode.MISSING_COLUMN:
            raise
        plan = matching.guess(raw)
        if plan.confident or any(c.field == "" and raw.header[c.index] for c in plan.columns):
            return None
        raise
    return {index: name for name, index in positions.items()}


def parse_file(
    data: bytes,
    filename: str,
    limits: ReadLimits | None = None,
    *,
    mapping: dict[int, str] | None = None,
    overrides: dict[str, str] | None = None,
) -> ParsedFile:
    """The file read and matched: by `mapping` when given; else by the template's titles; else by a
    confident guess (with `overrides`, "TITLE" -> field, applied to it); else MISSING_COLUMN."""
    raw = read_raw(data, filename, limits)
    return parse_table(raw, hashlib.sha256(data).hexdigest(), mapping=mapping, overrides=overrides)


def parse_table(
    raw: RawTable,
    sha256: str,
    *,
    mapping: dict[int, str] | None = None,
    overrides: dict[str, str] | None = None,
    matched_by: str = "admin",
) -> ParsedFile:
    notices = list(raw.notices)
    if mapping is None and not overrides:
        try:
            template = map_headers(raw.header)
            if not matching.template_fits(raw, template.positions):
                raise FileProblem(ErrorCode.MISSING_COLUMN, column="countryprefix", candidates="")
        except FileProblem as problem:
            if problem.code is not ErrorCode.MISSING_COLUMN:
                raise
            plan = matching.guess(raw)
            if not plan.confident:
                raise matching.missing_column_problem(plan) from None
            mapping, matched_by = plan.mapping, "guessed"
        else:
            mapping, matched_by = {i: name for name, i in template.positions.items()}, "template"
            notices += template.notices
    elif mapping is None:
        mapping = matching.with_overrides(raw, matching.guess(raw).mapping, overrides or {})
        matched_by = "admin"
    matching.check_mapping(raw, mapping)
    frame, derived = matching.frame_for(raw, mapping)
    if matched_by != "template":
        notices += matching.mapping_notices(raw, mapping, matched_by)
    notices += derived
    if raw.file_format in ("csv", "tsv"):
        frame = _without_formula_apostrophe(frame)
    if frame.height == 0:
        raise FileProblem(ErrorCode.NO_DATA_ROWS)
    return ParsedFile(
        frame=frame,
        raw=raw,
        notices=notices,
        sha256=sha256,
        mapping=matching.describe(raw, mapping),
        matched_by=matched_by,
    )


def _without_formula_apostrophe(frame: pl.DataFrame) -> pl.DataFrame:
    """Undo the apostrophes our CSV reports put before formula-like cells (see spreadsheet_out)."""
    changed = [
        pl.Series(name, [unescape_csv_safe(v) if v else v for v in frame[name].to_list()], dtype=pl.String)
        for name in COLUMN_NAMES
        if frame[name].str.contains("'", literal=True).any()  # most files have none: skip them in bulk
    ]
    return frame.with_columns(changed) if changed else frame


def validate_file(parsed: ParsedFile) -> Validation:
    return validate_rows(parsed.frame, parsed.raw.extra_values, len(parsed.raw.header))
