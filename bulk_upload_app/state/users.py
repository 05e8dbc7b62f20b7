from __future__ import annotations

import reflex as rx

from ..db import session_scope
from ..directory import company_overview, list_users
from .session import SessionState

PAGE_SIZE = 50


class UsersState(SessionState):
    company_name: str = ""
    seats_total: int = 0
    seats_used: int = 0
    user_count: int = 0
    users: list[dict] = []
    page: int = 0

    @rx.var
    def page_count(self) -> int:
        return max((self.user_count + PAGE_SIZE - 1) // PAGE_SIZE, 1)

    def _load(self) -> None:
        admin = self.admin()
        if admin is None:
            return
        with session_scope() as session:
            overview = company_overview(session, admin.company_id)
            self.users = [u.as_dict() for u in list_users(session, admin.company_id, offset=self.page * PAGE_SIZE, limit=PAGE_SIZE)]
        self.company_name = overview.name
        self.seats_total, self.seats_used, self.user_count = overview.seats_total, overview.seats_used, overview.user_count

    @rx.event
    def load(self):
        self.page = 0
        self._load()

    @rx.event
    def next_page(self):
        if self.page + 1 < self.page_count:
            self.page += 1
            self._load()

    @rx.event
    def previous_page(self):
        if self.page > 0:
            self.page -= 1
            self._load()
