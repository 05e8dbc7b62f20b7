"""Database engines and sessions, the same code on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import polars as pl
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

from bulk_upload_app.settings import get_settings


def get_engine(url: str | None = None) -> Engine:
    """The engine of `url`, by default the configured database's (one engine per URL)."""
    return _engine(url or get_settings().db_url)


@lru_cache(maxsize=8)
def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        _make_sqlite_folder(url)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _configure_sqlite(engine)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    return engine


def _make_sqlite_folder(url: str) -> None:
    # SQLite creates the file but not its folder, and the default file is in .var/, which a
    # fresh clone does not have.
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy emit BEGIN itself, so a writer can ask for BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        # Writers take SQLite's write lock at BEGIN: a deferred transaction that reads and then
        # writes fails at once with "database is locked" when another writer is active, and a
        # seat count read under this lock cannot change before commit. Pure reads opt out.
        read_only = connection.get_execution_options().get("read_only", False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


@contextmanager
def session_scope(engine: Engine | None = None, *, read_only: bool = False) -> Iterator[Session]:
    """A session that commits on success and rolls back on error.

    On SQLite every session but a read_only one holds the write lock from its start; on
    PostgreSQL the engine locks rows itself (SELECT ... FOR UPDATE) where it must.
    """
    engine = engine or get_engine()
    bind = engine.execution_options(read_only=True) if read_only else engine
    with Session(bind, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def copy_rows(session: Session, table: str, columns: list[str], rows: list[tuple]) -> None:
    """Insert many rows inside the session's transaction as fast as the database allows.

    PostgreSQL gets COPY; SQLite its driver's executemany. Values must already be in the
    column's Python form (JSON columns as JSON text).
    """
    connection = session.connection()
    raw = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        names = ", ".join(f'"{c}"' for c in columns)
        with raw.cursor() as cursor, cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)
    else:
        marks = ", ".join("?" for _ in columns)
        names = ", ".join(f'"{c}"' for c in columns)
        raw.cursor().executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', rows)


def copy_frame(session: Session, table: str, frame: pl.DataFrame) -> None:
    """Insert a frame's rows (its columns named as the table's) inside the session's transaction.

    PostgreSQL gets COPY of the frame written as CSV by polars: no Python object per value (an
    empty string is written quoted, a null unquoted, as COPY's CSV format tells them apart).
    SQLite gets its driver's executemany over the frame's rows, made as they are inserted.
    """
    connection = session.connection()
    raw = connection.connection.driver_connection
    names = ", ".join(f'"{c}"' for c in frame.columns)
    if connection.dialect.name == "postgresql":
        with raw.cursor() as cursor, cursor.copy(f'COPY "{table}" ({names}) FROM STDIN (FORMAT csv)') as copy:
            copy.write(frame.write_csv(include_header=False))
    else:
        marks = ", ".join("?" for _ in frame.columns)
        raw.cursor().executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', frame.iter_rows())
