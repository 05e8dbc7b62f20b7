"""SCIM provisioning's use cases: a company's users read, created (as a staged upload from
source "scim", so seats, settings, audit, history and undo are the file import's), changed and
deleted; and the company's SCIM defaults. Company id in, own transactions."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.sql.elements import ColumnElement

from bulk_upload_app.db import get_engine, session_scope
from bulk_upload_app.errors import ErrorCode, FileProblem
from bulk_upload_app.provisioning import scim_users
from bulk_upload_app.provisioning.scim_users import (
    Conflict,
    Defaults,
    Invalid,
    NoSeat,
    Person,
    Provisioned,
    UserNotFound,
)
from bulk_upload_app.settings import get_settings
from bulk_upload_app.statuses import RowOutcome
from bulk_upload_app.uploads import creating, lifecycle
from bulk_upload_app.uploads.batch import BatchProblem, batch_from_names

__all__ = [
    "BatchProblem",
    "Conflict",
    "Defaults",
    "Invalid",
    "NoSeat",
    "Person",
    "Provisioned",
    "UserNotFound",
]


@dataclass(frozen=True)
class RowResult:
    """What became of one person of a batch."""

    created: Provisioned | None = None
    invalid: list[dict[str, Any]] = field(default_factory=list)  # the validation's errors
    conflict: str = ""  # the email or userName was taken
    no_seat: NoSeat | None = None
    stopped: str = ""  # a Bulk request stopped before it (failOnErrors)


@dataclass(frozen=True)
class BatchResult:
    upload_id: str
    rows: list[RowResult]  # people[n] → rows[n]


def _legacy_url() -> str:
    return get_settings().legacy_dashboard_url


def get_user(company_id: int, user_id: int) -> Provisioned:
    with session_scope(read_only=True) as session:
        return scim_users.get(session, company_id, user_id)


def list_users(
    company_id: int, where: ColumnElement[bool] | None, *, offset: int, limit: int
) -> tuple[list[Provisioned], int]:
    with session_scope(read_only=True) as session:
        return scim_users.query(session, company_id, where, offset=offset, limit=limit)


def every_user(company_id: int) -> Iterator[Provisioned]:
    with session_scope(read_only=True) as session:
        yield from scim_users.every_user(session, company_id)


def check_new_user(company_id: int, person: Person) -> None:
    """Invalid / Conflict / NoSeat before anything is staged (a single POST leaves no draft)."""
    with session_scope(read_only=True) as session:
        scim_users.check_one(session, company_id, person)
        if scim_users.seats_free(session, company_id) < 1:
            scim_users.seats_for(session, company_id, 1, _legacy_url())


def user_names_taken(company_id: int, user_names: Sequence[str]) -> set[str]:
    """Which of these userNames (casefolded) the company's users already have."""
    with session_scope(read_only=True) as session:
        return scim_users.taken_user_names(session, company_id, list(user_names))


def create_users(
    company_id: int,
    people: Sequence[Person],
    *,
    label: str,
    sha256: str,
    actor: str,
    between: Callable[[int, dict[int, RowResult]], bool] | None = None,
    stop_errors: int = 0,
) -> BatchResult:
    """Create the people as one upload of source "scim" (validated as a file's rows; the valid
    ones created together within the seats, or none: NoSeat on every row). The caller leaves out
    people whose userName is taken (`user_names_taken`).

    `between(row number, results of the rows before it not given yet)` runs before each row is
    created, in row order (a Bulk request's other operations run there); False stops: the rows
    left fail with BULK_STOPPED (after `stop_errors` errors).
    """
    people = list(people)
    with session_scope() as session:
        upload = scim_users.stage(session, company_id, people, label=label, sha256=sha256, actor=actor)
        upload_id = upload.id
    settled = 1  # rows before this one were handed to `between`

    def before(row_number: int) -> bool:
        nonlocal settled
        with session_scope() as session:
            # Only the rows since the last call: a 1000-operation Bulk stays linear.
            scim_users.attach_identities(session, company_id, upload_id, people, settled, row_number - 1)
            results = _results(session, company_id, upload_id, range(settled, row_number), None)
        settled = row_number
        if between is None or between(row_number, results):
            return True
        with session_scope() as session:
            scim_users.stop_rows(session, upload_id, row_number, stop_errors)
        return False

    refused: NoSeat | None = None
    try:
        creating.create_users(
            get_engine(),
            company_id,
            upload_id,
            actor=actor,
            chunk_size=1 if between is not None else creating.CREATE_CHUNK,
            before_chunk=before,
        )
    except FileProblem as problem:
        if problem.code is not ErrorCode.SEATS_EXCEEDED:
            raise
        refused = NoSeat(problem)
        with session_scope() as session:
            # Not a draft left for an admin to wonder about: its rows and audit stay in the history.
            lifecycle.cancel(session, company_id, upload_id, actor="scim", idle_too=True, reason=problem.message)
    with session_scope() as session:
        scim_users.attach_identities(session, company_id, upload_id, people)
        results = _results(session, company_id, upload_id, range(1, len(people) + 1), refused)
    return BatchResult(upload_id, [results[n] for n in range(1, len(people) + 1)])


