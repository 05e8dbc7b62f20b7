"""The engine's bulk upload API in one name, for its callers: a file received and staged as a
draft (pipeline.py, processing.py, staging.py), looked up within its company (records.py), its
users created (creating.py)."""

from .creating import CREATE_CHUNK, CreateResult, create_users
from .errors import UploadBusy, UploadNotFound
from .leases import LeaseLost, recover_stale
from .pipeline import draft_from_file, receive, stage_batch
from .processing import TryLater, process
from .records import (
    company_exists,
    company_seats,
    failed_rows,
    get_upload,
    is_stale,
    locked_draft,
    seat_problem,
)
from .staging import (
    check_against_account,
    configure_batch,
    stage_upload,
)

__all__ = [
    "CREATE_CHUNK",
    "CreateResult",
    "LeaseLost",
    "TryLater",
    "UploadBusy",
    "UploadNotFound",
    "check_against_account",
    "company_exists",
    "company_seats",
    "configure_batch",
    "create_users",
    "draft_from_file",
    "failed_rows",
    "get_upload",
    "is_stale",
    "locked_draft",
    "process",
    "receive",
    "recover_stale",
    "seat_problem",
    "stage_batch",
    "stage_upload",
]
