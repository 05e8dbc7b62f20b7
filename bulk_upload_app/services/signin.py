"""Who may act: a sign-in token spent once, or (demo mode only) the demo company's admin."""

from __future__ import annotations

from bulk_upload_app.access.tokens import SignedInAdmin, TokenClaims, accept_token, dev_signin
from bulk_upload_app.db import session_scope


def spend_token(token: str) -> TokenClaims:
    """The token's claims once it is verified and its jti recorded (TokenRefused otherwise)."""
    with session_scope() as session:
        return accept_token(session, token)


def demo_admin() -> SignedInAdmin | None:
    with session_scope(read_only=True) as session:
        return dev_signin(session)
