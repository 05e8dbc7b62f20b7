"""The one catalogue of problems an admin can meet in a bulk upload.

Every screen, report, CLI document and doc page reads codes and messages from here, so
a code never changes meaning and a message is written once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bulk_upload_app import routes


class ErrorCode(StrEnum):
    # File-level: the step stops until the admin provides another file.
    UNSUPPORTED_FILE = "UNSUPPORTED_FILE"
    FILE_TOO_LARGE = "FILE_TOO_LARGE"
    EMPTY_FILE = "EMPTY_FILE"
    NO_DATA_ROWS = "NO_DATA_ROWS"
    MISSING_COLUMN = "MISSING_COLUMN"
    DUPLICATE_COLUMN = "DUPLICATE_COLUMN"
    SEATS_EXCEEDED = "SEATS_EXCEEDED"
    TOO_MANY_FILES_IN_PROGRESS = "TOO_MANY_FILES_IN_PROGRESS"
    TOO_MANY_OPEN_DRAFTS = "TOO_MANY_OPEN_DRAFTS"
    # Row-level: the cell is marked and the row is left out until fixed.
    REQUIRED_VALUE_MISSING = "REQUIRED_VALUE_MISSING"
    VALUE_TOO_LONG = "VALUE_TOO_LONG"
    INVALID_CHARACTERS = "INVALID_CHARACTERS"
    INVALID_EMAIL = "INVALID_EMAIL"
    DUPLICATE_EMAIL_IN_FILE = "DUPLICATE_EMAIL_IN_FILE"
    EMAIL_ALREADY_EXISTS = "EMAIL_ALREADY_EXISTS"
    INVALID_COUNTRY_PREFIX = "INVALID_COUNTRY_PREFIX"
    INVALID_PHONE_NUMBER = "INVALID_PHONE_NUMBER"
    EXTRA_VALUES_IN_ROW = "EXTRA_VALUES_IN_ROW"
    NO_SEAT_AVAILABLE = "NO_SEAT_AVAILABLE"
    BULK_STOPPED = "BULK_STOPPED"
    # Upload-level: what can't be done to a whole upload (history, undo).
    UPLOAD_NOT_FOUND = "UPLOAD_NOT_FOUND"
    UNDO_WINDOW_PASSED = "UNDO_WINDOW_PASSED"
    UNDO_NOT_AVAILABLE = "UNDO_NOT_AVAILABLE"
    # Request-level: what the HTTP API (/api/v1) answers about a request itself.
    UNAUTHORIZED = "UNAUTHORIZED"
    NOT_FOUND = "NOT_FOUND"
    INVALID_REQUEST = "INVALID_REQUEST"
    INVALID_SETTINGS = "INVALID_SETTINGS"
    UPLOAD_BUSY = "UPLOAD_BUSY"
    RATE_LIMITED = "RATE_LIMITED"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    IDEMPOTENCY_KEY_IN_USE = "IDEMPOTENCY_KEY_IN_USE"
    INTERNAL_ERROR = "INTERNAL_ERROR"


FILE_LEVEL = frozenset(
    {
        ErrorCode.UNSUPPORTED_FILE,
        ErrorCode.FILE_TOO_LARGE,
        ErrorCode.EMPTY_FILE,
        ErrorCode.NO_DATA_ROWS,
        ErrorCode.MISSING_COLUMN,
        ErrorCode.DUPLICATE_COLUMN,
        ErrorCode.SEATS_EXCEEDED,
        ErrorCode.TOO_MANY_FILES_IN_PROGRESS,
        ErrorCode.TOO_MANY_OPEN_DRAFTS,
    }
)

UPLOAD_LEVEL = frozenset({ErrorCode.UPLOAD_NOT_FOUND, ErrorCode.UNDO_WINDOW_PASSED, ErrorCode.UNDO_NOT_AVAILABLE})

REQUEST_LEVEL = frozenset(
    {
        ErrorCode.UNAUTHORIZED,
        ErrorCode.NOT_FOUND,
        ErrorCode.INVALID_REQUEST,
        ErrorCode.INVALID_SETTINGS,
        ErrorCode.UPLOAD_BUSY,
        ErrorCode.RATE_LIMITED,
        ErrorCode.IDEMPOTENCY_KEY_REUSED,
        ErrorCode.IDEMPOTENCY_KEY_IN_USE,
        ErrorCode.INTERNAL_ERROR,
    }
)

# Templates are filled with str.format(**details); each says what is wrong and how to fix it.
_MESSAGES: dict[ErrorCode, str] = {
    ErrorCode.UNSUPPORTED_FILE: "We can't read this file: {reason}. Save it as CSV (UTF-8) or Excel (.xlsx) and upload it again.",
    ErrorCode.FILE_TOO_LARGE: "This file is too large: {reason}. Split it into smaller files and upload them one at a time.",
    ErrorCode.EMPTY_FILE: "This file is empty. Fill in the template with one user per row and upload it again.",
    ErrorCode.NO_DATA_ROWS: "This file has column titles but no users. Add one user per row under the titles and upload it again.",
    ErrorCode.MISSING_COLUMN: 'The required column "{column}" is missing{candidates}. Add a column titled "{column}" as in the template and upload the file again.',
    ErrorCode.DUPLICATE_COLUMN: 'The columns {headers} all mean "{column}". Keep only one of them and upload the file again.',
    ErrorCode.SEATS_EXCEEDED: "These users need {needed} seats but only {available} are free. Add at least {shortfall} seats in the legacy dashboard, or remove users from the file.",
    ErrorCode.TOO_MANY_FILES_IN_PROGRESS: "We are busy reading {scope} right now. Nothing was lost: try again shortly and upload the file again.",
    ErrorCode.TOO_MANY_OPEN_DRAFTS: "Your company already has {open} unfinished uploads (the limit is {limit}). Finish one of them with Create users; unfinished uploads are deleted after {days} days unused.",
    ErrorCode.REQUIRED_VALUE_MISSING: "{column} is required. Fill it in.",
    ErrorCode.VALUE_TOO_LONG: "{column} is too long ({length} characters). Shorten it to at most {limit} characters.",
    ErrorCode.INVALID_CHARACTERS: "{column} contains characters that can't be used (line breaks or control characters). Retype the value.",
    ErrorCode.INVALID_EMAIL: '"{value}" is not a valid email address: {reason}',
    ErrorCode.DUPLICATE_EMAIL_IN_FILE: "{value} is already used in row {first_row} of this file. Give each user a different email address, or remove this row.",
    # Emails are global: the same words whether the holder is in this company or another, and
    # nothing about the holder, so a bulk upload can't be used to learn who works where.
    ErrorCode.EMAIL_ALREADY_EXISTS: "{value} is already in use. Use another email address, or remove this row.",
    ErrorCode.INVALID_COUNTRY_PREFIX: '"{value}" is not a country calling code. Use the E.164 prefix of the user\'s country, for example +1 or +44.',
    ErrorCode.INVALID_PHONE_NUMBER: '"{value}" is not a valid phone number for country prefix {prefix}. Enter the number with its area code, for example {example}, or leave phone empty.',
    ErrorCode.EXTRA_VALUES_IN_ROW: "This row has {found} values but the header has only {expected} columns. Remove the extra values or add a column title.",
    ErrorCode.NO_SEAT_AVAILABLE: "No seat was free when this user was created. Add seats in the legacy dashboard and upload this row again.",
    ErrorCode.BULK_STOPPED: "Not created: the SCIM Bulk request stopped after {errors} errors, as its failOnErrors asked. Send this user again.",
    ErrorCode.UPLOAD_NOT_FOUND: "This bulk upload does not exist or belongs to another account.",
    ErrorCode.UNDO_WINDOW_PASSED: "This upload finished on {finished} and can be undone only within {days} days of that. Remove its users one by one instead.",
    ErrorCode.UNDO_NOT_AVAILABLE: "This upload can't be undone: {reason}.",
    ErrorCode.UNAUTHORIZED: "{reason} Create a key on the API keys page (or with `bulk-upload api-key create`) and send it as Authorization: Bearer <key>.",
    ErrorCode.NOT_FOUND: f"There is nothing at this address. The API's paths are listed at {routes.API_DOCS}.",
    ErrorCode.INVALID_REQUEST: "The request can't be used: {reason}",
    ErrorCode.INVALID_SETTINGS: "The settings can't be used: {reason}",
    ErrorCode.UPLOAD_BUSY: "{reason}",
    ErrorCode.RATE_LIMITED: "This API key made too many requests. Wait {retry_after} seconds and try again.",
    ErrorCode.IDEMPOTENCY_KEY_REUSED: "This Idempotency-Key was already used with a different request. Use a new key for a new request.",
    ErrorCode.IDEMPOTENCY_KEY_IN_USE: "A request with this Idempotency-Key is still being answered. Try again in a moment.",
    ErrorCode.INTERNAL_ERROR: "Something went wrong on our side; nothing you sent was at fault. Try again, and tell support if it keeps happening.",
}


def message_for(code: ErrorCode, **details: Any) -> str:
    return _MESSAGES[ErrorCode(code)].format(**details)


def catalogue() -> list[dict[str, str]]:
    """The codes with their level and message template, for docs and the UI's help."""
    return [{"code": c.value, "level": _level(c), "message": _MESSAGES[c]} for c in ErrorCode]


