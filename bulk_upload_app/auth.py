"""Who is signed in. Every event handler asks this, on the server, before doing anything."""

from __future__ import annotations

import os
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session

from .models import User
from .seed import DEMO_ADMIN_EMAIL


@dataclass(frozen=True)
class SignedInAdmin:
    company_id: int
    user_id: int | None
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def dev_signin_enabled() -> bool:
    return os.environ.get("BULK_UPLOAD_DEV_SIGNIN", "").strip().lower() in ("1", "true", "yes", "on")


def dev_signin(session: Session) -> SignedInAdmin | None:
    """The demo admin, for local use only (off unless BULK_UPLOAD_DEV_SIGNIN is on)."""
    if not dev_signin_enabled():
        return None
    user = session.exec(select(User).where(User.email == DEMO_ADMIN_EMAIL)).scalars().first()
    if user is None:
        return None
    return SignedInAdmin(company_id=user.company_id, user_id=user.id, role=user.user_type)
