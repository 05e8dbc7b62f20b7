"""API keys: the bearer keys a company's scripts and identity provider call the API and SCIM with."""

from __future__ import annotations

from dataclasses import dataclass

from bulk_upload_app.access import api_keys
from bulk_upload_app.access.api_keys import ApiKeyListing, ApiKeyNotFound, ApiKeyProblem
from bulk_upload_app.db import session_scope
from bulk_upload_app.models import utcnow

__all__ = [
    "ApiCaller",
    "ApiKeyListing",
    "ApiKeyNotFound",
    "ApiKeyProblem",
    "authenticate",
    "create_key",
    "list_keys",
    "revoke_key",
]


@dataclass(frozen=True)
class ApiCaller:
    """Who is calling: the company every query of the request is scoped to, and which key."""

    company_id: int
    key_id: str
    name: str

    @property
    def actor(self) -> str:
        """How the audit names the caller."""
        return f"api_key:{self.key_id}"


def authenticate(raw_key: str) -> ApiCaller | None:
    """The caller a key belongs to; None when the key is unknown or revoked."""
    now = utcnow()
    with session_scope(read_only=True) as session:
        key = api_keys.find(session, raw_key)
        if key is None:
            return None
        caller = ApiCaller(company_id=key.company_id, key_id=key.id, name=key.name)
        stale = api_keys.last_used_is_stale(key, now)
    if stale:  # a write (SQLite's write lock) at most once a minute per key
        with session_scope() as session:
            api_keys.touch(session, caller.key_id, now)
    return caller


def create_key(company_id: int, name: str, *, created_by: str) -> tuple[str, str]:
    """(key id, the key): show the key once, it is stored hashed only. ApiKeyProblem for a bad name."""
    with session_scope() as session:
        return api_keys.create(session, company_id, name, created_by=created_by)


def list_keys(company_id: int) -> list[ApiKeyListing]:
    with session_scope(read_only=True) as session:
        return api_keys.listing(session, company_id)


def revoke_key(company_id: int, key_id: str, *, revoked_by: str = "") -> None:
    """Revoke the company's key at once; another company's key (or none): ApiKeyNotFound."""
    with session_scope() as session:
        api_keys.revoke(session, company_id, key_id, revoked_by=revoked_by)
