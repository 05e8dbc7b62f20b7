"""The engine's bulk upload API in one name, for its callers: a file staged as a draft
(staging.py), looked up within its company (records.py), its users created (creating.py)."""

from .create_lease import LeaseLost, recover_stale
from .creating import CREATE_CHUNK, CreateResult, create_users
from .errors import UploadBusy, UploadNotFound
from .processing import TryLater, draft_from_file, process, receive
from .records import (
    company_exists,
    company_seats,
    failed_rows,
    get_upload,
    is_stale,
    lease_seconds,
    locked_draft,
    rows_with_email_of_other_company,
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
    "lease_seconds",
    "locked_draft",
    "process",
    "receive",
    "recover_stale",
    "rows_with_email_of_other_company",
    "seat_problem",
    "stage_upload",
]
