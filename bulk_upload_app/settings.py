"""Every setting of the app, read from the environment in this one module into one typed object.
Over 400 lines: a second module would be a second reader of the environment.

Two modes, one switch: `BULK_UPLOAD_DEMO=1` (what `./dev.sh run` sets, nothing else) turns on the
demo sign-in, the demo seed and the demo page that adds seats. Outside demo mode the server
refuses to start unless the production secrets and origins are set (`startup_problems`).
Nothing else in the app reads `os.environ`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Runtime files live in a hidden folder: Reflex's dev server ignores hidden folders, and a SQLite
# database in the project root restarts it on every write (its -wal/-shm files are watched).
RUNTIME_DIR = PROJECT_ROOT / ".var"

MIN_JWT_SECRET_BYTES = 32
DEMO_JWT_ISSUER = "bulk-upload-demo-dashboard"
JWT_AUDIENCE = "bulk-upload"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


class SettingsError(ValueError):
    """A setting with a value we cannot use; `str()` names the variable."""


# How the SMTP connection is secured, by the URL's scheme, and the port each uses by default.
SMTP_SCHEMES = {"smtp": ("plain", 25), "smtp+starttls": ("starttls", 587), "smtps": ("tls", 465)}


@dataclass(frozen=True)
class SmtpServer:
    """Where mail goes: BULK_UPLOAD_SMTP_URL, parsed. The password never appears in a repr or log."""

    security: str  # "plain", "starttls" (STARTTLS required) or "tls" (TLS from the first byte)
    host: str
    port: int
    username: str = ""
    password: str = field(default="", repr=False)

    def describe(self) -> str:
        """For logs and error messages: scheme, host and port, never the credentials."""
        scheme = next(s for s, (security, _) in SMTP_SCHEMES.items() if security == self.security)
        return f"{scheme}://{self.host}:{self.port}"


def parse_smtp_url(raw: str, name: str = "BULK_UPLOAD_SMTP_URL") -> SmtpServer:
    """`smtp://host[:port]`, `smtp+starttls://...`, `smtps://...`, with `user:password@` (percent-
    encoded) optional; SettingsError naming `name` for anything else. The message never repeats
    the URL, which may hold a password."""
    try:
        parts = urlsplit(raw.strip())
        port = parts.port
    except ValueError:
        raise SettingsError(f"{name} is not a URL like smtp+starttls://user:password@mail.example.com:587") from None
    scheme = parts.scheme.lower()
    if scheme not in SMTP_SCHEMES:
        raise SettingsError(f"{name} must start with smtp://, smtp+starttls:// or smtps:// (got {scheme or 'none'}://)")
    host = parts.hostname or ""
    if not host or any(c.isspace() for c in host):
        raise SettingsError(f"{name} names no mail server host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise SettingsError(f"{name} must be only scheme://[user:password@]host[:port] (no path or query)")
    if port == 0:
        raise SettingsError(f"{name} has port 0")
    username, password = unquote(parts.username or ""), unquote(parts.password or "")
    if password and not username:
        raise SettingsError(f"{name} has a password but no user name")
    security, default_port = SMTP_SCHEMES[scheme]
    if security == "plain" and username:
        # Credentials over a connection anyone on the path can read: refuse rather than leak them.
        raise SettingsError(f"{name}: credentials need smtp+starttls:// or smtps://, never plain smtp://")
    return SmtpServer(security, host, port or default_port, username, password)


def _mail_address(raw: str, name: str) -> str:
    """`addr@example.com` or `Name <addr@example.com>`, checked; SettingsError otherwise."""
    if "\r" in raw or "\n" in raw:
        raise SettingsError(f"{name} must be on one line")
    _display, address = parseaddr(raw)
    local, at, domain = address.rpartition("@")
    if not at or not local or "." not in domain or any(c.isspace() or c in "<>" for c in address):
        raise SettingsError(f"{name}={raw!r} is not a mail address like Bulk upload <no-reply@example.com>")
    return raw.strip()


@dataclass(frozen=True)
class Settings:
    demo: bool
    db_url: str
    redis_url: str
    # The job queue (Redis; jobs.py): processing files and creating users run in `bulk-upload worker`s.
    queue_url: str
    queue_namespace: str
    queue_heartbeat_seconds: float  # a worker silent this long is dead: its jobs go to another
    worker_processes: int
    worker_threads: int  # per process, on the small lane (small files, small creates)
    worker_big_threads: int  # per process of a worker on the big lane's queues only (jobs.worker_threads)
    big_file_bytes: int  # a file this big or bigger is processed on the big lane
    big_create_rows: int  # a create of this many users or more runs on the big lane
    deploy_url: str
    api_url: str
    # uploads
    max_file_bytes: int
    max_rows: int
    storage_dir: Path
    max_concurrent_files_per_company: int
    max_concurrent_files: int
    max_open_drafts: int
    create_lease_seconds: float
    legacy_dashboard_url: str
    # retention of personal data
    draft_days: int
    retention_days: int
    undo_days: int  # a finished upload can be undone this many days after it finished
    purge_interval_minutes: int  # 0: the app does not purge by itself (cron runs `bulk-upload purge`)
    # sign-in
    dev_signin_requested: bool
    jwt_secret: str
    jwt_issuer: str
    jwt_max_age: int
    session_seconds: int
    # embedding and headers
    frame_ancestors: tuple[str, ...]
    worker_header: bool
    # notification mail (delivery/outbox.py, delivery/mail.py)
    smtp: SmtpServer | None  # None: no mail server; finished batches record "not sent"
    mail_from: str
    public_url: str  # where the links in the email point: the app as admins open it
    mail_attachment_max_bytes: int  # failed rows above this go as a link, not an attachment
    mail_catcher_dir: Path  # demo mode: where `bulk-upload mail-catcher` keeps what it caught
    # the HTTP API (/api/v1)
    api_redis_url: str = ""  # rate-limit counters shared by every worker; "" counts per process
    api_rate_limit: int = 600  # requests per API key and window
    api_rate_window_seconds: int = 60
    webhook_allow_insecure: bool = False  # tests and demo only: http:// and private addresses allowed

    @property
    def dev_signin(self) -> bool:
        return self.demo

    @property
    def https(self) -> bool:
        return self.deploy_url.startswith("https://")

    def app_origins(self) -> tuple[str, ...]:
        """The app's own origin(s); a loopback address also under its other loopback names."""
        found: list[str] = []
        for url in (self.deploy_url, self.api_url):
            parts = urlsplit(url)
            hosts = [parts.netloc.rsplit(":", 1)[0] if parts.port else parts.netloc]
            if hosts[0] in _LOOPBACK:
                hosts = list(_LOOPBACK)
            for host in hosts:
                origin = f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}"
                if origin not in found:
                    found.append(origin)
        return tuple(found)

    def cors_allowed_origins(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*self.app_origins(), *self.frame_ancestors]))


