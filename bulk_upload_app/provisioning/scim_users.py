"""Users as SCIM sees them, on the same engine as files: what an identity provider sends is
judged by `validation.validate_rows` (names, email, E.164 phone, country prefix), created through
a staged upload (`staging.stage_upload` + `creating.create_users`: seat reservation whole or
refused, extensions, the batch's groups/numbers/skills, audit, history and undo), and changed or
deleted here, always within the caller's company. Over 400 lines: a SCIM user's whole life on
the engine (judge, identity, create, change, delete, Bulk staging) in one place.

No web here: the SCIM protocol (JSON shapes, filters, status codes) is `bulk_upload_app/scim/`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import phonenumbers
import polars as pl
from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from bulk_upload_app import audit
from bulk_upload_app.errors import ErrorCode, FileProblem, RowError, message_for
from bulk_upload_app.files.intake import ParsedFile
from bulk_upload_app.files.reading import RawTable
from bulk_upload_app.files.schema import COLUMN_NAMES, DEFAULT_USER_TYPE, USER_TYPES
from bulk_upload_app.files.validation import VALID_CALLING_CODES, Validation, validate_rows
from bulk_upload_app.models import BulkUpload, BulkUploadRow, ScimIdentity, ScimSettings, User, utcnow
from bulk_upload_app.statuses import RowOutcome, UploadSource, WizardStep
from bulk_upload_app.uploads import membership
from bulk_upload_app.uploads.batch import BatchProblem, BatchSpec, checked_batch
from bulk_upload_app.uploads.pipeline import stage_batch
from bulk_upload_app.uploads.records import company_seats, seat_problem

USER_UPDATED = "scim.user_updated"
USER_DELETED = "scim.user_deleted"
SETTINGS_CHANGED = "scim.settings_changed"
DEFAULT_COUNTRY_PREFIX = "+1"
USER_NAME_MAX = 254


class UserNotFound(LookupError):
    """No such user in this company (another company's user is not found either)."""


class Conflict(Exception):
    """A value that must be unique is taken (SCIM `uniqueness`)."""


class Invalid(Exception):
    """Values the validation refused; `errors` say which and why (SCIM `invalidValue`)."""

    def __init__(self, errors: list[RowError]):
        self.errors = errors
        super().__init__(" ".join(e.message for e in errors))


class NoSeat(Exception):
    """No seat is free for this user (the file's SEATS_EXCEEDED, for one user or a batch)."""

    def __init__(self, problem: FileProblem):
        self.problem = problem
        super().__init__(problem.message)


@dataclass
class Person:
    """One user as SCIM describes it, in our fields."""

    firstname: str = ""
    lastname: str = ""
    email: str = ""
    phone: str = ""
    countryprefix: str = ""  # "" takes the country of the phone, else the company's SCIM default
    user_name: str = ""
    external_id: str | None = None
    active: bool = True

    def values(self, default_prefix: str) -> dict[str, str]:
        return {
            "firstname": self.firstname,
            "lastname": self.lastname,
            "email": self.email,
            "countryprefix": self.countryprefix or prefix_of(self.phone) or default_prefix,
            "phone": self.phone,
        }


@dataclass(frozen=True)
class Defaults:
    user_type: str
    country_prefix: str
    spec: BatchSpec = field(default_factory=BatchSpec)


@dataclass(frozen=True)
class Provisioned:
    """A user with its SCIM identity, read for a response."""

    user: User
    user_name: str
    external_id: str | None


def prefix_of(phone: str) -> str:
    """ "+44" for an international number ("+44 20 7183 8750"); "" when it names no country."""
    if not phone.strip().startswith("+"):
        return ""
    try:
        code = phonenumbers.parse(phone, None).country_code
    except phonenumbers.NumberParseException:
        return ""
    return f"+{code}" if code in VALID_CALLING_CODES else ""


def user_name_key(user_name: str) -> str:
    return user_name.strip().casefold()


# ---------------------------------------------------------------- the company's SCIM defaults


def defaults(session: Session, company_id: int) -> Defaults:
    row = session.get(ScimSettings, company_id)
    if row is None:
        return Defaults(DEFAULT_USER_TYPE, DEFAULT_COUNTRY_PREFIX, BatchSpec(user_type=DEFAULT_USER_TYPE))
    spec = BatchSpec.from_json({**row.batch, "user_type": row.user_type})
    return Defaults(row.user_type, row.country_prefix, spec)


def save_defaults(
    session: Session, company_id: int, *, user_type: str, country_prefix: str, spec: BatchSpec, actor: str
) -> Defaults:
    """Check and keep the company's SCIM defaults (BatchProblem when they can't be used)."""
    if user_type not in USER_TYPES:
        raise BatchProblem(f"User type must be one of {', '.join(USER_TYPES)}.")
    prefix = country_prefix.strip().removeprefix("+").removeprefix("00")
    if not prefix.isdigit() or int(prefix) not in VALID_CALLING_CODES:
        raise BatchProblem(f'"{country_prefix}" is not a country calling code; use for example +1 or +44.')
    spec.user_type = user_type
    checked = checked_batch(session, company_id, spec)
    row = session.get(ScimSettings, company_id) or ScimSettings(company_id=company_id)
    row.user_type, row.country_prefix = user_type, f"+{int(prefix)}"
    row.batch = {k: v for k, v in checked.to_json().items() if k != "user_type"}
    row.updated_at, row.updated_by = utcnow(), actor[:120]
    session.add(row)
    audit.record(
        session,
        SETTINGS_CHANGED,
        company_id=company_id,
        actor=actor,
        details={"user_type": user_type, "country_prefix": row.country_prefix, "batch": row.batch},
    )
    return defaults(session, company_id)


# ---------------------------------------------------------------- judging, as files are judged


def judge(people: list[Person], default_prefix: str) -> Validation:
    """The file import's validation over these people, row n for people[n - 1]."""
    rows = [person.values(default_prefix) for person in people]
    frame = pl.DataFrame(
        {"row": list(range(1, len(rows) + 1)), **{c: [r[c] for r in rows] for c in COLUMN_NAMES}},
        schema={"row": pl.Int64, **dict.fromkeys(COLUMN_NAMES, pl.String)},
    )
    return validate_rows(frame)


def check_one(session: Session, company_id: int, person: Person, *, user_id: int | None = None) -> dict[str, Any]:
    """One person's normal forms (email_norm, prefix_norm, phone_e164), or Invalid / Conflict."""
    validation = judge([person], defaults(session, company_id).country_prefix)
    if validation.errors:
        raise Invalid(validation.errors)
    normal = validation.frame.row(0, named=True)
    holder = session.exec(select(User.id).where(User.email == normal["email_norm"])).scalar_one_or_none()
    if holder is not None and holder != user_id:
        raise Conflict(message_for(ErrorCode.EMAIL_ALREADY_EXISTS, value=normal["email_norm"]))
    user_name = person.user_name.strip() or normal["email_norm"]
    if len(user_name) > USER_NAME_MAX:
        raise Invalid([RowError(1, None, ErrorCode.VALUE_TOO_LONG, f"userName is longer than {USER_NAME_MAX}.")])
    if taken_user_names(session, company_id, [user_name], except_user=user_id):
        raise Conflict(f'The userName "{user_name}" is already in use in this account.')
    return normal


def taken_user_names(
    session: Session, company_id: int, user_names: list[str], *, except_user: int | None = None
) -> set[str]:
    """Which of these userNames (as keys) a user of the company already has: a SCIM identity's
    userName, or the email of a user without one."""
    keys = sorted({user_name_key(n) for n in user_names if n.strip()})
    if not keys:
        return set()
    found: set[str] = set()
    identity = select(ScimIdentity.user_name_key).where(
        ScimIdentity.company_id == company_id, ScimIdentity.user_name_key.in_(keys)
    )
    plain = (
        select(User.email)
        .outerjoin(ScimIdentity, ScimIdentity.user_id == User.id)
        .where(User.company_id == company_id, ScimIdentity.user_id.is_(None), User.email.in_(keys))
    )
    if except_user is not None:
        identity = identity.where(ScimIdentity.user_id != except_user)
        plain = plain.where(User.id != except_user)
    found.update(session.exec(identity).scalars())
    found.update(session.exec(plain).scalars())
    return found


# ---------------------------------------------------------------- creating: a staged upload


def stage(
    session: Session, company_id: int, people: list[Person], *, label: str, sha256: str, actor: str
) -> BulkUpload:
    """The people as a draft upload from SCIM, with the company's SCIM defaults as its batch."""
    chosen = defaults(session, company_id)
    validation = judge(people, chosen.country_prefix)
    raw = RawTable(
        header=list(COLUMN_NAMES),
        data=pl.DataFrame(),
        header_row=0,
        extra_values={},
        file_format="scim",
        sheet_name=None,
        encoding=None,
        delimiter=None,
    )
    parsed = ParsedFile(frame=validation.frame, raw=raw, sha256=sha256, matched_by="scim")
    return stage_batch(
        session,
        company_id=company_id,
        file_name=label,
        parsed=parsed,
        validation=validation,
        spec=chosen.spec,
        source=UploadSource.SCIM,
        actor=actor,
        step=WizardStep.CREATING,
    )


def row_errors(session: Session, upload_id: str, first: int, last: int) -> dict[int, list[dict[str, Any]]]:
    """Each invalid staged row's errors, by row number, rows first..last."""
    rows = session.exec(
        select(BulkUploadRow.row_number, BulkUploadRow.errors).where(
            BulkUploadRow.upload_id == upload_id,
            BulkUploadRow.is_valid.is_(False),
            BulkUploadRow.row_number.between(first, last),
        )
    ).all()
    return {number: list(errors) for number, errors in rows}


def row_outcomes(
    session: Session, upload_id: str, first: int, last: int
) -> dict[int, tuple[str, int | None, str | None, str | None]]:
    """Row number → (outcome, user id, outcome code, outcome message), rows first..last."""
    rows = session.exec(
        select(
            BulkUploadRow.row_number,
            BulkUploadRow.outcome,
            BulkUploadRow.user_id,
            BulkUploadRow.outcome_code,
            BulkUploadRow.outcome_message,
        ).where(BulkUploadRow.upload_id == upload_id, BulkUploadRow.row_number.between(first, last))
    ).all()
    return {number: (outcome, user_id, code, message) for number, outcome, user_id, code, message in rows}


def attach_identities(
    session: Session, company_id: int, upload_id: str, people: list[Person], first: int = 1, last: int | None = None
) -> dict[int, int]:
    """Give the users the upload created (rows first..last) their SCIM identity; row number → user id.

    A userName another user took meanwhile is left out (the user keeps its email as userName).
    """
    created: dict[int, int] = dict(
        session.exec(
            select(BulkUploadRow.row_number, BulkUploadRow.user_id).where(
                BulkUploadRow.upload_id == upload_id,
                BulkUploadRow.outcome == RowOutcome.CREATED,
                BulkUploadRow.user_id.is_not(None),
                BulkUploadRow.row_number.between(first, len(people) if last is None else last),
            )
        ).all()
    )
    have = set(
        session.exec(select(ScimIdentity.user_id).where(ScimIdentity.user_id.in_(list(created.values())))).scalars()
    )
    for number, user_id in created.items():
        person = people[number - 1]
        if user_id in have:
            continue
        user_name = person.user_name.strip()
        if user_name and taken_user_names(session, company_id, [user_name], except_user=user_id):
            user_name = ""
        if user_name or person.external_id:
            email: str = session.exec(select(User.email).where(User.id == user_id)).scalar_one()
            name = user_name or email
            try:
                # A concurrent request may take the userName between the check and here: the user
                # then keeps its email as userName rather than the whole answer failing.
                with session.begin_nested():
                    session.add(
                        ScimIdentity(
                            user_id=user_id,
                            company_id=company_id,
                            user_name=name,
                            user_name_key=user_name_key(name),
                            external_id=person.external_id,
                        )
                    )
            except IntegrityError:
                pass
        if not person.active:
            session.execute(update(User).where(User.id == user_id).values(is_active=False))
    session.flush()
    return created


def stop_rows(session: Session, upload_id: str, from_row: int, errors: int) -> None:
    """Settle the rows a stopped Bulk request did not reach: failed, BULK_STOPPED."""
    session.execute(
        update(BulkUploadRow)
        .where(
            BulkUploadRow.upload_id == upload_id,
            BulkUploadRow.row_number >= from_row,
            BulkUploadRow.outcome == RowOutcome.PENDING,
            BulkUploadRow.is_valid.is_(True),
        )
        .values(
            outcome=RowOutcome.FAILED,
            outcome_code=ErrorCode.BULK_STOPPED.value,
            outcome_message=message_for(ErrorCode.BULK_STOPPED, errors=errors),
        )
    )


def seats_for(session: Session, company_id: int, needed: int, legacy_dashboard_url: str) -> None:
    """NoSeat unless `needed` more active users fit (checked under the company lock)."""
    seats = company_seats(session, company_id, lock=True)
    problem = seat_problem(session, company_id, needed, legacy_dashboard_url, seats=seats)
    if problem is not None:
        raise NoSeat(problem)


# ---------------------------------------------------------------- reading


def _identity_join():
    return select(User, ScimIdentity.user_name, ScimIdentity.external_id).outerjoin(
        ScimIdentity, ScimIdentity.user_id == User.id
    )


def _provisioned(row: Any) -> Provisioned:
    user, user_name, external_id = row
    return Provisioned(user, user_name or user.email, external_id)


def get(session: Session, company_id: int, user_id: int) -> Provisioned:
    row = session.exec(_identity_join().where(User.id == user_id, User.company_id == company_id)).first()
    if row is None:
        raise UserNotFound(user_id)
    return _provisioned(row)


def user_name_is(value: str) -> ColumnElement[bool]:
    key = user_name_key(value)
    return or_(ScimIdentity.user_name_key == key, and_(ScimIdentity.user_id.is_(None), User.email == key))


def query(
    session: Session, company_id: int, where: ColumnElement[bool] | None, *, offset: int, limit: int
) -> tuple[list[Provisioned], int]:
    """A page of the company's users matching `where` (over User and ScimIdentity), by id."""
    condition = User.company_id == company_id if where is None else and_(User.company_id == company_id, where)
    total = session.exec(
        select(func.count()).select_from(User).outerjoin(ScimIdentity, ScimIdentity.user_id == User.id).where(condition)
    ).scalar_one()
    rows = session.exec(_identity_join().where(condition).order_by(User.id).offset(offset).limit(limit)).all()
    return [_provisioned(r) for r in rows], total


def every_user(session: Session, company_id: int, batch: int = 1000):
    """Every user of the company with its identity, by id, a batch at a time (filters we don't
    translate to SQL are matched in Python over these)."""
    after = 0
    while True:
        rows = session.exec(
            _identity_join().where(User.company_id == company_id, User.id > after).order_by(User.id).limit(batch)
        ).all()
        if not rows:
            return
        for row in rows:
            yield _provisioned(row)
        after = rows[-1][0].id


# ---------------------------------------------------------------- changing and deleting


def replace(
    session: Session,
    company_id: int,
    user_id: int,
    person: Person,
    *,
    actor: str,
    legacy_dashboard_url: str,
    how: str = "replaced",
) -> Provisioned:
    """Set the user's SCIM attributes to `person` (PUT, and PATCH once applied): the same checks
    as a new user's; reactivating a user needs a free seat."""
    user = session.exec(
        select(User).where(User.id == user_id, User.company_id == company_id).execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if user is None:
        raise UserNotFound(user_id)
    if not person.countryprefix and not prefix_of(person.phone):
        person.countryprefix = user.country_prefix
    normal = check_one(session, company_id, person, user_id=user_id)
    if person.active and not user.is_active:
        seats_for(session, company_id, 1, legacy_dashboard_url)
    before = {"email": user.email, "is_active": user.is_active}
    user.firstname, user.lastname = person.firstname, person.lastname
    user.email, user.country_prefix = normal["email_norm"], normal["prefix_norm"]
    user.phone = normal["phone_e164"]
    user.is_active = person.active
    session.add(user)
    identity = session.get(ScimIdentity, user_id)
    name = person.user_name.strip() or user.email
    if identity is None:
        identity = ScimIdentity(user_id=user_id, company_id=company_id, user_name=name, user_name_key="")
    identity.user_name, identity.user_name_key = name, user_name_key(name)
    identity.external_id = person.external_id
    session.add(identity)
    session.flush()
    audit.record(
        session,
        USER_UPDATED,
        company_id=company_id,
        actor=actor,
        outcome=how,
        details={"user_id": user_id, "before": before, "active": user.is_active},
    )
    return get(session, company_id, user_id)


def remove(session: Session, company_id: int, user_id: int, *, actor: str) -> None:
    """Delete the user (its seat is free again), its links and SCIM identity; its upload's row
    keeps the outcome "removed"."""
    user = session.exec(select(User.id).where(User.id == user_id, User.company_id == company_id)).scalar_one_or_none()
    if user is None:
        raise UserNotFound(user_id)
    membership.unlink_users(session, [user_id])
    session.execute(
        update(BulkUploadRow).where(BulkUploadRow.user_id == user_id).values(outcome=RowOutcome.REMOVED, user_id=None)
    )
    session.execute(delete(ScimIdentity).where(ScimIdentity.user_id == user_id))
    session.execute(delete(User).where(User.id == user_id, User.company_id == company_id))
    audit.record(session, USER_DELETED, company_id=company_id, actor=actor, details={"user_id": user_id})


def seats_free(session: Session, company_id: int) -> int:
    return company_seats(session, company_id).free
