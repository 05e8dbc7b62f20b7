"""A received file (kept in the database by `pipeline.receive`) is read, judged and staged chunk
by chunk by a worker (`process`), so the first rows can be reviewed while the rest are still
being judged. Over 400 lines: the chunk loop, its lease and cancel checks and PostgreSQL's overlap
of judging one chunk while writing the last are one piece of work, read best together.

A row's verdict depends only on the rows before it and the account (the first copy of an email is
kept, later ones are duplicates), so each chunk's verdicts are final when it is committed: the
counts grow, they never change. The worker holds a lease on the upload (`leases.PROCESSING`,
renewed with each chunk) like the create lease: a worker that died is replaced once its lease
lapsed, and the replacement stages the file again from its first row. The admin may cancel
between two chunks.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

import polars as pl
from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bulk_upload_app.db import is_sqlite, session_scope
from bulk_upload_app.errors import ErrorCode, FileProblem, UploadBusy, UploadNotFound
from bulk_upload_app.files.intake import ParsedFile, parse_table, read_raw, template_match
from bulk_upload_app.files.reading import ReadLimits
from bulk_upload_app.files.validation import Validation, validate_rows
from bulk_upload_app.leases import PROCESSING, new_owner
from bulk_upload_app.models import BulkUpload, UploadFile, utcnow
from bulk_upload_app.statuses import UploadStatus
from bulk_upload_app.uploads import capacity, lifecycle, pending
from bulk_upload_app.uploads.records import actor_of, lease_seconds
from bulk_upload_app.uploads.staging import analyze_rows, check_against_account, delete_rows, stage_chunk

FIRST_CHUNK_ROWS = 2_000  # small, so the first grid page shows within a moment
# Later chunks are big: each costs ~0.1 s whatever its size (polars calls, the earlier emails
# joined, a commit), and progress every ~2 s is enough once the first page shows.
CHUNK_ROWS = 200_000
# ... but written in smaller transactions: on SQLite a write transaction holds the database's only
# write lock, which every web request that writes waits for (~0.5 s for 50,000 rows).
WRITE_ROWS = 50_000


class TryLater(Exception):
    """The job cannot run yet (another worker's lease is still fresh, no file slot is free):
    the queue runs it again after a pause."""


class ProcessingLost(UploadBusy):
    """This worker's lease on the upload was taken over (or the upload cancelled); it stops."""


def _claim(engine: Engine, upload_id: str, owner: str, lease: float) -> BulkUpload | None:
    """Take the upload for this worker; None when there is nothing (more) to do."""
    up = BulkUpload.__table__.c
    with session_scope(engine) as session:
        claimed = PROCESSING.claim(
            session, upload_id, owner, utcnow(), lease, when=up.status == UploadStatus.PROCESSING, queued_at=None
        )
        upload = session.get(BulkUpload, upload_id)
        if upload is None or upload.status != UploadStatus.PROCESSING:
            return None  # cancelled, or finished by the worker this one replaces
        if not claimed:
            raise TryLater(f"upload {upload_id} is being processed by {upload.processing_owner}")
        session.expunge(upload)
        return upload


def _beat(session: Session, upload_id: str, owner: str, **values) -> None:
    """Renew the lease in the chunk's transaction; stop when lost or when the admin cancelled."""
    up = BulkUpload.__table__.c
    row = PROCESSING.renew(
        session, upload_id, owner, when=up.status == UploadStatus.PROCESSING, returning=(up.cancel_requested,), **values
    )
    if row is None:
        raise ProcessingLost("Another worker took over processing this file, or it was cancelled.")
    if row.cancel_requested:
        raise ProcessingLost("The admin cancelled processing this file.")


def process(
    engine: Engine,
    upload_id: str,
    *,
    limits: ReadLimits,
    ask_columns: bool = False,
    capacity_limits: capacity.Limits | None = None,
    lease: float | None = None,
    first_chunk: int = FIRST_CHUNK_ROWS,
    chunk: int = CHUNK_ROWS,
    slot_wait: float = 2.0,
) -> str:
    """Read, judge and stage the received file of a "processing" upload; its final status.

    FileProblem when the file cannot be used: recorded on the upload (status "rejected", or back
    to "draft" with its old rows when it was to replace a draft's file) before it is raised.
    TryLater when another worker's lease is still fresh or no file slot is free.
    """
    lease = lease_seconds() if lease is None else lease
    owner = new_owner()
    upload = _claim(engine, upload_id, owner, lease)
    if upload is None:
        return _status(engine, upload_id)
    try:
        if capacity_limits is None:
            return _process_claimed(engine, upload, owner, limits, ask_columns, first_chunk, chunk)
        with capacity.file_slot(engine, upload.company_id, capacity_limits, wait_seconds=slot_wait):
            return _process_claimed(engine, upload, owner, limits, ask_columns, first_chunk, chunk)
    except FileProblem as problem:
        if problem.code == ErrorCode.TOO_MANY_FILES_IN_PROGRESS:
            _release(engine, upload_id, owner)
            raise TryLater(problem.message) from problem
        raise
    except ProcessingLost:
        _cancelled(engine, upload, owner)
        return _status(engine, upload_id)


def _process_claimed(
    engine: Engine,
    upload: BulkUpload,
    owner: str,
    limits: ReadLimits,
    ask_columns: bool,
    first_chunk: int,
    chunk: int,
) -> str:
    with session_scope(engine, read_only=True) as session:
        data = session.execute(select(UploadFile.data).where(UploadFile.upload_id == upload.id)).scalar_one()
    replacing = upload.total_rows > 0 or upload.pending_table is not None  # a draft whose file is replaced
    staging = _Staging(engine, upload, owner)
    # A big text file's first lines are read and judged before the whole file is: the first grid
    # page does not wait for reading a million rows. Not for a replaced file (its old rows stay
    # until the new file is known to be usable) nor when the admin matches the columns.
    head = None if replacing or ask_columns else _head_of(data)
    parsed_head = _parse_head(engine, upload, head, limits) if head is not None else None
    if parsed_head is not None:
        staging.begin(parsed_head, file_rows=_estimated_rows(data, parsed_head))
        # The head's last line may be cut inside a quoted value: it is never staged from the head.
        staging.stage(parsed_head, stop=min(first_chunk, parsed_head.frame.height - 1))
    try:
        raw = read_raw(data, upload.file_name, limits)
        parsed = _parse(engine, upload, raw, ask_columns)
        if parsed is None:
            if raw.data.height == 0:
                raise FileProblem(ErrorCode.NO_DATA_ROWS)
            staging.drop()  # the whole file's columns are not what its head's seemed: the admin matches them
            return _hold_for_matching(engine, upload, owner, raw)
    except FileProblem as problem:
        _reject(engine, upload, owner, problem, len(data), replacing)
        raise
    if parsed_head is None or not _same_start(parsed_head, parsed, staging.staged):
        staging.begin(parsed, file_rows=parsed.frame.height)  # from the first row again
    else:
        staging.describe(parsed)
    staging.stage_rest(parsed, first_chunk=first_chunk, chunk=chunk)
    staging.finish()
    return UploadStatus.DRAFT


HEAD_BYTES = 512 * 1024  # ~7,000 rows of a typical users file: more than the first chunk


def _head_of(data: bytes) -> bytes | None:
    """The first whole lines of a text file big enough for reading its head first to pay off."""
    if len(data) < 4 * HEAD_BYTES or data.startswith((b"PK", b"\xd0\xcf\x11\xe0")) or b"\0" in data[:HEAD_BYTES]:
        return None  # small, a workbook, or UTF-16 text
    cut = data.rfind(b"\n", 0, HEAD_BYTES)
    return data[: cut + 1] if cut > 0 else None


def _parse_head(engine: Engine, upload: BulkUpload, head: bytes, limits: ReadLimits) -> ParsedFile | None:
    """The head read as the whole file would be; None when it can't stand in for it (refused, or
    columns to match): then the whole file decides."""
    try:
        parsed = _parse(engine, upload, read_raw(head, upload.file_name, limits), ask_columns=False)
    except FileProblem:
        return None
    return parsed if parsed is not None and parsed.frame.height > 1 else None


def _estimated_rows(data: bytes, parsed_head: ParsedFile) -> int:
    """Rows in the whole file, guessed from its lines until it is read (a quoted value may span lines)."""
    return max(data.count(b"\n") + (not data.endswith(b"\n")) - parsed_head.raw.header_row, parsed_head.frame.height)


def _same_start(head: ParsedFile, whole: ParsedFile, rows: int) -> bool:
    """Whether the rows staged from the head are what the whole file has in their place."""
    if (head.raw.header, head.mapping, head.matched_by) != (whole.raw.header, whole.mapping, whole.matched_by):
        return False
    if not head.frame.head(rows).equals(whole.frame.head(rows)):
        return False
    last = head.frame["row"][rows - 1] if rows else 0
    extra_of = lambda parsed: {r: n for r, n in (parsed.raw.extra_values or {}).items() if r <= last}  # noqa: E731
    return extra_of(head) == extra_of(whole)


def _parse(engine: Engine, upload: BulkUpload, raw, ask_columns: bool) -> ParsedFile | None:
    """The table under our field names, matched by the template's titles or as the admin matched
    the same titles last time; None when the admin must match the columns."""
    mapping = None if ask_columns else template_match(raw)
    if mapping is not None:
        return parse_table(raw, upload.file_sha256)
    if ask_columns:
        return None
    with session_scope(engine, read_only=True) as session:
        mapping = pending.remembered(session, upload.company_id, raw)
    if mapping is None:
        return None
    parsed = parse_table(raw, upload.file_sha256, mapping=mapping, matched_by="remembered")
    parsed.notices.append(
        "The columns were matched as you matched them last time for a file with the same titles. "
        'To match them differently, upload the file again with "Let me match the columns" ticked.'
    )
    return parsed


class _Staging:
    """A file's rows judged and staged in order, a chunk a transaction that renews the lease; the
    counts on the upload grow with each chunk, and it becomes a draft after the last."""

    def __init__(self, engine: Engine, upload: BulkUpload, owner: str) -> None:
        self.engine, self.upload, self.owner = engine, upload, owner
        self.staged = 0  # rows of the file judged and staged so far
        self.judged = 0  # rows of the file judged so far (staged, or being staged)
        self.seen = pl.DataFrame(schema={"email_norm": pl.String, "first_row": pl.Int64})

    def begin(self, parsed: ParsedFile, *, file_rows: int) -> None:
        """Start (or start again) from the file's first row."""
        with session_scope(self.engine) as session:
            self._beat(session, total_rows=0, valid_rows=0, invalid_rows=0, pending_table=None)
            lifecycle.judging(session, self.upload.id)
            self._describe(session, parsed, file_rows)
            delete_rows(session, self.upload.id)
        self.staged = self.judged = 0
        self.seen = self.seen.clear()

    def drop(self) -> None:
        """Forget the rows staged so far (none when nothing was)."""
        if self.staged:
            with session_scope(self.engine) as session:
                self._beat(session, total_rows=0, valid_rows=0, invalid_rows=0)
                delete_rows(session, self.upload.id)
            self.staged = self.judged = 0
            self.seen = self.seen.clear()

    def describe(self, parsed: ParsedFile) -> None:
        """What the whole file read says about it (its rows, notices), once its head was staged."""
        with session_scope(self.engine) as session:
            self._beat(session)
            self._describe(session, parsed, parsed.frame.height)

    def _describe(self, session: Session, parsed: ParsedFile, file_rows: int) -> None:
        session.execute(
            update(BulkUpload.__table__)
            .where(BulkUpload.__table__.c.id == self.upload.id)
            .values(
                file_rows=file_rows,
                file_sha256=parsed.sha256,
                file_format=parsed.raw.file_format,
                sheet_name=parsed.raw.sheet_name,
                notices=list(parsed.notices),
                column_mapping={"matched_by": parsed.matched_by, "mapping": dict(parsed.mapping)},
            )
        )

    def stage(self, parsed: ParsedFile, *, stop: int) -> None:
        """Judge and stage the file's rows from the next one up to `stop` (exclusive)."""
        judged = self._judge(parsed, stop)
        if judged is not None:
            self._write(judged)

    def stage_rest(self, parsed: ParsedFile, *, first_chunk: int, chunk: int) -> None:
        """Judge and stage the rest of the file, a chunk at a time.

        On PostgreSQL each chunk is judged while the one before it is written: the server does
        the writing in its own process, so the two overlap on two cores. Not on SQLite: its writing
        is this process's own, and sqlite3 takes Python's lock back for every row, so a thread
        judging beside it slows both (measured: `bench --process`). A chunk is judged against the
        rows judged before it, written or not; a failed write (lease lost, cancelled) stops the next.
        """
        size = lambda: chunk if self.judged else first_chunk  # noqa: E731
        if is_sqlite(self.engine):
            while self.judged < parsed.frame.height:
                self.stage(parsed, stop=self.judged + size())
            return
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="staging-writer") as writer:
            writing: Future[None] | None = None
            while self.judged < parsed.frame.height:
                judged = self._judge(parsed, self.judged + size())
                if writing is not None:
                    writing.result()
                if judged is not None:
                    writing = writer.submit(self._write, judged)
            if writing is not None:
                writing.result()

    def _judge(self, parsed: ParsedFile, stop: int) -> Validation | None:
        """The file's rows from the next one not judged up to `stop`, checked against the file's
        earlier rows and the account; None when there are none."""
        part = parsed.frame.slice(self.judged, stop - self.judged)
        if part.height == 0:
            return None
        rows = part["row"]
        extra = {row: found for row, found in (parsed.raw.extra_values or {}).items() if rows[0] <= row <= rows[-1]}
        validation = validate_rows(part, extra, len(parsed.raw.header), earlier_emails=self.seen)
        with session_scope(self.engine, read_only=True) as session:
            validation = check_against_account(session, validation)
        firsts = (
            validation.frame.filter(pl.col("email_norm").is_not_null())
            .group_by("email_norm", maintain_order=True)
            .agg(first_row=pl.col("row").min())
            .join(self.seen, on="email_norm", how="anti")
        )
        self.seen = pl.concat([self.seen, firsts.cast({"first_row": pl.Int64})])
        self.judged += part.height
        return validation

    def _write(self, validation: Validation) -> None:
        """Stage judged rows, the next of the file, WRITE_ROWS a transaction that renews the
        lease and adds them to the upload's counts."""
        for start in range(0, validation.rows, WRITE_ROWS):
            with session_scope(self.engine) as session:
                staged = stage_chunk(
                    session, self.upload.company_id, self.upload.id, validation.slice(start, WRITE_ROWS)
                )
                up = BulkUpload.__table__.c
                self._beat(
                    session,
                    total_rows=up.total_rows + staged.rows,
                    valid_rows=up.valid_rows + staged.valid,
                    invalid_rows=up.invalid_rows + staged.invalid,
                    version=up.version + 1,
                    updated_at=utcnow(),
                )
            self.staged += staged.rows

    def finish(self) -> None:
        upload = self.upload
        with session_scope(self.engine) as session:
            self._beat(session)
            lifecycle.judged(
                session,
                upload.id,
                actor=actor_of(upload.admin_user_id),
                processed_by=self.owner,
                also={**PROCESSING.released(), "file_rows": self.staged},
            )
            session.execute(delete(UploadFile).where(UploadFile.upload_id == upload.id))
        with session_scope(self.engine) as session:  # after the draft is shown: it waits for no ANALYZE
            analyze_rows(session, self.staged)

    def _beat(self, session: Session, **values) -> None:
        _beat(session, self.upload.id, self.owner, **values)


