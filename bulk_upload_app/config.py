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
    return os.environ.get("REFLEX_DB_URL") or f"sqlite:///{PROJECT_ROOT / 'bulk_upload.db'}"


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
        storage_dir=Path(os.environ.get("BULK_UPLOAD_STORAGE_DIR", PROJECT_ROOT / "var" / "uploads")),
    )


@dataclass(frozen=True)
class RetentionSettings:
    draft_days: int
    retention_days: int
    purge_interval_minutes: int


def retention_settings() -> RetentionSettings:
    settings = RetentionSettings(
        draft_days=_int("BULK_UPLOAD_DRAFT_DAYS", 14),
        retention_days=_int("BULK_UPLOAD_RETENTION_DAYS", 30),
        # 0 leaves purging to `bulk-upload purge` (cron, or a single housekeeping process).
        purge_interval_minutes=_int("BULK_UPLOAD_PURGE_INTERVAL_MINUTES", 60),
    )
    # Below a day, a draft an admin is working on right now could be deleted under them.
    for name, days in (("BULK_UPLOAD_DRAFT_DAYS", settings.draft_days), ("BULK_UPLOAD_RETENTION_DAYS", settings.retention_days)):
        if days < 1:
            raise ValueError(f"{name} must be a whole number of days, 1 or more; it is {days}.")
    if settings.purge_interval_minutes < 0:
        raise ValueError(f"BULK_UPLOAD_PURGE_INTERVAL_MINUTES must be 0 (off) or more; it is {settings.purge_interval_minutes}.")
    return settings
