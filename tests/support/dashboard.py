"""The company dashboard as the e2e servers see it: its JWT secret and issuer, its sign-in
tokens, and its seat shop (where the seat banner sends admins outside demo mode)."""

from __future__ import annotations

E2E_JWT_SECRET = "e2e-shared-secret-" + "s" * 32  # the app's and the example host's
E2E_JWT_ISSUER = "https://dashboard.e2e.example.com"
PRODUCTION_SEAT_SHOP = "https://dashboard.e2e.example.com/billing/seats"  # never visited by the tests


def e2e_token(company_id: int, user_id: int, role: str = "admin", **kwargs) -> str:
    """A sign-in token as the e2e servers' dashboard makes it (make_token's other arguments pass through)."""
    from bulk_upload_app.access.tokens import make_token

    kwargs.setdefault("secret", E2E_JWT_SECRET)
    kwargs.setdefault("issuer", E2E_JWT_ISSUER)
    return make_token(company_id, user_id, role, **kwargs)
