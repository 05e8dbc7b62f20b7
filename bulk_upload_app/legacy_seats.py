"""The demo legacy dashboard's database work: adding seats to a company, and where to go back to.

No Reflex here: the page's state calls these with the company id of the signed-in admin.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from sqlalchemy import select, update
from sqlmodel import Session

from bulk_upload_app import routes
from bulk_upload_app.models import Company
from bulk_upload_app.settings import get_settings

MIN_SEATS_TO_ADD = 1
MAX_SEATS_TO_ADD = 1000

# Where the bulk upload page lives; the only place the back link may point to besides FALLBACK_RETURN.
RETURN_PREFIX = routes.BULK_UPLOAD
FALLBACK_RETURN = routes.USERS
_MAX_RETURN_LENGTH = 2000
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")  # controls, spaces and backslashes (browsers read "\" as "/")


def _checked(count: int) -> int:
    if isinstance(count, bool) or not isinstance(count, int) or not MIN_SEATS_TO_ADD <= count <= MAX_SEATS_TO_ADD:
        raise ValueError(f"Enter a whole number of seats from {MIN_SEATS_TO_ADD} to {MAX_SEATS_TO_ADD}.")
    return count


def parse_seat_count(raw: object) -> int:
    """The number of seats to add from a form value ("5") or an int; ValueError with a plain message otherwise."""
    if isinstance(raw, str) and re.fullmatch(r"\s*\+?[0-9]{1,7}\s*", raw):
        return _checked(int(raw))
    return _checked(raw)  # type: ignore[arg-type]


def add_seats(session: Session, company_id: int, count: int) -> tuple[int, int]:
    """Add `count` seats (1..1000) to the company; return its seats (before, after). Demo mode only.

    One UPDATE adds to the stored value, so two admins adding at once both count. Commit is the
    caller's (`session_scope()`).
    """
    if not get_settings().demo:
        raise PermissionError("Seats are bought in the company dashboard; this app changes them only in demo mode.")
    count = _checked(count)
    query = select(Company.seats).where(Company.id == company_id)
    if session.get_bind().dialect.name != "sqlite":  # SQLite: session_scope holds the write lock already
        query = query.with_for_update()
    before = session.exec(query).scalar_one_or_none()
    if before is None:
        raise ValueError("This company account no longer exists.")
    session.exec(update(Company).where(Company.id == company_id).values(seats=Company.seats + count))
    after = session.exec(select(Company.seats).where(Company.id == company_id)).scalar_one()
    return before, after


def safe_return_path(raw: str | None) -> str:
    """The back link's target: `raw` when it is a same-origin path under /users/bulk-upload, else /users.

    Only a path of this app is accepted (no scheme, no host, not "//host"), so the link can never
    send the admin to another site.
    """
    if not raw or len(raw) > _MAX_RETURN_LENGTH or _UNSAFE.search(raw) or _UNSAFE.search(unquote(raw)):
        return FALLBACK_RETURN
    try:
        parts = urlsplit(raw)
    except ValueError:
        return FALLBACK_RETURN
    if parts.scheme or parts.netloc or not raw.startswith(RETURN_PREFIX):
        return FALLBACK_RETURN
    rest = parts.path[len(RETURN_PREFIX) :]
    if rest and not rest.startswith("/"):  # "/users/bulk-uploads" is another page
        return FALLBACK_RETURN
    if any(segment in (".", "..") for segment in unquote(parts.path).split("/")):
        return FALLBACK_RETURN
    return raw
