"""The signed-in admin, kept on the server: the browser never supplies a company id."""

from __future__ import annotations

import reflex as rx

from ..auth import SignedInAdmin, dev_signin
from ..db import session_scope


class SessionState(rx.State):
    _company_id: int = 0
    _user_id: int = 0
    _role: str = ""
    signed_in: bool = False
    is_admin: bool = False
    checked: bool = False  # sign-in was looked at: the page may say "only admins" rather than wait

    def admin(self) -> SignedInAdmin | None:
        """The signed-in admin, signing in the development admin when that is enabled."""
        self.checked = True
        if not self.signed_in:
            with session_scope(read_only=True) as session:
                found = dev_signin(session)
            if found is not None:
                self._company_id, self._user_id, self._role = found.company_id, found.user_id or 0, found.role
                self.signed_in, self.is_admin = True, found.is_admin
        if not self.signed_in or not self.is_admin:
            return None
        return SignedInAdmin(company_id=self._company_id, user_id=self._user_id or None, role=self._role)
