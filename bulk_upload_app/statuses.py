"""The values an upload's status and a staged row's outcome take, written once."""

from enum import StrEnum


class UploadStatus(StrEnum):
    """Where a bulk upload is in its life. "creating" is a lease: it holds only while
    creating_heartbeat is fresh (importer/creating.py); a stale one counts as interrupted.
    "abandoned": interrupted, never resumed, its rows purged (importer/retention.py)."""

    DRAFT = "draft"
    CREATING = "creating"
    INTERRUPTED = "interrupted"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    ABANDONED = "abandoned"


# Past the draft: the wizard shows these on the Create users step (progress or result).
PAST_DRAFT = (UploadStatus.CREATING, UploadStatus.INTERRUPTED, UploadStatus.DONE, UploadStatus.ABANDONED)


class RowOutcome(StrEnum):
    """What became of a staged row."""

    PENDING = "pending"
    CREATED = "created"
    FAILED = "failed"
    REMOVED = "removed"