def _hold_for_matching(engine: Engine, upload: BulkUpload, owner: str, raw) -> str:
    """The titles are not ours: keep the table on the draft for the Match columns step."""
    with session_scope(engine) as session:
        _beat(session, upload.id, owner)
        lifecycle.hold_for_matching(
            session,
            upload.id,
            also={
                **PROCESSING.released(),
                "file_format": raw.file_format,
                "sheet_name": raw.sheet_name,
                "pending_table": pending.table_to_json(raw),
                "file_rows": raw.data.height,
                "updated_at": utcnow(),
            },
        )
        session.execute(delete(UploadFile).where(UploadFile.upload_id == upload.id))
    return UploadStatus.DRAFT


def _reject(engine: Engine, upload: BulkUpload, owner: str, problem: FileProblem, size: int, replacing: bool) -> None:
    # A new upload forgets the rows staged from its head; a replaced draft keeps its old rows.
    forget = {} if replacing else {"total_rows": 0, "valid_rows": 0, "invalid_rows": 0, "file_rows": 0}
    with session_scope(engine) as session:
        _beat(session, upload.id, owner)
        lifecycle.reject(
            session,
            upload,
            code=problem.code.value,
            reason=problem.message,
            size=size,
            replacing=replacing,
            also={
                **PROCESSING.released(),
                "problem": f"{problem.code.value}: {problem.message}"[:1000],
                "updated_at": utcnow(),
                **forget,
            },
        )
        session.execute(delete(UploadFile).where(UploadFile.upload_id == upload.id))
        if not replacing:
            delete_rows(session, upload.id)


