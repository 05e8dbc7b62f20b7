"""The signed-in admin, kept on the server: the browser never supplies a company id.

The company dashboard signs the admin in with a short-lived token in the first page's URL
(`?token=`, see access/tokens.py). The identity it carries is kept in `_`-prefixed vars, which never
leave the server; nothing the browser sends later can change them, only another valid token.
The demo sign-in (demo mode only) is used only when no token was ever offered. The page removes
the token from its address once the server has looked at it (assets/embed.js), and the host
page may renew a sign-in by posting a fresh token to the frame (`renew_sign_in`).
"""

from __future__ import annotations

import logging
import re
import time

import reflex as rx

from bulk_upload_app.access.tokens import MESSAGES, SignedInAdmin, TokenClaims, TokenRefused, dev_signin_enabled
from bulk_upload_app.services import signin
from bulk_upload_app.settings import get_settings

_ID = re.compile(r"\d{1,18}")
logger = logging.getLogger("bulk_upload")


def as_id(value: object) -> int | None:
    """An id sent by the browser as a plain number, or None (never an exception)."""
    text = str(value)
    return int(text) if _ID.fullmatch(text) else None


class SessionState(rx.State):
    _company_id: int = 0
    _user_id: int = 0
    _role: str = ""
    _email: str = ""  # the token's `email` claim ("" = none): where notification email goes
    _token_jti: str = ""  # the token this tab signed in with ("" = none accepted)
    _token_until: float = 0.0  # the sign-in from that token lasts until then (epoch seconds)
    _token_refused: bool = False  # a token was offered and refused: no dev sign-in fallback
    signed_in: bool = False
    is_admin: bool = False
    checked: bool = False  # sign-in was looked at: the page may say "only admins" rather than wait
    auth_error: str = ""  # why there is no access (missing/expired/tampered/replayed token, ...)

    def _url_token(self) -> str:
        try:
            return self.router.url.query_parameters.get("token", "") or ""
        except AttributeError:
            return ""

    def _sign_out(self, error: str = "") -> None:
        self._company_id, self._user_id, self._role, self._email = 0, 0, "", ""
        self._token_jti, self._token_until = "", 0.0
        self.signed_in = self.is_admin = False
        self.auth_error = error

    def _accept(self, token: str) -> TokenClaims | None:
        """Spend `token` and sign this tab in with it; None (signed out, with the reason) if refused."""
        try:
            claims = signin.spend_token(token)
        except TokenRefused as refused:
            logger.info("sign-in token refused: %s", refused.code)
            self._token_refused = True
            self._sign_out(str(refused))
            return None
        self._token_refused = False
        self._company_id, self._user_id, self._role = claims.company_id, claims.user_id, claims.role
        self._email = claims.email or ""
        self._token_jti, self._token_until = claims.jti, time.time() + get_settings().session_seconds
        return claims

    def _from_token(self) -> SignedInAdmin | None:
        """The identity from the page's token; accepting a new token spends it."""
        token = self._url_token()
        offered_new = token and not (self._token_jti and self._token_offered_is_current(token))
        if offered_new and self._accept(token) is None:
            return None
        if not self._token_jti:
            return None
        if time.time() > self._token_until:
            self._token_refused = True
            self._sign_out(MESSAGES["session_expired"])
            return None
        return SignedInAdmin(
            company_id=self._company_id, user_id=self._user_id, role=self._role, email=self._email or None
        )

    def _token_offered_is_current(self, token: str) -> bool:
        """True when `token` is the one this tab already signed in with (a reload of its page)."""
        try:
            import jwt

            return jwt.decode(token, options={"verify_signature": False}).get("jti") == self._token_jti
        except Exception:
            return False

    @rx.event
    def renew_sign_in(self, form_data: dict):
        """A fresh token posted by the host page (assets/embed.js): the sign-in lasts longer."""
        token = form_data.get("token") if isinstance(form_data, dict) else None
        if isinstance(token, str) and token and self._accept(token) is not None:
            self.admin()

    def admin(self) -> SignedInAdmin | None:
        """The signed-in admin, asked on every event before anything else."""
        self.checked = True
        found = self._from_token()
        if found is None and not self._token_jti:
            if self._token_refused:
                return None
            found = signin.demo_admin()
            if found is None:
                self._sign_out("" if dev_signin_enabled() else MESSAGES["missing"])
                return None
            # The dev sign-in is asked afresh on every event: a demoted demo admin loses access at once.
            self._company_id, self._user_id, self._role = found.company_id, found.user_id or 0, found.role
            self._email = found.email or ""
        self.auth_error = ""
        self.signed_in, self.is_admin = True, found.is_admin
        return found if found.is_admin else None
