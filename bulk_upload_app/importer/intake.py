"""From uploaded bytes to checked rows: read the file, map its headers, validate."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import polars as pl

from .errors import ErrorCode, FileProblem
from .headers import looks_like_template_header, map_headers
from .reading import RawTable, ReadLimits, read_table
from .schema import COLUMN_NAMES
from .spreadsheet_out import unescape_csv_safe
from .validation import Validation, validate_rows


@dataclass
class ParsedFile:
    """The file's rows under the template's column names, with what we noticed reading it."""

    frame: pl.DataFrame  # row + template columns, "" for empty
    raw: RawTable
    notices: list[str] = field(default_factory=list)
    sha256: str = ""


def parse_file(data: bytes, filename: str, limits: ReadLimits | None = None) -> ParsedFile:
    raw = read_table(data, filename, limits or ReadLimits(), is_header=looks_like_template_header)
    mapping = map_headers(raw.header)
    columns = [
        (pl.col(f"c{mapping.positions[name]}") if name in mapping.positions else pl.lit("")).alias(name)
        for name in COLUMN_NAMES
    ]
    frame = raw.data.select(pl.col("row").cast(pl.Int64), *columns)
    if raw.file_format in ("csv", "tsv"):
        frame = _without_formula_apostrophe(frame)
    if frame.height == 0:
        raise FileProblem(ErrorCode.NO_DATA_ROWS)
    return ParsedFile(
        frame=frame,
        raw=raw,
        notices=[*raw.notices, *mapping.notices],
        sha256=hashlib.sha256(data).hexdigest(),
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