def _cancelled(engine: Engine, upload: BulkUpload, owner: str) -> None:
    """The admin cancelled while this worker held the upload: the file and its rows are dropped."""
    with session_scope(engine) as session:
        stopped = lifecycle.processing_cancelled(
            session,
            upload,
            lease=PROCESSING.held_by(owner),
            owner=owner,
            also=PROCESSING.released(),
        )
        if not stopped:
            return  # another worker took over: it owns the upload now
        session.execute(delete(UploadFile).where(UploadFile.upload_id == upload.id))
        delete_rows(session, upload.id)


def _release(engine: Engine, upload_id: str, owner: str) -> None:
    with session_scope(engine) as session:
        PROCESSING.release(session, upload_id, owner, queued_at=utcnow())


def _status(engine: Engine, upload_id: str) -> str:
    with session_scope(engine, read_only=True) as session:
        status = session.execute(select(BulkUpload.status).where(BulkUpload.id == upload_id)).scalar_one_or_none()
    if status is None:
        raise UploadNotFound("This bulk upload does not exist.")
    return status


def warm_up() -> None:
    """Judge a one-row file in memory, so a new worker's first file does not pay for loading the
    checks (phone metadata, email rules, polars' expressions: ~0.2 s)."""
    from bulk_upload_app.files.schema import COLUMN_NAMES
    from bulk_upload_app.files.spreadsheet_out import write_csv

    one_row = write_csv(COLUMN_NAMES, [["Ada", "Lovelace", "ada@example.com", "+44", "07400123456"]])
    parsed = parse_table(read_raw(one_row, "warm-up.csv"), "")
    validate_rows(parsed.frame, parsed.raw.extra_values, len(parsed.raw.header))


