"""A real SMTP server for the tests (aiosmtpd on 127.0.0.1), keeping every message it receives.

`mail_server()` starts one on a free port (or the given one) and yields its `Inbox`; tests read
what arrived (`inbox.messages`, `inbox.wait_for(...)`) as a mail client would.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from io import BytesIO

from aiosmtpd.controller import Controller

from tests.support.processes import free_port


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def text(self) -> str:
        part = self.message.get_body(("plain",))
        return part.get_content() if part is not None else ""

    def html(self) -> str:
        part = self.message.get_body(("html",))
        return part.get_content() if part is not None else ""

    def attachments(self) -> list[tuple[str, bytes]]:
        return [(a.get_filename() or "", a.get_content()) for a in self.message.iter_attachments()]

    def xlsx_rows(self) -> list[list[str]]:
        """The rows of the one attached workbook (header first), read with openpyxl."""
        import openpyxl

        (found,) = [data for name, data in self.attachments() if name.endswith(".xlsx")]
        sheet = openpyxl.load_workbook(BytesIO(found), read_only=True).active
        return [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]


class Inbox:
    """aiosmtpd's handler: keeps each message; `refuse_with` makes it answer RCPT with that reply."""

    def __init__(self) -> None:
        self.messages: list[Received] = []
        self.refuse_with: str | None = None
        self.data_delay = 0.0  # seconds to wait before accepting a message (a slow server)
        self._changed = threading.Condition()
        self.port = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_with:
            return self.refuse_with
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._changed:
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
            self._changed.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int = 1, timeout: float = 30.0, subject_contains: str = "") -> list[Received]:
        """The messages (whose subject contains `subject_contains`) once `count` have arrived, or
        those there are after `timeout` seconds (the test then says what is missing)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [m for m in self.messages if subject_contains in m.subject]
                left = deadline - time.monotonic()
                if len(found) >= count or left <= 0:
                    return found
                self._changed.wait(left)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


@contextlib.contextmanager
def mail_server(port: int | None = None, **smtp_options):
    """`smtp_options` go to aiosmtpd's SMTP: tls_context, require_starttls, authenticator, ..."""
    inbox = Inbox()
    inbox.port = port or free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port, **smtp_options)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()
