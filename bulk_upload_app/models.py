"""Every table of the app. Over 400 lines: in one module so that the whole schema (and what
alembic compares the migrations with) is read in one place; split it by area into a package if it
grows past ~500 lines.

Emails are stored lowercase, so the unique index makes them unique case-insensitively."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Optional

from sqlalchemy import JSON, Column, Index, LargeBinary, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from bulk_upload_app.statuses import OutboxStatus, RowOutcome, UploadStatus


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_upload_id() -> str:
    return uuid.uuid4().hex


class Company(SQLModel, table=True):
    __tablename__ = "company"
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    seats: int = Field(ge=0)
    default_settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    # The demo seed's company: the only one the demo sign-in may enter (never set in production).
    is_demo: bool = Field(default=False)


class User(SQLModel, table=True):
    __tablename__ = "app_user"
    __table_args__ = (UniqueConstraint("company_id", "extension", name="uq_app_user_company_extension"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    # No index of its own: uq_app_user_company_extension begins with company_id (migration 0018_fast_create).
    company_id: int = Field(foreign_key="company.id")
    firstname: str = Field(max_length=100)
    lastname: str = Field(max_length=100)
    email: str = Field(max_length=254, unique=True)
    country_prefix: str = Field(max_length=6)
    phone: Optional[str] = Field(default=None, max_length=20)
    extension: int
    user_type: str = Field(max_length=20)
    # None means "use company settings".
    settings: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON, nullable=True))
    is_active: bool = Field(default=True)
    bulk_upload_id: Optional[str] = Field(default=None, foreign_key="bulk_upload.id", index=True, max_length=32)
    created_at: datetime = Field(default_factory=utcnow)
    # Set with created_at when the user is created and bumped on every change (the ORM's and Core's
    # UPDATEs of this table): a user whose updated_at is past created_at changed since (undo keeps it).
    updated_at: Optional[datetime] = Field(default_factory=utcnow, sa_column_kwargs={"onupdate": utcnow})


class Group(SQLModel, table=True):
    __tablename__ = "user_group"
    __table_args__ = (UniqueConstraint("company_id", "name", name="uq_user_group_company_name"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="company.id", index=True)
    name: str = Field(max_length=100)


class GroupMember(SQLModel, table=True):
    __tablename__ = "group_member"
    user_id: int = Field(foreign_key="app_user.id", primary_key=True)
    group_id: int = Field(foreign_key="user_group.id", primary_key=True, index=True)


class OutboundNumber(SQLModel, table=True):
    __tablename__ = "outbound_number"
    __table_args__ = (UniqueConstraint("company_id", "number", name="uq_outbound_number_company_number"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="company.id", index=True)
    number: str = Field(max_length=20)  # E.164
    label: str = Field(default="", max_length=100)


class UserOutboundNumber(SQLModel, table=True):
    __tablename__ = "user_outbound_number"
    user_id: int = Field(foreign_key="app_user.id", primary_key=True)
    outbound_number_id: int = Field(foreign_key="outbound_number.id", primary_key=True, index=True)


class Skill(SQLModel, table=True):
    __tablename__ = "skill"
    __table_args__ = (UniqueConstraint("company_id", "name_key", name="uq_skill_company_name_key"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="company.id", index=True)
    name: str = Field(max_length=100)
    name_key: str = Field(max_length=100)  # casefolded name: "Spanish" and "spanish" are one skill


class UserSkill(SQLModel, table=True):
    __tablename__ = "user_skill"
    user_id: int = Field(foreign_key="app_user.id", primary_key=True)
    skill_id: int = Field(foreign_key="skill.id", primary_key=True, index=True)
    level: int


class BulkUpload(SQLModel, table=True):
    """One run of the wizard (or of `bulk-upload import`): a draft until its users are created."""

    __tablename__ = "bulk_upload"
    id: str = Field(default_factory=new_upload_id, primary_key=True, max_length=32)
    company_id: int = Field(foreign_key="company.id", index=True)
    # The signed-in admin; no foreign key, as the dashboard may sign in admins we hold no row for.
    admin_user_id: Optional[int] = None
    file_name: str = Field(default="", max_length=255)
    file_sha256: str = Field(default="", max_length=64)
    file_format: str = Field(default="", max_length=10)
    sheet_name: Optional[str] = Field(default=None, max_length=255)
    stored_file: Optional[str] = Field(default=None, max_length=255)
    user_type: str = Field(default="agent", max_length=20)
    # Where it came from: an UploadSource ("wizard", "cli"; "api" later).
    source: str = Field(default="wizard", max_length=10)
    # The batch: {"settings": dict|None, "group_ids": [...], "outbound_number_ids": [...],
    #             "skills": [{"skill_id": int, "level": int}]}
    batch: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    notices: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=UploadStatus.DRAFT, max_length=20, index=True)  # an UploadStatus
    total_rows: int = 0
    valid_rows: int = 0
    invalid_rows: int = 0
    created_count: int = 0
    failed_count: int = 0
    version: int = 0  # bumped on every change to the draft; guards concurrent edits
    wizard_step: str = Field(default="review", max_length=20)  # where the admin comes back to
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    finished_at: Optional[datetime] = None
    # The worker creating the users ("host:pid:random") and when it last proved it is alive.
    creating_owner: Optional[str] = Field(default=None, max_length=80)
    creating_heartbeat: Optional[datetime] = None
    create_attempts: int = 0
    # When the staged rows (names, emails, phones, errors) were deleted by the retention purge;
    # the counts above and the audit trail stay.
    rows_purged_at: Optional[datetime] = None
    # Seats held for the rows still to create; they count against the company only while this
    # upload is "creating" with a fresh heartbeat, so a dead worker's reservation lapses with its lease.
    seats_reserved: int = 0
    # Undo (uploads/undo.py): when, by whom, and how many of its users were removed.
    undone_at: Optional[datetime] = None
    undone_by: str = Field(default="", max_length=120)
    undone_count: int = 0
    # While the admin matches the file's columns (wizard_step "match"): the file's table as read,
    # {"header", "rows", "columns", ...} (uploads/pending.py); None once staged.
    pending_table: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON, nullable=True))
    # How the staged file's columns were matched: {"matched_by": str, "mapping": {title: field}}.
    column_mapping: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Who is told by email when it finishes (delivery/outbox.py): the uploader's address from the
    # sign-in token's `email` claim, or the CLI's --notify addresses. Empty: no email.
    notify_emails: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Jobs (jobs.py). file_rows: the file's data rows, known once read (total_rows counts those
    # judged so far while "processing"). The worker judging the file and its last sign of life, as
    # for creating. queued_at: a job was queued and no worker has taken it yet. create_done /
    # create_total: the running create's progress. cancel_requested: the admin asked the running
    # job to stop. problem: why the last job stopped short, for the admin (file unusable, seats gone).
    # ask_columns: the admin asked to match the columns of the file being processed.
    file_rows: int = 0
    processing_owner: Optional[str] = Field(default=None, max_length=80)
    processing_heartbeat: Optional[datetime] = None
    queued_at: Optional[datetime] = None
    create_done: int = 0
    create_total: int = 0
    cancel_requested: bool = False
    problem: str = Field(default="", max_length=1000)
    ask_columns: bool = False


class UploadFile(SQLModel, table=True):
    """A received file waiting for (or being read by) a worker, in the database so any worker on
    any machine can read it; deleted once the file is staged or refused."""

    __tablename__ = "upload_file"
    upload_id: str = Field(foreign_key="bulk_upload.id", primary_key=True, max_length=32)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    received_at: datetime = Field(default_factory=utcnow)


class ColumnMapping(SQLModel, table=True):
    """A company's last confirmed matching of a set of column titles, used again for the next file
    with the same titles."""

    __tablename__ = "column_mapping"
    __table_args__ = (UniqueConstraint("company_id", "titles_key", name="uq_column_mapping_titles"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="company.id", index=True)
    titles_key: str = Field(max_length=64)  # sha256 of the file's titles, in order
    mapping: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))  # {index: field}
    updated_at: datetime = Field(default_factory=utcnow)


class BulkUploadAudit(SQLModel, table=True):
    """What happened to a bulk upload, one row per event, kept even if the upload goes away.

    No foreign keys on purpose: an audit row must outlive the upload, company or admin it names.
    """

    __tablename__ = "bulk_upload_audit"
    id: Optional[int] = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    event: str = Field(max_length=40)  # bulk_upload.staged|create_started|created|interrupted|...
    upload_id: Optional[str] = Field(default=None, max_length=32, index=True)
    company_id: Optional[int] = Field(default=None, index=True)
    admin_user_id: Optional[int] = None
    actor: str = Field(default="", max_length=120)  # who asked: "admin:12", "cli:alice", "recovery"
    worker: str = Field(default="", max_length=80)  # which process did it: "host:pid"
    file_name: str = Field(default="", max_length=255)
    file_sha256: str = Field(default="", max_length=64)
    total_rows: Optional[int] = None
    valid_rows: Optional[int] = None
    invalid_rows: Optional[int] = None
    created: Optional[int] = None
    failed: Optional[int] = None
    outcome: str = Field(default="", max_length=20)  # staged|rejected|creating|done|interrupted|refused
    reason: Optional[str] = None  # why it stopped: "RuntimeError: disk full", "no heartbeat since ..."
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class BulkUploadRow(SQLModel, table=True):
    """A staged row: the values as typed (or edited), their normal forms, errors and outcome."""

    __tablename__ = "bulk_upload_row"
    __table_args__ = (
        UniqueConstraint("upload_id", "row_number", name="uq_bulk_upload_row_number"),
        Index("ix_bulk_upload_row_upload_email", "upload_id", "email_norm"),
        # Deleting a user looks up the rows that refer to it (migration 0019_row_user_index).
        Index(
            "ix_bulk_upload_row_user_id",
            "user_id",
            postgresql_where=text("user_id IS NOT NULL"),
            sqlite_where=text("user_id IS NOT NULL"),
        ),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    upload_id: str = Field(foreign_key="bulk_upload.id", max_length=32)
    row_number: int
    firstname: str = ""
    lastname: str = ""
    email: str = ""
    countryprefix: str = ""
    phone: str = ""
    email_norm: Optional[str] = Field(default=None, max_length=254)
    prefix_norm: Optional[str] = Field(default=None, max_length=6)
    phone_e164: Optional[str] = Field(default=None, max_length=20)
    # [{"column": str|None, "code": str, "message": str}], empty when the row is valid.
    errors: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    is_valid: bool = Field(default=False)
    outcome: str = Field(default=RowOutcome.PENDING, max_length=10)  # a RowOutcome
    outcome_code: Optional[str] = Field(default=None, max_length=40)
    outcome_message: Optional[str] = None
    user_id: Optional[int] = Field(default=None, foreign_key="app_user.id")


class RowTextBlock(SQLModel, table=True):
    """The lower-cased text of a run of up to 1,000 of a draft's staged rows, one line a row: a
    search reads a few hundred of these instead of a million rows (uploads/search.py)."""

    __tablename__ = "bulk_upload_row_text"
    upload_id: str = Field(foreign_key="bulk_upload.id", primary_key=True, max_length=32, ondelete="CASCADE")
    first_row: int = Field(primary_key=True)  # row_number of its first line
    last_row: int
    row_numbers: str  # the lines' row numbers, space-separated
    text: str  # the lines, separated by search.ROW_END


class AdminHistorySeen(SQLModel, table=True):
    """When an admin last looked at the company's bulk uploads: batches finished since are shown
    as news on the Users page and the history (delivery/outbox.py `finished_since`)."""

    __tablename__ = "admin_history_seen"
    company_id: int = Field(foreign_key="company.id", primary_key=True)
    admin_user_id: int = Field(primary_key=True)  # no foreign key: the dashboard's admins may have no row here
    seen_at: datetime = Field(default_factory=utcnow)


class OutboxMessage(SQLModel, table=True):
    """One message to deliver about one finish of one upload (delivery/outbox.py delivers it)."""

    __tablename__ = "notification_outbox"
    __table_args__ = (
        UniqueConstraint("upload_id", "kind", "target", "event", "finish_number", name="uq_notification_outbox_once"),
        Index("ix_notification_outbox_due", "status", "next_attempt_at"),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20)  # "email" ("webhook" later)
    event: str = Field(max_length=40)  # "batch-finished"
    # No foreign keys, as the audit: what was sent about an upload outlives the upload's rows.
    upload_id: str = Field(max_length=32, index=True)
    company_id: int = Field(index=True)
    target: str = Field(default="", max_length=500)  # email: "uploader"; a webhook: its endpoint
    finish_number: int = 1  # the upload's create attempt that ended
    recipients: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # What the finish was, frozen when it happened: status key, counts, file name.
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=OutboxStatus.PENDING, max_length=20)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    lease_until: Optional[datetime] = None
    claimed_by: Optional[str] = Field(default=None, max_length=80)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    sent_at: Optional[datetime] = None
    last_error: Optional[str] = Field(default=None, sa_column=Column(Text, nullable=True))


class UsedToken(SQLModel, table=True):
    """A sign-in token id already accepted (replay guard, access/tokens.py); kept until the token has expired."""

    __tablename__ = "used_token"
    jti: str = Field(primary_key=True, max_length=128)
    expires_at: datetime = Field(index=True)  # expired ids are deleted by this


class FileProcessingSlot(SQLModel, table=True):
    """A file being read and checked right now: bounds the work per company and overall.

    A slot whose worker died is ignored once `expires_at` has passed.
    """

    __tablename__ = "file_processing_slot"
    id: str = Field(default_factory=lambda: uuid.uuid4().hex, primary_key=True, max_length=32)
    company_id: int = Field(foreign_key="company.id", index=True)
    expires_at: datetime = Field(index=True)


class ApiImport(SQLModel, table=True):
    """What an upload started through the HTTP API asked for beyond the upload itself: which key,
    and whether to create the users once every row is judged (or was asked to create them)."""

    __tablename__ = "api_import"
    upload_id: str = Field(foreign_key="bulk_upload.id", primary_key=True, max_length=32)
    company_id: int = Field(foreign_key="company.id", index=True)
    key_id: str = Field(default="", max_length=64)
    create_when_judged: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class ApiIdempotency(SQLModel, table=True):
    """A POST made with an `Idempotency-Key`: the answer given, replayed for the same key and body
    within a day (per company: two companies' keys never meet). `status` 0: still being answered."""

    __tablename__ = "api_idempotency"
    __table_args__ = (UniqueConstraint("company_id", "key", name="uq_api_idempotency_company_key"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="company.id")
    key: str = Field(max_length=255)
    request_sha256: str = Field(max_length=64)
    status: int = 0
    content_type: str = Field(default="", max_length=100)
    location: str = Field(default="", max_length=255)
    body: str = ""
    created_at: datetime = Field(default_factory=utcnow, index=True)


class ApiKey(SQLModel, table=True):
    """A company's key for the HTTP API and SCIM: only its SHA-256 is kept (the key is 256 random
    bits, so a fast hash is enough), with its first characters to show it by."""

    __tablename__ = "api_key"
    id: str = Field(primary_key=True, max_length=32)  # "key_" + 24 hex: named in URLs and the CLI
    company_id: int = Field(foreign_key="company.id", index=True)
    name: str = Field(max_length=100)
    key_sha256: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=12)
    created_at: datetime = Field(default_factory=utcnow)
    created_by: str = Field(default="", max_length=120)
    last_used_at: Optional[datetime] = None
    revoked_at: Optional[datetime] = None
    revoked_by: str = Field(default="", max_length=120)


class WebhookEndpoint(SQLModel, table=True):
    """A company's HTTPS endpoint told `user_import.finished` (delivery/webhooks.py). The secret signs
    each delivery (HMAC-SHA256), so it is kept as is; it is shown to the caller once."""

    __tablename__ = "webhook_endpoint"
    id: str = Field(primary_key=True, max_length=32)  # "wh_" + 24 hex
    company_id: int = Field(foreign_key="company.id", index=True)
    url: str = Field(max_length=500)
    secret: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    created_by: str = Field(default="", max_length=120)


class ScimIdentity(SQLModel, table=True):
    """What SCIM knows of a user beyond our own columns: the identity provider's userName (which
    need not be the email) and externalId. A user with no row here has its email as userName."""

    __tablename__ = "scim_identity"
    __table_args__ = (UniqueConstraint("company_id", "user_name_key", name="uq_scim_identity_user_name"),)
    # Deleting the user (SCIM DELETE, undo of its upload) takes its SCIM identity along.
    user_id: int = Field(foreign_key="app_user.id", primary_key=True, ondelete="CASCADE")
    company_id: int = Field(foreign_key="company.id", index=True)
    user_name: str = Field(max_length=254)
    user_name_key: str = Field(max_length=254)  # casefolded: userName is not case-exact (RFC 7643 §4.1.1)
    external_id: Optional[str] = Field(default=None, max_length=255)


class ScimSettings(SQLModel, table=True):
    """A company's defaults for users provisioned over SCIM, which carries none of them: the user
    type, the country prefix of users without a phone number, and the batch settings (advanced
    settings, groups, outbound numbers, skills) as the wizard's BatchSpec JSON."""

    __tablename__ = "scim_settings"
    company_id: int = Field(foreign_key="company.id", primary_key=True)
    user_type: str = Field(default="agent", max_length=20)
    country_prefix: str = Field(default="+1", max_length=6)
    batch: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)
    updated_by: str = Field(default="", max_length=120)