@dataclass(frozen=True)
class LostJob:
    upload_id: str
    kind: str  # "process" or "create"
    company_id: int
    admin_user_id: int | None
    ask_columns: bool


def lost_jobs(engine: Engine, *, older_than: float) -> list[LostJob]:
    """The jobs to queue again because no worker has shown a sign of them for `older_than`
    seconds: a file or a create queued that long ago and never started, or a file whose worker's
    lease lapsed that long ago (its message was lost with it: Redis restarted without its
    append-only file). Each is marked queued now, so it is handed out once per period; a job
    queued twice runs once (the leases), so a merely slow queue costs a message that does nothing."""
    up = BulkUpload.__table__.c
    cutoff = utcnow() - timedelta(seconds=older_than)
    stuck_file = and_(
        up.status == UploadStatus.PROCESSING,
        or_(
            and_(up.processing_owner.is_(None), up.queued_at < cutoff),
            up.processing_heartbeat < cutoff,
        ),
    )
    stuck_create = and_(up.status.in_((UploadStatus.DRAFT, UploadStatus.INTERRUPTED)), up.queued_at < cutoff)
    with session_scope(engine) as session:
        found = session.execute(
            update(BulkUpload.__table__)
            .where(or_(stuck_file, stuck_create), up.cancel_requested.is_(False))
            .values(queued_at=utcnow())
            .returning(up.id, up.status, up.company_id, up.admin_user_id, up.ask_columns)
        ).all()
    return [
        LostJob(
            upload_id=row.id,
            kind="process" if row.status == UploadStatus.PROCESSING else "create",
            company_id=row.company_id,
            admin_user_id=row.admin_user_id,
            ask_columns=row.ask_columns,
        )
        for row in found
    ]
