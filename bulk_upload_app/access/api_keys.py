"""A company's API keys: made, found by the key, listed, revoked; every change audited.

A key is `bu_live_` and 43 url-safe characters (256 random bits). Only its SHA-256 is stored (a
slow password hash buys nothing for a secret that cannot be guessed) and its first 12 characters,
so an admin can tell keys apart. The key itself is returned once, by `create`.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlmodel import Session

from bulk_upload_app import audit
from bulk_upload_app.models import ApiKey, Company, utcnow

KEY_PREFIX = "bu_live_"
SHOWN_CHARACTERS = 12
NAME_MAX = 100
# last_used_at is a hint for admins, not a log: written at most once a minute per key, so a busy
# client does not turn every request into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)

KEY_CREATED = "api_key.created"
KEY_REVOKED = "api_key.revoked"


class ApiKeyNotFound(LookupError):
    """No such key in this company (another company's key is not found either)."""


class ApiKeyProblem(ValueError):
    """A key cannot be made as asked (e.g. an empty name); the message says why."""


@dataclass(frozen=True)
class ApiKeyListing:
    id: str
    name: str
    prefix: str
    created_at: datetime
    created_by: str
    last_used_at: datetime | None
    revoked_at: datetime | None


def digest(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def clean_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise ApiKeyProblem("Give the key a name, so you can tell it apart later (for example “Okta provisioning”).")
    if len(cleaned) > NAME_MAX:
        raise ApiKeyProblem(f"A key's name is at most {NAME_MAX} characters.")
    return cleaned


def create(session: Session, company_id: int, name: str, *, created_by: str) -> tuple[str, str]:
    """(key id, the key): the key is not stored and cannot be shown again."""
    cleaned = clean_name(name)
    if session.get(Company, company_id) is None:
        raise ApiKeyProblem(f"There is no company {company_id}.")
    raw = new_key()
    key = ApiKey(
        id=f"key_{secrets.token_hex(12)}",
        company_id=company_id,
        name=cleaned,
        key_sha256=digest(raw),
        prefix=raw[:SHOWN_CHARACTERS],
        created_by=created_by[:120],
    )
    session.add(key)
    session.flush()
    audit.record(
        session,
        KEY_CREATED,
        company_id=company_id,
        actor=created_by,
        details={"key_id": key.id, "name": cleaned, "prefix": key.prefix},
    )
    return key.id, raw


def find(session: Session, raw_key: str) -> ApiKey | None:
    """The live key `raw_key` is, or None (unknown, malformed or revoked)."""
    if not raw_key.startswith(KEY_PREFIX) or len(raw_key) > 200:
        return None
    key = session.exec(select(ApiKey).where(ApiKey.key_sha256 == digest(raw_key))).scalars().first()
    if key is None or key.revoked_at is not None:
        return None
    return key


def last_used_is_stale(key: ApiKey, now: datetime) -> bool:
    return key.last_used_at is None or now - _aware(key.last_used_at) >= LAST_USED_RESOLUTION


def touch(session: Session, key_id: str, now: datetime) -> None:
    """Note that the key was used now."""
    session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))


def listing(session: Session, company_id: int) -> list[ApiKeyListing]:
    """The company's keys, live ones first, newest first."""
    keys = session.exec(select(ApiKey).where(ApiKey.company_id == company_id)).scalars().all()
    keys = sorted(keys, key=lambda k: (k.revoked_at is not None, -_aware(k.created_at).timestamp(), k.id))
    return [
        ApiKeyListing(k.id, k.name, k.prefix, k.created_at, k.created_by, k.last_used_at, k.revoked_at) for k in keys
    ]


def revoke(session: Session, company_id: int, key_id: str, *, revoked_by: str) -> None:
    """Revoke a key of this company (again: no change). ApiKeyNotFound for any other id."""
    key = (
        session.exec(select(ApiKey).where(ApiKey.id == key_id, ApiKey.company_id == company_id).with_for_update())
        .scalars()
        .first()
    )
    if key is None:
        raise ApiKeyNotFound(key_id)
    if key.revoked_at is not None:
        return
    key.revoked_at = utcnow()
    key.revoked_by = revoked_by[:120]
    session.add(key)
    audit.record(
        session,
        KEY_REVOKED,
        company_id=company_id,
        actor=revoked_by,
        details={"key_id": key.id, "name": key.name, "prefix": key.prefix},
    )


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes for what was stored as UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
