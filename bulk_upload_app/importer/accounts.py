"""What the company account says about a batch: emails already taken and free seats."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlmodel import Session

from ..models import Company, User

_CHUNK = 5000  # well under every database's bound-parameter limit


def existing_emails(session: Session, emails: Iterable[str]) -> set[str]:
    """Which of these (normalised) emails already belong to a user, in any company."""
    pending = sorted(set(emails))
    found: set[str] = set()
    for start in range(0, len(pending), _CHUNK):
        chunk = pending[start : start + _CHUNK]
        found.update(session.exec(select(User.email).where(User.email.in_(chunk))).scalars())
    return found


@dataclass(frozen=True)
class Seats:
    total: int
    used: int

    @property
    def free(self) -> int:
        return max(self.total - self.used, 0)


def seats(session: Session, company_id: int, *, lock: bool = False) -> Seats:
    """Seats of the company; with lock=True the company row stays locked until commit."""
    query = select(Company.seats).where(Company.id == company_id)
    if lock and session.get_bind().dialect.name != "sqlite":
        query = query.with_for_update()
    total = session.exec(query).scalar_one()
    used = session.exec(
        select(func.count()).select_from(User).where(User.company_id == company_id, User.is_active.is_(True))
    ).scalar_one()
    return Seats(total=total, used=used)
