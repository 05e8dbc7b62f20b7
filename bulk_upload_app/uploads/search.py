"""Searching a draft's rows: which rows contain a term in any of their five values, in file order.

A draft keeps the lower-cased text of its rows in blocks of up to BLOCK_ROWS rows
(`bulk_upload_row_text`), one line a row, written set-wise with each staged chunk and rewritten
line by line by edits. A search asks the database for the blocks containing the term (one string
search over ~1,000 block values for a million rows, where the rows themselves cost one row visit
and five LIKEs each: 1.6-2.8 s), finds the matching lines in Python, and keeps the rows that are
still in the draft (not removed; with errors when asked) by their row numbers.

Matching is `term.lower() in value.lower()` for some value, on both databases and for any letter
("é" finds "É"): text and term are lower-cased by one function (`_lowered`), never by SQL.
"""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl
from sqlalchemy import Integer, any_, bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Session

from bulk_upload_app.db import copy_rows
from bulk_upload_app.files.schema import COLUMN_NAMES
from bulk_upload_app.models import BulkUploadRow, RowTextBlock
from bulk_upload_app.statuses import RowOutcome

BLOCK_ROWS = 1000  # an edit rewrites one block (~65 KB); a search reads a million rows' text in 1,000
ROW_END = "\x1e"  # between the lines of a block
VALUE_END = "\x1f"  # between the values of a line
# A term holding either can't be told apart from the separators; such a term is searched row by row.
SEPARATORS = (ROW_END, VALUE_END)
_FIRST_WINDOW_ROWS = 8 * BLOCK_ROWS  # the rows whose blocks are read by a search's first query
# Matching rows looked up in one query (see matching_rows).
_FEWEST_LOOKED_UP, _MOST_LOOKED_UP = 100, 1000


def _lowered(values: pl.Expr) -> pl.Expr:
    return values.fill_null("").str.to_lowercase()


def search_term(search: str) -> str:
    """The term a search box's text is matched with (lower-cased like the rows' text)."""
    if not search.strip():
        return ""
    return pl.select(_lowered(pl.lit(search.strip(), dtype=pl.String))).item()


def can_search(term: str) -> bool:
    return bool(term) and not any(s in term for s in SEPARATORS)


def _lines(frame: pl.DataFrame) -> pl.DataFrame:
    """`row` and its `line`: the row's values lower-cased, a ROW_END inside one made a VALUE_END
    (a line is then always one row, and no term that can be searched spans two values)."""
    values = [_lowered(pl.col(c)).str.replace_all(ROW_END, VALUE_END, literal=True) for c in COLUMN_NAMES]
    return frame.select(pl.col("row").cast(pl.Int64), line=pl.concat_str(values, separator=VALUE_END))