def _level(code: ErrorCode) -> str:
    if code in REQUEST_LEVEL:
        return "request"
    return "file" if code in FILE_LEVEL else "upload" if code in UPLOAD_LEVEL else "row"


class UploadNotFound(LookupError):
    """No such upload in this company (also what another company's upload looks like): raised
    without a message, it says so in the catalogue's words (UPLOAD_NOT_FOUND)."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or message_for(ErrorCode.UPLOAD_NOT_FOUND))


class UploadBusy(RuntimeError):
    """The upload is being created, or already was; it can't change or start again."""


class FileProblem(Exception):
    """A problem with the file as a whole; the upload step cannot go on with it."""

    def __init__(self, code: ErrorCode, *, message: str | None = None, **details: Any):
        self.code = ErrorCode(code)
        self.details = details
        self.message = message or message_for(self.code, **details)
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code.value, "message": self.message, **self.details}

    @classmethod
    def from_stored(cls, code: str, message: str) -> FileProblem:
        """A problem a worker recorded on an upload as "CODE: message" (uploads/processing.py)."""
        try:
            return cls(ErrorCode(code), message=message)
        except ValueError:
            return cls(ErrorCode.UNSUPPORTED_FILE, message=" ".join(part for part in (code, message) if part))


class QueueMissing(RuntimeError):
    """No job queue is configured (BULK_UPLOAD_QUEUE_URL), so no worker can take the job."""


