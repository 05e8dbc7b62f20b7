"""The demo legacy dashboard, where an admin adds seats to the company account.

Every handler asks `self.admin()` first: the company is the signed-in admin's, never one the
browser names.
"""

from __future__ import annotations

import reflex as rx

from ..db import session_scope
from ..directory import company_overview
from ..legacy_seats import FALLBACK_RETURN, add_seats, parse_seat_count, safe_return_path
from .session import SessionState


class LegacyDashboardState(SessionState):
    company_name: str = ""
    seats_total: int = 0
    seats_used: int = 0
    confirmation: str = ""
    error: str = ""
    back_href: str = FALLBACK_RETURN

    def _show(self, company_id: int) -> None:
        with session_scope(read_only=True) as session:
            overview = company_overview(session, company_id)
        self.company_name = overview.name
        self.seats_total, self.seats_used = overview.seats_total, overview.seats_used

    @rx.event
    def load(self):
        admin = self.admin()
        self.back_href = safe_return_path(self.router.url.query_parameters.get("return"))
        self.confirmation = self.error = ""
        if admin is not None:
            self._show(admin.company_id)

    @rx.event
    def add(self, form_data: dict):
        admin = self.admin()
        if admin is None:
            self.confirmation, self.error = "", "Only admins can add seats."
            return
        self.confirmation = self.error = ""
        try:
            count = parse_seat_count(form_data.get("seats_to_add"))
            with session_scope() as session:
                before, after = add_seats(session, admin.company_id, count)
        except ValueError as exc:
            self.error = str(exc)
            return
        self.confirmation = f"Seats added: {before} → {after} seats."
        self._show(admin.company_id)
