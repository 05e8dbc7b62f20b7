"""The shapes the API answers with, as pydantic models: they are what the OpenAPI document says."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Progress(BaseModel):
    judged: int = Field(description="Rows judged so far.")
    total: int = Field(description="Rows in the file (0 until it has been read).")


class Counts(BaseModel):
    rows: int
    valid: int
    invalid: int
    created: int
    failed: int


class Links(BaseModel):
    self_: str = Field(alias="self")
    rows: str
    report_csv: str
    report_xlsx: str
    wizard: str = Field(description="Where an admin opens this upload in the app, to fix rows and continue.")

    model_config = ConfigDict(populate_by_name=True)


class UserImport(BaseModel):
    id: str
    status: str = Field(
        description="processing (being read and judged), draft (judged; create or fix), creating, done, "
        "interrupted (resumes with create), failed (the file could not be used; see problem), "
        "cancelled, undone, partly_undone, abandoned."
    )
    step: str = Field(
        description="The wizard's step: review, match (match the columns in the wizard), creating, result."
    )
    file_name: str
    user_type: str
    source: str = Field(description="Who started it: api, wizard or cli.")
    created_at: datetime
    finished_at: datetime | None
    progress: Progress
    counts: Counts
    create_requested: bool = Field(
        description="Creating the users was asked for (create=true, or POST .../create): while the status is "
        "still draft and there is no problem, the creation is about to start."
    )
    problem: dict[str, Any] | None = Field(description="What stopped it, as a problem (code, detail, ...).")
    notices: list[str]
    links: Links


class UserImportPage(BaseModel):
    data: list[UserImport]
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null on the last page.")


class CellError(BaseModel):
    column: str | None = Field(description="The column, or null for the row as a whole.")
    code: str
    message: str


class ImportRow(BaseModel):
    row: int = Field(description="The spreadsheet row number (the header is row 1).")
    values: dict[str, str]
    errors: list[CellError]
    outcome: str = Field(description="invalid, pending, created, failed, removed or undone.")


class ImportRowPage(BaseModel):
    data: list[ImportRow]
    next_cursor: str | None


class KeptUser(BaseModel):
    email: str
    reason: str


class UndoResult(BaseModel):
    upload_id: str
    dry_run: bool
    removed: int = Field(description="Users removed (or that would be removed, for a dry run).")
    kept: list[KeptUser] = Field(description="Users kept because they changed since they were created.")
    status: str


class UndoRequest(BaseModel):
    dry_run: bool = Field(default=False, description="Only say what an undo would do.")

    model_config = ConfigDict(extra="forbid")


class ProblemDetails(BaseModel):
    """RFC 9457 problem details, with our error code and its details."""

    type: str
    title: str
    status: int
    detail: str
    code: str

    model_config = ConfigDict(extra="allow")


class WebhookRequest(BaseModel):
    url: str = Field(max_length=500, description="An https:// URL on a public host.")

    model_config = ConfigDict(extra="forbid")


class Webhook(BaseModel):
    id: str
    url: str
    created_at: datetime


class NewWebhook(Webhook):
    secret: str = Field(
        description="Signs every delivery (Bulk-Upload-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "
        '"<t>.<raw body>">). Shown only now.'
    )


class WebhookPage(BaseModel):
    data: list[Webhook]
