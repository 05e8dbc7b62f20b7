"""A fresh, migrated database of each kind for one measured run, and the place results go."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, text

from bulk_upload_app.settings import PROJECT_ROOT

RESULTS_DIR = PROJECT_ROOT / "bench-results"


def fresh_db(kind: str, workdir: Path, pg_url: str) -> tuple[str, Callable[[], None]]:
    """(URL, drop): a new SQLite file under `workdir`, or a new schema on `pg_url`, migrated to head."""
    from bulk_upload_app.migrations import upgrade

    if kind == "sqlite":
        url = f"sqlite:///{workdir / f'bench-{uuid.uuid4().hex[:6]}.db'}"
        upgrade(url)
        return url, lambda: None
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{pg_url}?options=-csearch_path%3D{schema}"
    upgrade(url)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))

    return url, drop


def results_dir() -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    return RESULTS_DIR
