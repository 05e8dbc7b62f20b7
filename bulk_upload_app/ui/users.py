"""The Users page: the company's users a page at a time, its seats, and the way to Bulk user upload."""

from __future__ import annotations

import reflex as rx

from bulk_upload_app import routes
from bulk_upload_app.services import directory
from bulk_upload_app.ui.layout import admins_only, named_table, page_frame
from bulk_upload_app.ui.notices import FinishedNewsMixin, finished_notice
from bulk_upload_app.ui.pager import PagedMixin, pager
from bulk_upload_app.ui.session import SessionState


class UsersState(FinishedNewsMixin, PagedMixin, SessionState):
    company_name: str = ""
    seats_total: int = 0
    seats_used: int = 0
    users: list[dict] = []

    def _load_page(self) -> None:
        admin = self.admin()
        if admin is None:
            return
        size = self.PAGE_SIZE
        overview, users = directory.users_page(admin.company_id, offset=self.page_index * size, limit=size)
        self.users = [u.as_dict() for u in users]
        self.company_name = overview.name
        self.seats_total, self.seats_used, self.total_items = (
            overview.seats_total,
            overview.seats_used,
            overview.user_count,
        )

    @rx.event
    def load(self):
        self.page_index = 0
        self._load_page()
        admin = self.admin()
        if admin is not None:
            self._load_news(admin.company_id, admin.user_id)


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
        finished_notice(UsersState),
        rx.hstack(
            rx.text(
                "Seats used: ",
                rx.text.strong(f"{UsersState.seats_used} / {UsersState.seats_total}"),
                id="seats-used",
            ),
            rx.spacer(),
            rx.button(rx.link("API keys", href=routes.API_KEYS), as_child=True, size="3", variant="soft"),
            rx.button(rx.link("Bulk uploads", href=routes.HISTORY), as_child=True, size="3", variant="soft"),
            rx.button(rx.link("Bulk user upload", href=routes.BULK_UPLOAD), as_child=True, size="3"),
            width="100%",
            align="center",
        ),
        named_table(
            "Users",
            rx.table.header(
                rx.table.row(
                    *[rx.table.column_header_cell(t) for t in ("Name", "Email", "Type", "Extension", "Groups")]
                )
            ),
            rx.table.body(rx.foreach(UsersState.users, _user_row)),
            variant="surface",
            width="100%",
        ),
        pager(UsersState.page_index, UsersState.page_count, UsersState.previous_page, UsersState.next_page),
        width="100%",
        spacing="4",
    )


def users_page() -> rx.Component:
    return page_frame("Users", admins_only(UsersState, _users_table()))