def add_rows(session: Session, upload_id: str, frame: pl.DataFrame) -> None:
    """Store the text of newly staged rows (a frame with `row` and the five columns; none of its
    rows staged before)."""
    if frame.height == 0:
        return
    blocks = (
        _lines(frame.select("row", *COLUMN_NAMES).sort("row"))
        .with_row_index("i")
        .group_by(pl.col("i") // BLOCK_ROWS, maintain_order=True)
        .agg(
            first_row=pl.col("row").first(),
            last_row=pl.col("row").last(),
            row_numbers=pl.col("row").cast(pl.String).str.join(" "),
            text=pl.col("line").str.join(ROW_END),
        )
    )
    copy_rows(
        session,
        RowTextBlock.__tablename__,
        ["upload_id", "first_row", "last_row", "row_numbers", "text"],
        [(upload_id, *values) for values in blocks.select("first_row", "last_row", "row_numbers", "text").iter_rows()],
    )


def update_rows(session: Session, upload_id: str, frame: pl.DataFrame) -> None:
    """Rewrite the lines of rows whose values changed (`row` + the five columns)."""
    for number, line in _lines(frame).iter_rows():
        block = (
            session.exec(
                select(RowTextBlock)
                .where(RowTextBlock.upload_id == upload_id, RowTextBlock.first_row <= number)
                .order_by(RowTextBlock.first_row.desc())
                .limit(1)
            )
            .scalars()
            .first()
        )
        if block is None or block.last_row < number:
            continue  # a draft staged before blocks existed: searched row by row (see `matching_rows`)
        numbers = block.row_numbers.split(" ")
        lines = block.text.split(ROW_END)
        lines[numbers.index(str(number))] = line
        session.execute(
            update(RowTextBlock.__table__)
            .where(RowTextBlock.upload_id == upload_id, RowTextBlock.first_row == block.first_row)
            .values(text=ROW_END.join(lines))
        )


def forget(session: Session, upload_id: str) -> None:
    """Drop the text of all the draft's rows (its rows are being deleted)."""
    session.execute(delete(RowTextBlock.__table__).where(RowTextBlock.upload_id == upload_id))


def matching_rows(session: Session, upload_id: str, term: str, *, only_errors: bool, wanted: int) -> list[int] | None:
    """The ids of the first `wanted` rows of the draft containing `term` (`can_search`), in file order;
    None when the draft has no text for its first rows (staged, at least in part, before
    migration 0020_row_text; or no rows): search it row by row.

    Only blocks holding the term come back from the database; the database's string search and
    Python's `in` agree (both compare the same characters), so a block's lines are matched here.
    """
    conditions = [BulkUploadRow.upload_id == upload_id, BulkUploadRow.outcome != RowOutcome.REMOVED]
    if only_errors:
        conditions.append(BulkUploadRow.is_valid.is_(False))

    postgres = session.get_bind().dialect.name == "postgresql"

    def still_matching(numbers: list[int]) -> list[int]:
        if postgres:  # one array parameter: 1,000 parameters cost ~20 ms more
            among = BulkUploadRow.row_number == any_(bindparam("numbers", numbers, ARRAY(Integer)))
        else:
            among = BulkUploadRow.row_number.in_(numbers)
        query = select(BulkUploadRow.id).where(*conditions, among)
        return list(session.exec(query.order_by(BulkUploadRow.row_number)).scalars().all())

    first, last = session.exec(
        select(func.min(RowTextBlock.first_row), func.max(RowTextBlock.first_row)).where(
            RowTextBlock.upload_id == upload_id
        )
    ).one()
    first_staged = session.exec(
        select(func.min(BulkUploadRow.row_number)).where(BulkUploadRow.upload_id == upload_id)
    ).scalar_one()
    if last is None or first != first_staged:
        # No text, or none for its first rows: staged (in part) by a worker from before migration 0020_row_text.
        return None
    found: list[int] = []
    candidates: list[int] = []  # row numbers of matching lines, not yet looked up
    for first_row, last_row, numbers, text in _blocks_with(session, upload_id, term, last):
        lines = list(_lines_holding(text, term))
        if last_row - first_row == text.count(ROW_END):  # consecutive rows, as nearly always
            candidates += [first_row + line for line in lines]
        else:
            every = numbers.split(" ")
            candidates += [int(every[line]) for line in lines]
        # As many as are still wanted (a common term: 1,000 then ~100, not 2,000), but no fewer
        # than _FEWEST_LOOKED_UP (a term in few rows of each block: one query for many blocks).
        while len(candidates) >= (size := min(max(wanted - len(found), _FEWEST_LOOKED_UP), _MOST_LOOKED_UP)):
            found += still_matching(candidates[:size])
            candidates = candidates[size:]
            if len(found) >= wanted:
                return found[:wanted]
    if candidates:
        found += still_matching(candidates)
    return found[:wanted]


def _lines_holding(text: str, term: str) -> Iterator[int]:
    """Indexes of the lines of a block's text holding `term` (which holds no ROW_END): found by
    str.find from match to match, not by splitting a thousand lines and testing each."""
    line, counted_to = 0, 0
    at = text.find(term)
    while at >= 0:
        line += text.count(ROW_END, counted_to, at)
        yield line
        end = text.find(ROW_END, at)
        if end < 0:
            return
        line, counted_to = line + 1, end + 1
        at = text.find(term, counted_to)


def _blocks_with(session: Session, upload_id: str, term: str, last: int) -> Iterator[tuple[int, int, str, str]]:
    """(first_row, last_row, row_numbers, text) of the draft's blocks containing `term`, in file order.

    Read a window of row numbers at a time, each twice as wide as the one before: a common term
    stops after the first few blocks, a rare one costs a handful of queries. Without the window
    PostgreSQL read every block and sorted the matches, even to stop after the first 8.
    """
    block = RowTextBlock
    position = func.strpos if session.get_bind().dialect.name == "postgresql" else func.instr
    start, width = 0, _FIRST_WINDOW_ROWS
    while start <= last:
        # The row number conditions come first: PostgreSQL evaluates these before the string search.
        query = select(block.first_row, block.last_row, block.row_numbers, block.text).where(
            block.upload_id == upload_id,
            block.first_row >= start,
            block.first_row < start + width,
            position(block.text, term) > 0,
        )
        yield from session.exec(query.order_by(block.first_row)).all()
        start, width = start + width, width * 2
