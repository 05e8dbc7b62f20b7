"""Where the app writes at run time by default: under the project's hidden `.var/`.

`reflex run` (dev) restarts the backend when anything changes in a non-hidden top-level entry
of the project root; tests/e2e/test_dev_server.py shows it end to end. These are the fast checks.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from bulk_upload_app.db import get_engine
from bulk_upload_app.settings import PROJECT_ROOT, load_settings


def _top_level_entry(path: Path) -> str:
    return path.resolve().relative_to(PROJECT_ROOT.resolve()).parts[0]


def test_default_database_and_uploads_are_in_the_hidden_runtime_folder():
    settings = load_settings({})
    database = Path(make_url(settings.db_url).database)
    storage = settings.storage_dir
    assert database == PROJECT_ROOT / ".var" / "bulk_upload.db"
    assert storage == PROJECT_ROOT / ".var" / "uploads"
    # Hidden top-level folders are the ones Reflex's dev server does not watch.
    assert _top_level_entry(database) == _top_level_entry(storage) == ".var"


def test_a_sqlite_database_in_a_missing_folder_is_created(tmp_path):
    path = tmp_path / "fresh-clone" / ".var" / "bulk_upload.db"
    engine = get_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()
    assert path.is_file()
