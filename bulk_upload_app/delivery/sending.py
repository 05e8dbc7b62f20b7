"""What a sender of the outbox is handed and how it says it failed: the contract between the
outbox (delivery/outbox.py, which claims and settles rows) and each kind's sender (mail.py,
webhooks.py), kept apart so that neither side imports the other's module."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from bulk_upload_app.settings import Settings

NO_ADDRESS = "no email: no address"
NO_MAIL_SERVER = "not sent: no mail server configured"


class DeliveryFailed(Exception):
    """A send that did not go through; `permanent` when trying again cannot help (a 5xx answer)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class NotDelivered(Exception):
    """Nothing was tried and nothing will be retried (e.g. no mail server configured): recorded as such."""


@dataclass(frozen=True)
class Claimed:
    """A row this deliverer owns until `lease_until`."""

    id: int
    kind: str
    upload_id: str
    company_id: int
    recipients: list[str]
    payload: dict[str, Any]
    attempts: int  # including this one
    owner: str


Sender = Callable[[Engine, Claimed, Settings], None]
