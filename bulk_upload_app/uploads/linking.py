"""What a created user gets besides its row: the next extension of its company. (Its groups,
outbound numbers and skills are link rows written by uploads/membership.link_users.)"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import Session

from bulk_upload_app.models import User

# 4 digits, then 5 once a company outgrows them; past 99,999 users, 6 and more.
MAX_EXTENSION = 99_999_999


def next_extension(session: Session, company_id: int) -> int:
    """New users get the extensions after the highest in use, from 1000 up."""
    highest = session.exec(select(func.max(User.extension)).where(User.company_id == company_id)).scalar_one()
    return max(1000, (highest or 0) + 1)
