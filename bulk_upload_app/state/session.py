"""The signed-in admin, kept on the server: the browser never supplies a company id."""

from __future__ import annotations

import re

import reflex as rx

from ..auth import SignedInAdmin, dev_signin
from ..db import session_scope

_ID = re.compile(r"\d{1,18}")


def as_id(value: object) -> int | None:
    """An id sent by the browser as a plain number, or None (never an exception)."""
    text = str(value)
    return int(text) if _ID.fullmatch(text) else None


class SessionState(rx.State):
    _company_id: int = 0
    _user_id: int = 0
    _role: str = ""
    signed_in: bool = False
    is_admin: bool = False
    checked: bool = False  # sign-in was looked at: the page may say "only admins" rather than wait

    def admin(self) -> SignedInAdmin | None:
        """The signed-in admin, asked afresh on every event: a demoted admin loses access at once."""
        with session_scope(read_only=True) as session:
            found = dev_signin(session)
        self.checked = True
        if found is None:
            self._company_id, self._user_id, self._role = 0, 0, ""
            self.signed_in = self.is_admin = False
            return None
        self._company_id, self._user_id, self._role = found.company_id, found.user_id or 0, found.role
        self.signed_in, self.is_admin = True, found.is_admin
        return found if found.is_admin else None
