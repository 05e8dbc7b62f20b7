"""Settings read from the environment, in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def db_url() -> str:
    return os.environ.get("REFLEX_DB_URL") or f"sqlite:///{PROJECT_ROOT / '.var' / 'bulk_upload.db'}"


@dataclass(frozen=True)
class ImportSettings:
    max_file_bytes: int
    max_rows: int
    legacy_dashboard_url: str
    storage_dir: Path


def import_settings() -> ImportSettings:
    return ImportSettings(
        max_file_bytes=_int("BULK_UPLOAD_MAX_FILE_MB", 100) * 1024 * 1024,  # a million 5-column rows is ~62 MB
        max_rows=_int("BULK_UPLOAD_MAX_ROWS", 1_000_000),
        legacy_dashboard_url=os.environ.get(
            "BULK_UPLOAD_LEGACY_DASHBOARD_URL", "http://localhost:3000/legacy-dashboard"
        ),
        # Kept outside Reflex's upload dir, which is served publicly at /_upload.
        storage_dir=Path(os.environ.get("BULK_UPLOAD_STORAGE_DIR", PROJECT_ROOT / ".var" / "uploads")),
    )