# Row errors that SCIM calls `uniqueness`: the email is another user's, or an earlier POST's.
_TAKEN = (ErrorCode.EMAIL_ALREADY_EXISTS.value, ErrorCode.DUPLICATE_EMAIL_IN_FILE.value)


def _results(
    session: Any, company_id: int, upload_id: str, numbers: range, refused: NoSeat | None
) -> dict[int, RowResult]:
    if not numbers:
        return {}
    outcomes = scim_users.row_outcomes(session, upload_id, numbers.start, numbers.stop - 1)
    errors = scim_users.row_errors(session, upload_id, numbers.start, numbers.stop - 1)
    results: dict[int, RowResult] = {}
    for number in numbers:
        outcome, user_id, code, message = outcomes[number]
        if number in errors:
            conflict = next((e["message"] for e in errors[number] if e["code"] in _TAKEN), "")
            results[number] = RowResult(invalid=[] if conflict else errors[number], conflict=conflict)
        elif outcome == RowOutcome.CREATED and user_id is not None:
            results[number] = RowResult(created=scim_users.get(session, company_id, user_id))
        elif refused is not None:
            results[number] = RowResult(no_seat=refused)
        elif code == ErrorCode.BULK_STOPPED:
            results[number] = RowResult(stopped=message or "")
        elif code == ErrorCode.NO_SEAT_AVAILABLE:
            results[number] = RowResult(no_seat=NoSeat(FileProblem(ErrorCode.SEATS_EXCEEDED, message=message)))
        else:
            results[number] = RowResult(conflict=message or "This user could not be created.")
    return results


def replace_user(company_id: int, user_id: int, person: Person, *, actor: str, how: str = "replaced") -> Provisioned:
    with session_scope() as session:
        return scim_users.replace(
            session, company_id, user_id, person, actor=actor, legacy_dashboard_url=_legacy_url(), how=how
        )


def delete_user(company_id: int, user_id: int, *, actor: str) -> None:
    with session_scope() as session:
        scim_users.remove(session, company_id, user_id, actor=actor)


def scim_defaults(company_id: int) -> Defaults:
    with session_scope(read_only=True) as session:
        return scim_users.defaults(session, company_id)


def set_scim_defaults(
    company_id: int,
    *,
    user_type: str,
    country_prefix: str,
    group_names: Sequence[str] = (),
    outbound_numbers: Sequence[str] = (),
    skills: Sequence[tuple[str, int]] = (),
    settings_from_email: str | None = None,
    actor: str,
) -> Defaults:
    """The company's defaults for SCIM users (BatchProblem when a name or value can't be used)."""
    with session_scope() as session:
        spec = batch_from_names(
            session,
            company_id,
            user_type=user_type,
            group_names=group_names,
            outbound_numbers=outbound_numbers,
            skills=skills,
            settings_from_email=settings_from_email,
        )
        return scim_users.save_defaults(
            session, company_id, user_type=user_type, country_prefix=country_prefix, spec=spec, actor=actor
        )
