"""The values an upload's status, a staged row's outcome and an outbox message's status take, written once."""

from enum import StrEnum


class UploadStatus(StrEnum):
    """Where a bulk upload is in its life; the moves between them: uploads/lifecycle.py.
    "creating" is a lease: it holds only while creating_heartbeat is fresh (leases.py);
    a stale one counts as interrupted. "abandoned": interrupted, never resumed, its rows purged
    (uploads/retention.py)."""

    PROCESSING = "processing"  # a worker reads and judges the file; its rows appear as they are judged
    REJECTED = "rejected"  # the file could not be used (its `problem` says why); nothing was staged
    DRAFT = "draft"
    CREATING = "creating"
    INTERRUPTED = "interrupted"
    DONE = "done"
    CANCELLED = "cancelled"
    ABANDONED = "abandoned"
    UNDONE = "undone"  # every user it created was removed again (uploads/undo.py)
    PARTLY_UNDONE = "partly_undone"  # removed, but for users that changed since they were created


# An early version marked a create that stopped "failed"; none does now (it is "interrupted" and
# resumes). Rows that still hold it read as expired and are purged as finished.
RETIRED_FAILED = "failed"


class WizardStep(StrEnum):
    """The wizard's steps. An upload stores where the admin comes back to (`wizard_step`: match,
    review, settings, creating); template and upload come before there is an upload, result is
    shown for any upload past creating."""

    TEMPLATE = "template"
    UPLOAD = "upload"
    MATCH = "match"  # the file's titles are not ours: the admin matches its columns (uploads/pending.py)
    REVIEW = "review"
    SETTINGS = "settings"  # the batch: user type, settings, groups, numbers, skills
    CREATING = "creating"
    RESULT = "result"


# Past the draft: the wizard shows these on the Create users step (progress or result).
PAST_DRAFT = (
    UploadStatus.CREATING,
    UploadStatus.INTERRUPTED,
    UploadStatus.DONE,
    UploadStatus.CANCELLED,
    UploadStatus.ABANDONED,
    UploadStatus.UNDONE,
    UploadStatus.PARTLY_UNDONE,
)


class UploadSource(StrEnum):
    """Who started an upload."""

    WIZARD = "wizard"
    CLI = "cli"
    API = "api"  # the HTTP API (/api/v1)
    SCIM = "scim"  # an identity provider over SCIM 2.0 (one upload per POST or per Bulk request)


# The words an admin reads for a status (the history's labels and its filter).
STATUS_LABELS = {
    "processing": "Processing",
    "rejected": "Rejected",
    "draft": "Draft",
    "creating": "Creating",
    "created": "Created",
    "created_with_failures": "Created with failures",
    "interrupted": "Interrupted",
    "cancelled": "Cancelled",
    "undone": "Undone",
    "partly_undone": "Partly undone",
    "expired": "Expired / abandoned",
}


def shown_status(status: str, failed_count: int) -> str:
    """The STATUS_LABELS key of an upload: "done" splits in two, "abandoned" (and the retired
    "failed") read expired."""
    if status == UploadStatus.DONE:
        return "created_with_failures" if failed_count else "created"
    if status in (UploadStatus.ABANDONED, RETIRED_FAILED):
        return "expired"
    return status if status in STATUS_LABELS else "expired"


class RowOutcome(StrEnum):
    """What became of a staged row."""

    PENDING = "pending"
    CREATED = "created"
    FAILED = "failed"
    REMOVED = "removed"
    UNDONE = "undone"  # created, then removed by undoing the upload


class OutboxStatus(StrEnum):
    """Where a message of the outbox is (delivery/outbox.py)."""

    PENDING = "pending"  # due at next_attempt_at
    SENDING = "sending"  # claimed by claimed_by until lease_until
    SENT = "sent"
    SKIPPED = "skipped"  # nothing to send: no address (last_error says why)
    NOT_SENT = "not_sent"  # could not even try: no mail server configured
    FAILED = "failed"  # gave up: refused for good, or MAX_ATTEMPTS reached (last_error says why)
