"""The Users page: the company's users a page at a time, its seats, and the way to Bulk user upload."""

from __future__ import annotations

import reflex as rx

from .. import routes
from ..services import directory
from .layout import admins_only, named_table, page_frame
from .pager import page_count, pager
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
        return page_count(self.user_count, PAGE_SIZE)

    def _load(self) -> None:
        admin = self.admin()
        if admin is None:
            return
        overview, users = directory.users_page(admin.company_id, offset=self.page * PAGE_SIZE, limit=PAGE_SIZE)
        self.users = [u.as_dict() for u in users]
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


def _user_row(user: dict) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(user["name"]),
        rx.table.cell(user["email"]),
        rx.table.cell(rx.badge(user["user_type"], variant="soft")),
        rx.table.cell(user["extension"]),
        rx.table.cell(user["groups"]),
    )


def _users_table() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text(
                "Seats used: ",
                rx.text.strong(f"{UsersState.seats_used} / {UsersState.seats_total}"),
                id="seats-used",
            ),
            rx.spacer(),
            rx.button(rx.link("Bulk user upload", href=routes.BULK_UPLOAD), as_child=True, size="3"),
            width="100%",
            align="center",
        ),
        named_table(
            "Users",
            rx.table.header(
                rx.table.row(*[rx.table.column_header_cell(t) for t in ("Name", "Email", "Type", "Extension", "Groups")])
            ),
            rx.table.body(rx.foreach(UsersState.users, _user_row)),
            variant="surface",
            width="100%",
        ),
        pager(UsersState.page, UsersState.page_count, UsersState.previous_page, UsersState.next_page),
        width="100%",
        spacing="4",
    )


def users_page() -> rx.Component:
    return page_frame("Users", admins_only(UsersState, _users_table()))
