"""Leases: one worker at a time acts on a row — an upload whose file is processed (PROCESSING), an
upload whose users are created (CREATING, rules in uploads/create_lease.py), an outbox message
being delivered (DELIVERY, delivery/outbox.py).

A lease is two columns of the leased row: its owner, and a clock that is either the owner's last
heartbeat (stale once older than the lease) or the moment the lease ends (stale once passed).

- `claim`: one conditional UPDATE (compare-and-set) that takes the row when it is free or its
  holder is stale. Two claimants never both win: on SQLite writers take turns, on PostgreSQL the
  second UPDATE re-reads the row after the first commits and no longer matches.
- `renew`: the heartbeat, by the owner only, in the transaction of the work it vouches for; a
  holder that was replaced renews nothing, so it commits nothing more.
- `release`: the owner gives the row up (a heartbeat stays as the last sign of life it gave).
- `stale` / `is_stale`: the same question as SQL (for claims and lists) and in Python.

What else a claim, renewal or release writes (a status, counts) is the caller's, passed as
`values` and `when`: the lease itself only decides who holds the row. A move of an upload's
status is uploads/lifecycle.py's UPDATE; the lease gives it its parts instead (`held_by`,
`taken_by`, `released`), so the status and the lease still change in one statement.

An owner is `<worker id>/<hold>`: the worker id names the process (host, pid and a tag drawn when
it started, since pids repeat across containers), so leases can be tied to the liveness of the
worker that holds them; the hold tells two holds of one process apart (two threads, or a process
resuming its own stale work), so a holder that was replaced never passes for its successor.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Column, ColumnElement, Row, Table, or_, update
from sqlmodel import Session

from bulk_upload_app.models import BulkUpload, OutboxMessage, utcnow

_worker_ids: dict[int, str] = {}


def worker_id() -> str:
    """This process, as lease owners name it: "host:pid:tag" (a forked worker gets its own)."""
    pid = os.getpid()
    if pid not in _worker_ids:
        _worker_ids[pid] = f"{socket.gethostname()[:40]}:{pid}:{secrets.token_hex(3)}"
    return _worker_ids[pid]


def new_owner() -> str:
    """An owner for one hold of a lease by this process (fits the 80-character owner columns)."""
    return f"{worker_id()}/{secrets.token_hex(4)}"


def worker_of(owner: str) -> str:
    """The worker id of an owner (owners written before worker ids are returned whole)."""
    return owner.rsplit("/", 1)[0]


@dataclass(frozen=True)
class Lease:
    """Where one kind of lease lives: the leased table (keyed by `id`), its owner column and its clock."""

    table: Table
    owner: Column
    clock: Column
    deadline: bool = False  # the clock holds when the lease ends, not the last heartbeat

    def stale(self, now: datetime, seconds: float = 0.0) -> ColumnElement[bool]:
        """Rows whose holder, if any, is taken for dead at `now` with a lease of `seconds`."""
        if self.deadline:
            return or_(self.clock.is_(None), self.clock < now)
        return or_(self.clock.is_(None), self.clock < now - timedelta(seconds=seconds))

    def free_or_stale(self, now: datetime, seconds: float) -> ColumnElement[bool]:
        return or_(self.owner.is_(None), self.stale(now, seconds))

    def is_stale(self, clock: datetime | None, now: datetime | None = None, seconds: float = 0.0) -> bool:
        """`stale` for a clock value read from the row."""
        if clock is None:
            return True
        if clock.tzinfo is None:
            clock = clock.replace(tzinfo=UTC)
        now = now or utcnow()
        return clock < (now if self.deadline else now - timedelta(seconds=seconds))

    def held_by(self, owner: str | None) -> ColumnElement[bool]:
        """Rows `owner` holds (None: rows nobody holds)."""
        return self.owner.is_(None) if owner is None else self.owner == owner

    def taken_by(self, owner: str, now: datetime, seconds: float) -> dict[str, Any]:
        """The values of a claim by `owner` (the row must be free or stale: `free_or_stale`)."""
        return {self.owner.name: owner, self.clock.name: self._clock_at(now, seconds)}

    def released(self) -> dict[str, Any]:
        """The values of a release (a heartbeat stays as the last sign of life; a deadline goes)."""
        return {self.owner.name: None, **({self.clock.name: None} if self.deadline else {})}

    def _clock_at(self, now: datetime, seconds: float) -> datetime:
        return now + timedelta(seconds=seconds) if self.deadline else now

    def claim(
        self,
        session: Session,
        key: Any,
        owner: str,
        now: datetime,
        seconds: float,
        *,
        when: ColumnElement[bool] | None = None,
        **values: Any,
    ) -> bool:
        """Take the row for `owner` if it is free or its holder stale (and `when` holds), writing
        `values` with it; whether it was taken."""
        where = [self.table.c.id == key, self.free_or_stale(now, seconds)]
        if when is not None:
            where.append(when)
        taken = session.execute(
            update(self.table).where(*where).values({**self.taken_by(owner, now, seconds), **values})
        )
        return taken.rowcount == 1

    def renew(
        self,
        session: Session,
        key: Any,
        owner: str,
        *,
        now: datetime | None = None,
        seconds: float = 0.0,
        when: ColumnElement[bool] | None = None,
        returning: tuple[Column, ...] = (),
        **values: Any,
    ) -> Row | None:
        """The heartbeat: `owner` still holds the row (and `when` holds), proved with `values` in
        the same UPDATE; the row's `returning` columns, or None when `owner` lost it."""
        clock = self._clock_at(now or utcnow(), seconds)
        return self._as_owner(session, key, owner, when, returning, {self.clock.name: clock, **values})

    def release(
        self,
        session: Session,
        key: Any,
        owner: str | None,
        *,
        when: ColumnElement[bool] | None = None,
        returning: tuple[Column, ...] = (),
        **values: Any,
    ) -> Row | None:
        """Give the row up, writing `values` with it; as `renew`, None when `owner` had lost it.
        (A recovery releases for a dead owner, which may be None: a stale row nobody claimed.)"""
        return self._as_owner(session, key, owner, when, returning, {**self.released(), **values})

    def _as_owner(
        self,
        session: Session,
        key: Any,
        owner: str | None,
        when: ColumnElement[bool] | None,
        returning: tuple[Column, ...],
        values: dict[str, Any],
    ) -> Row | None:
        where = [self.table.c.id == key, self.held_by(owner)]
        if when is not None:
            where.append(when)
        return session.execute(
            update(self.table).where(*where).values(values).returning(self.table.c.id, *returning)
        ).first()


_upload = BulkUpload.__table__
# A worker reading, judging and staging a received file (uploads/processing.py).
PROCESSING = Lease(_upload, _upload.c.processing_owner, _upload.c.processing_heartbeat)
# A worker creating an upload's users (uploads/create_lease.py, uploads/creating.py).
CREATING = Lease(_upload, _upload.c.creating_owner, _upload.c.creating_heartbeat)
_outbox = OutboxMessage.__table__
# A deliverer sending an outbox message (delivery/outbox.py): a deadline, since sending is one
# call with no chunks between which to renew.
DELIVERY = Lease(_outbox, _outbox.c.claimed_by, _outbox.c.lease_until, deadline=True)
