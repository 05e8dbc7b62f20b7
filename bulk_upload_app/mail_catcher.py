"""Demo mode's local SMTP server: catches every message the app sends and keeps it as a file, so
an admin trying the demo can read the email about their upload (the /demo/mail page).

`bulk-upload mail-catcher` runs it (`./dev.sh run` starts it); nothing is ever relayed anywhere.
Each message is one `.eml` file under BULK_UPLOAD_MAIL_CATCHER_DIR (default .var/mail/), written
whole then renamed, so a reader never sees half a message; the oldest go beyond KEEP_MESSAGES.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

KEEP_MESSAGES = 200
MAX_MESSAGE_BYTES = 20 * 1024 * 1024
_NAME = re.compile(r"\d{13}-[0-9a-f]{32}")


@dataclass(frozen=True)
class CaughtMail:
    id: str
    subject: str
    to: str
    date: str
    html: str
    text: str
    attachments: list[str]


class Catcher:
    """aiosmtpd's handler: every message accepted and written to `directory`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        if len(content) > MAX_MESSAGE_BYTES:
            return "552 Message too big for the demo mail catcher"
        name = f"{time.time_ns() // 1_000_000:013d}-{uuid.uuid4().hex}"
        partial = self.directory / f".{name}.part"
        partial.write_bytes(content)
        os.replace(partial, self.directory / f"{name}.eml")
        self._trim()
        return "250 Message caught (demo mode: never delivered)"

    def _trim(self) -> None:
        with self._lock:
            found = sorted(self.directory.glob("*.eml"))
            for old in found[: max(len(found) - KEEP_MESSAGES, 0)]:
                old.unlink(missing_ok=True)


def serve(host: str, port: int, directory: Path) -> None:
    """Catch mail on host:port until interrupted (Ctrl+C, SIGTERM)."""
    import signal

    from aiosmtpd.controller import Controller

    controller = Controller(Catcher(directory), hostname=host, port=port, data_size_limit=MAX_MESSAGE_BYTES)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


def _read(path: Path) -> CaughtMail:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    html = message.get_body(("html",))
    text = message.get_body(("plain",))
    return CaughtMail(
        id=path.stem,
        subject=str(message["Subject"] or "(no subject)"),
        to=str(message["To"] or ""),
        date=str(message["Date"] or ""),
        html=html.get_content() if html is not None else "",
        text=text.get_content() if text is not None else "",
        attachments=[a.get_filename() or "(unnamed)" for a in message.iter_attachments()],
    )


def caught(directory: Path, limit: int = 50) -> list[CaughtMail]:
    """The newest messages first."""
    if not directory.is_dir():
        return []
    paths = sorted((p for p in directory.glob("*.eml") if _NAME.fullmatch(p.stem)), reverse=True)[:limit]
    found = []
    for path in paths:
        try:
            found.append(_read(path))
        except (OSError, ValueError):
            continue  # trimmed meanwhile, or not a message
    return found
