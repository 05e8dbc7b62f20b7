"""Who is signed in: the company dashboard's signed token, or (local use only) the dev sign-in.

The dashboard opens the wizard with `?token=<JWT>`: HS256, signed with the secret shared with
the dashboard (BULK_UPLOAD_JWT_SECRET), claims `company_id`, `user_id`, `role`, `iat`, `exp`,
`jti`, `aud` = "bulk-upload" and `iss` = BULK_UPLOAD_JWT_ISSUER, and optionally `email` (the
admin's address: where the email about a finished batch goes; one that is not a valid address is
left out, with a warning in the log, rather than refusing the sign-in). A token is accepted once (its
`jti` is remembered in the `used_token` table until it expires: in the database, so a Redis
restart cannot make a used token new again) and lives at most BULK_UPLOAD_JWT_MAX_AGE seconds.
What it grants is kept on the server only.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bulk_upload_app.errors import MESSAGES, TokenRefused
from bulk_upload_app.files.validation import check_email
from bulk_upload_app.models import Company, UsedToken, User
from bulk_upload_app.seed import DEMO_ADMIN_EMAIL
from bulk_upload_app.settings import JWT_AUDIENCE, get_settings

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("company_id", "user_id", "role", "iat", "exp", "jti", "aud", "iss")
LEEWAY_SECONDS = 30  # clock skew between the dashboard and us
MAX_EMAIL_CHARS = 254
logger = logging.getLogger("bulk_upload")


@dataclass(frozen=True)
class SignedInAdmin:
    company_id: int
    user_id: int | None
    role: str
    email: str | None = None  # where notifications go (the token's `email` claim); None: nowhere

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _refuse(code: str) -> TokenRefused:
    return TokenRefused(code, MESSAGES[code])


def dev_signin_enabled() -> bool:
    return get_settings().dev_signin


def dev_signin(session: Session) -> SignedInAdmin | None:
    """The demo company's admin, in demo mode only: found by the demo company's id, so a user
    with the demo admin's email in any other company is never signed in by it."""
    if not dev_signin_enabled():
        return None
    user = (
        session.exec(
            select(User)
            .join(Company, Company.id == User.company_id)
            .where(Company.is_demo, User.email == DEMO_ADMIN_EMAIL)
            .order_by(Company.id)
        )
        .scalars()
        .first()
    )
    if user is None:
        return None
    return SignedInAdmin(company_id=user.company_id, user_id=user.id, role=user.user_type, email=user.email)


# ---------------------------------------------------------------- tokens


@dataclass(frozen=True)
class TokenClaims:
    company_id: int
    user_id: int
    role: str
    jti: str
    iat: int
    exp: int
    email: str | None = None

    def admin(self) -> SignedInAdmin:
        return SignedInAdmin(company_id=self.company_id, user_id=self.user_id, role=self.role, email=self.email)


def email_claim(value: Any) -> str | None:
    """The token's optional `email` claim, normalised; None when absent or not a valid address."""
    if value is None:
        return None
    if isinstance(value, str) and 0 < len(value) <= MAX_EMAIL_CHARS:
        address, _problem = check_email(value)
        if address is not None:
            return address
    logger.warning("sign-in token: its email claim is not a valid address; no notification email for this admin")
    return None


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, str) and value.isdigit() and 0 < len(value) <= 18:
        return int(value)
    return None


def decode_token(token: str | None, *, secret: str | None = None, now: float | None = None) -> TokenClaims:
    """The claims of a well-signed, unexpired, well-formed token; TokenRefused otherwise.

    Does not look at replays (see `accept_token`).
    """
    settings = get_settings()
    secret = settings.jwt_secret if secret is None else secret
    if not secret or not settings.jwt_issuer:
        raise _refuse("not_configured")
    if not token or not token.strip():
        raise _refuse("missing")
    now = time.time() if now is None else now
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != ALGORITHM:
            raise _refuse("invalid")
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=JWT_AUDIENCE,
            issuer=settings.jwt_issuer,
            options={
                "require": list(REQUIRED_CLAIMS),
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": True,
                "verify_aud": True,
                "verify_iss": True,
            },
        )
    except jwt.InvalidTokenError:
        raise _refuse("invalid") from None
    iat, exp = claims.get("iat"), claims.get("exp")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (iat, exp)):
        raise _refuse("invalid")
    if iat > now + LEEWAY_SECONDS or exp <= iat or exp - iat > settings.jwt_max_age:
        raise _refuse("invalid")  # from the future, or lives longer than we allow
    if exp <= now - LEEWAY_SECONDS:
        raise _refuse("expired")
    company_id, user_id = _positive_int(claims.get("company_id")), _positive_int(claims.get("user_id"))
    role, jti = claims.get("role"), claims.get("jti")
    if company_id is None or user_id is None or not isinstance(role, str) or not role or len(role) > 40:
        raise _refuse("invalid")
    if not isinstance(jti, str) or not 8 <= len(jti) <= 128:
        raise _refuse("invalid")
    return TokenClaims(company_id, user_id, role, jti, int(iat), int(exp), email_claim(claims.get("email")))


def remember_jti(session: Session, jti: str, exp: int) -> bool:
    """Record that `jti` was used; False when it was used before."""
    keep_until = exp + LEEWAY_SECONDS
    now = datetime.now(UTC)
    session.exec(delete(UsedToken).where(UsedToken.expires_at < now))
    try:
        with session.begin_nested():
            session.add(UsedToken(jti=jti, expires_at=datetime.fromtimestamp(keep_until, UTC)))
            session.flush()
    except IntegrityError:
        return False
    return True


def accept_token(session: Session, token: str | None, *, now: float | None = None) -> TokenClaims:
    """Verify `token`, check its company exists and spend its jti (once only)."""
    claims = decode_token(token, now=now)
    if session.get(Company, claims.company_id) is None:
        raise _refuse("unknown_company")
    if not remember_jti(session, claims.jti, claims.exp):
        raise _refuse("replayed")
    return claims


def make_token(
    company_id: int,
    user_id: int,
    role: str = "admin",
    *,
    secret: str | None = None,
    issuer: str | None = None,
    lifetime: int = 120,
    jti: str | None = None,
    now: float | None = None,
    **extra: Any,
) -> str:
    """A token as the dashboard makes it (for tests, the example host and the load test)."""
    import uuid

    settings = get_settings()
    now = int(time.time() if now is None else now)
    payload = {
        "company_id": company_id,
        "user_id": user_id,
        "role": role,
        "iat": now,
        "exp": now + lifetime,
        "jti": jti or uuid.uuid4().hex,
        "aud": JWT_AUDIENCE,
        "iss": settings.jwt_issuer if issuer is None else issuer,
        **extra,
    }
    return jwt.encode(payload, settings.jwt_secret if secret is None else secret, algorithm=ALGORITHM)