_LOOPBACK = ("localhost", "127.0.0.1", "[::1]")


def _origin(value: str) -> str | None:
    """`scheme://host[:port]` of an http(s) URL, or None."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def text(self, name: str, default: str = "") -> str:
        return self.env.get(name, "").strip() or default

    def flag(self, name: str) -> bool:
        raw = self.text(name).lower()
        if raw in _TRUE:
            return True
        if raw in _FALSE:
            return False
        raise SettingsError(f"{name}={raw!r} is not a yes/no value (use 1 or 0)")

    def number(self, name: str, default: float, *, minimum: float = 1, whole: bool = True) -> float:
        raw = self.text(name)
        if not raw:
            return default
        try:
            value = int(raw) if whole else float(raw)
        except ValueError:
            raise SettingsError(f"{name}={raw!r} is not a {'whole ' if whole else ''}number") from None
        if value < minimum:
            raise SettingsError(f"{name}={raw!r} must be at least {minimum}")
        return value

    def url(self, name: str, default: str) -> str:
        raw = self.text(name, default)
        if _origin(raw) is None:
            raise SettingsError(f"{name}={raw!r} is not an http(s) URL")
        return raw.rstrip("/")

    def origins(self, name: str) -> tuple[str, ...]:
        found = []
        for item in self.text(name).replace(",", " ").split():
            origin = _origin(item)
            if origin is None or origin != item.rstrip("/").lower():
                raise SettingsError(f"{name}: {item!r} is not an origin like https://dashboard.example.com")
            found.append(origin)
        return tuple(found)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """The settings in `env` (default: the process environment); SettingsError for a bad value."""
    read = _Reader(os.environ if env is None else env)
    demo = read.flag("BULK_UPLOAD_DEMO")
    # As Reflex itself: without an explicit URL, `reflex run --frontend-port P` means localhost:P.
    deploy_url = read.url("REFLEX_DEPLOY_URL", f"http://localhost:{read.text('REFLEX_FRONTEND_PORT', '3000')}")
    return Settings(
        demo=demo,
        db_url=read.text("REFLEX_DB_URL", f"sqlite:///{RUNTIME_DIR / 'bulk_upload.db'}"),
        redis_url=read.text("REFLEX_REDIS_URL"),
        queue_url=read.text("BULK_UPLOAD_QUEUE_URL"),
        queue_namespace=read.text("BULK_UPLOAD_QUEUE_NAMESPACE", "bulk-upload"),
        queue_heartbeat_seconds=read.number("BULK_UPLOAD_QUEUE_HEARTBEAT_SECONDS", 15, minimum=1, whole=False),
        worker_processes=int(read.number("BULK_UPLOAD_WORKER_PROCESSES", 1, minimum=1)),
        worker_threads=int(read.number("BULK_UPLOAD_WORKER_THREADS", 2, minimum=1)),
        worker_big_threads=int(read.number("BULK_UPLOAD_WORKER_BIG_THREADS", 1, minimum=1)),
        # ~60,000 CSV rows: judged in two chunks (2,000 then 50,000 rows), a few seconds of work.
        big_file_bytes=int(read.number("BULK_UPLOAD_BIG_FILE_MB", 4, minimum=0.001, whole=False) * 1024 * 1024),
        big_create_rows=int(read.number("BULK_UPLOAD_BIG_CREATE_ROWS", 50_000)),
        deploy_url=deploy_url,
        api_url=read.url("REFLEX_API_URL", f"http://localhost:{read.text('REFLEX_BACKEND_PORT', '8000')}"),
        max_file_bytes=int(read.number("BULK_UPLOAD_MAX_FILE_MB", 100)) * 1024 * 1024,  # 1M 5-column rows ~ 62 MB
        max_rows=int(read.number("BULK_UPLOAD_MAX_ROWS", 1_000_000)),
        storage_dir=Path(read.text("BULK_UPLOAD_STORAGE_DIR", str(RUNTIME_DIR / "uploads"))),
        max_concurrent_files_per_company=int(read.number("BULK_UPLOAD_MAX_CONCURRENT_FILES", 2)),
        # 0: no bound beyond the job workers' own threads (which are what reads files now); a bound
        # below the workers' threads left threads waiting for a slot while files queued.
        max_concurrent_files=int(read.number("BULK_UPLOAD_MAX_CONCURRENT_FILES_TOTAL", 0, minimum=0)),
        max_open_drafts=int(read.number("BULK_UPLOAD_MAX_OPEN_DRAFTS", 20)),
        create_lease_seconds=read.number("BULK_UPLOAD_CREATE_LEASE_SECONDS", 60, minimum=0.1, whole=False),
        # In demo mode the app's own stand-in seat shop; in production the real dashboard (required).
        legacy_dashboard_url=read.text(
            "BULK_UPLOAD_LEGACY_DASHBOARD_URL", f"{deploy_url}/legacy-dashboard" if demo else ""
        ),
        draft_days=int(read.number("BULK_UPLOAD_DRAFT_DAYS", 14)),
        retention_days=int(read.number("BULK_UPLOAD_RETENTION_DAYS", 30)),
        undo_days=int(read.number("BULK_UPLOAD_UNDO_DAYS", 7)),
        purge_interval_minutes=int(read.number("BULK_UPLOAD_PURGE_INTERVAL_MINUTES", 60, minimum=0)),
        dev_signin_requested=read.flag("BULK_UPLOAD_DEV_SIGNIN"),
        jwt_secret=read.text("BULK_UPLOAD_JWT_SECRET"),
        jwt_issuer=read.text("BULK_UPLOAD_JWT_ISSUER", DEMO_JWT_ISSUER if demo else ""),
        jwt_max_age=int(read.number("BULK_UPLOAD_JWT_MAX_AGE", 600)),
        session_seconds=int(read.number("BULK_UPLOAD_SESSION_MINUTES", 60)) * 60,
        frame_ancestors=read.origins("BULK_UPLOAD_FRAME_ANCESTORS"),
        worker_header=read.flag("BULK_UPLOAD_WORKER_HEADER"),
        smtp=parse_smtp_url(read.text("BULK_UPLOAD_SMTP_URL")) if read.text("BULK_UPLOAD_SMTP_URL") else None,
        mail_from=_mail_address(
            read.text("BULK_UPLOAD_MAIL_FROM", "Bulk upload <bulk-upload@localhost.localdomain>" if demo else ""),
            "BULK_UPLOAD_MAIL_FROM",
        )
        if read.text("BULK_UPLOAD_MAIL_FROM") or demo
        else "",
        public_url=read.url("BULK_UPLOAD_PUBLIC_URL", deploy_url),
        mail_attachment_max_bytes=int(read.number("BULK_UPLOAD_MAIL_ATTACHMENT_MAX_KB", 5 * 1024)) * 1024,
        mail_catcher_dir=Path(read.text("BULK_UPLOAD_MAIL_CATCHER_DIR", str(RUNTIME_DIR / "mail"))),
        api_redis_url=read.text("BULK_UPLOAD_REDIS_URL"),
        api_rate_limit=int(read.number("BULK_UPLOAD_API_RATE_LIMIT", 600)),
        api_rate_window_seconds=int(read.number("BULK_UPLOAD_API_RATE_WINDOW_SECONDS", 60)),
        webhook_allow_insecure=read.flag("BULK_UPLOAD_WEBHOOK_ALLOW_INSECURE"),
    )


def startup_problems(settings: Settings) -> list[str]:
    """Why the server must not start with these settings: one line each, naming the setting."""
    problems = []
    if not settings.queue_url.startswith(("redis://", "rediss://", "unix://")):
        problems.append(
            "BULK_UPLOAD_QUEUE_URL is missing or not a redis:// URL: set the Redis server of the job queue "
            "(files are processed and users created by `bulk-upload worker` processes)"
        )
    if settings.demo:
        return problems
    if len(settings.jwt_secret.encode()) < MIN_JWT_SECRET_BYTES:
        problems.append(
            f"BULK_UPLOAD_JWT_SECRET is {'missing' if not settings.jwt_secret else 'too short'}: "
            f"set at least {MIN_JWT_SECRET_BYTES} random bytes shared with the company dashboard"
        )
    if not settings.jwt_issuer:
        problems.append("BULK_UPLOAD_JWT_ISSUER is missing: set the issuer (iss) of the dashboard's sign-in tokens")
    if settings.webhook_allow_insecure:
        problems.append(
            "BULK_UPLOAD_WEBHOOK_ALLOW_INSECURE is set outside demo mode: webhooks would call http:// and "
            "private addresses; remove it"
        )
    if not settings.frame_ancestors:
        problems.append("BULK_UPLOAD_FRAME_ANCESTORS is missing: set the dashboard origin(s) allowed to frame the app")
    if settings.dev_signin_requested:
        problems.append(
            "BULK_UPLOAD_DEV_SIGNIN is set outside demo mode: the demo sign-in exists only with "
            "BULK_UPLOAD_DEMO=1; remove it"
        )
    if not settings.legacy_dashboard_url:
        problems.append("BULK_UPLOAD_LEGACY_DASHBOARD_URL is missing: set where admins buy seats")
    elif _origin(settings.legacy_dashboard_url) is None:
        problems.append("BULK_UPLOAD_LEGACY_DASHBOARD_URL is not an http(s) URL")
    if settings.smtp is not None and not settings.mail_from:
        problems.append(
            "BULK_UPLOAD_MAIL_FROM is missing: set the sender of notification mail (BULK_UPLOAD_SMTP_URL is set)"
        )
    return problems


_PREFIXES = ("BULK_UPLOAD_", "REFLEX_")


@lru_cache(maxsize=8)
def _cached(snapshot: tuple[tuple[str, str], ...]) -> Settings:
    return load_settings(dict(snapshot))


def get_settings() -> Settings:
    """The current settings (re-read when one of our variables changes, as tests change them)."""
    return _cached(tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(_PREFIXES))))


def require_safe_start() -> Settings:
    """The settings, or exit with one line per problem naming its setting (server start-up)."""
    import sys

    try:
        settings = get_settings()
    except SettingsError as bad:
        problems = [str(bad)]
    else:
        problems = startup_problems(settings)
    if problems:
        for problem in problems:
            print(f"bulk-upload: refusing to start: {problem}", file=sys.stderr)
        raise SystemExit(2)
    return settings


# ---------------------------------------------------------------- what runs beside the app
# The benchmarks (bench/), scripts/ and the tests' harness (tests/support/) read their part of the
# environment here too, so that this module stays the one reader of it. None of it is a setting
# of the app: these are the services and tools the harness itself uses (`./dev.sh` exports them).

DEFAULT_TEST_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True)
class HarnessSettings:
    pg_url: str  # BULK_UPLOAD_TEST_PG_URL: a database whose schemas the harness creates and drops
    redis_url: str  # BULK_UPLOAD_TEST_REDIS_URL: a server whose databases 1..15 the tests claim
    without: frozenset[str]  # BULK_UPLOAD_WITHOUT: parts left out of a test run (postgres, redis, browser)
    chromium_path: str  # CHROMIUM_PATH
    e2e_web_dir: Path | None  # BULK_UPLOAD_E2E_WEB_DIR: the browser tests' frontend build dir
    e2e_start_timeout: float | None  # BULK_UPLOAD_E2E_START_TIMEOUT: seconds to wait for the app
    xdist_worker: str  # PYTEST_XDIST_WORKER (pytest-xdist's): "gw1"..., "" outside xdist
    corpus_dir: Path | None  # BULK_UPLOAD_CORPUS: the shared edge-case corpus
    screenshots_for_docs: bool  # BULK_UPLOAD_SCREENSHOTS=1: screenshots go to docs/screenshots


def harness_settings(env: Mapping[str, str] | None = None) -> HarnessSettings:
    """What the benchmarks, scripts and tests read from `env` (default: the process environment)."""
    read = _Reader(os.environ if env is None else env)
    web_dir, corpus = read.text("BULK_UPLOAD_E2E_WEB_DIR"), read.text("BULK_UPLOAD_CORPUS")
    start_timeout = read.text("BULK_UPLOAD_E2E_START_TIMEOUT")
    return HarnessSettings(
        pg_url=read.text("BULK_UPLOAD_TEST_PG_URL", DEFAULT_TEST_PG_URL),
        redis_url=read.text("BULK_UPLOAD_TEST_REDIS_URL", DEFAULT_TEST_REDIS_URL),
        without=frozenset(p.strip() for p in read.text("BULK_UPLOAD_WITHOUT").split(",") if p.strip()),
        chromium_path=read.text("CHROMIUM_PATH", "/usr/bin/chromium"),
        e2e_web_dir=Path(web_dir) if web_dir else None,
        e2e_start_timeout=read.number("BULK_UPLOAD_E2E_START_TIMEOUT", 0, whole=False) if start_timeout else None,
        xdist_worker=read.text("PYTEST_XDIST_WORKER"),
        corpus_dir=Path(corpus) if corpus else None,
        screenshots_for_docs=read.text("BULK_UPLOAD_SCREENSHOTS") == "1",
    )


def environment(prefix: str = "") -> dict[str, str]:
    """A copy of this process's environment (only the variables starting with `prefix`): what a
    process we start inherits, with the caller's changes on top, or what a report records."""
    return {name: value for name, value in os.environ.items() if name.startswith(prefix)}