class UndoRefused(Exception):
    """An upload that can't be undone (UNDO_WINDOW_PASSED, UNDO_NOT_AVAILABLE)."""

    def __init__(self, code: ErrorCode, **details: Any):
        self.code = ErrorCode(code)
        self.details = details
        self.message = message_for(self.code, **details)
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code.value, "message": self.message, **self.details}


@dataclass(frozen=True)
class RowError:
    """A problem with one cell (or a whole row when column is None)."""

    row: int
    column: str | None
    code: ErrorCode
    message: str
    details: dict[str, Any] = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "code": self.code.value, "message": self.message}


class TokenRefused(Exception):
    """A sign-in token that gives no access; `str()` is the message for the admin."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# Why a sign-in gives no access, as the admin reads it (access/tokens.py raises these).
MESSAGES = {
    "missing": "Open this page from the company dashboard: it signs you in. No sign-in was found.",
    "not_configured": "Sign-in from the company dashboard is not set up on this server. Ask your administrator.",
    "expired": "Your sign-in link has expired. Open the page again from the company dashboard.",
    "invalid": "Your sign-in link is not valid. Open the page again from the company dashboard.",
    "replayed": "This sign-in link was already used. Open the page again from the company dashboard.",
    "unknown_company": "Your company account was not found. Ask the company dashboard's support for help.",
    "session_expired": "Your session has ended. Open the page again from the company dashboard.",
}
