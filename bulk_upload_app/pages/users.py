from __future__ import annotations

import reflex as rx

from ..state.users import UsersState
from .layout import admins_only, named_table, page_frame


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
            rx.button(rx.link("Bulk user upload", href="/users/bulk-upload"), as_child=True, size="3"),
            width="100%",
            align="center",
        ),
        named_table("Users", rx.table.header(
                rx.table.row(
                    *[rx.table.column_header_cell(t) for t in ("Name", "Email", "Type", "Extension", "Groups")]
                )
            ),
            rx.table.body(rx.foreach(UsersState.users, _user_row)),
            variant="surface",
            width="100%",
        ),
        rx.hstack(
            rx.button("Previous", on_click=UsersState.previous_page, variant="soft", disabled=UsersState.page == 0),
            rx.text(f"Page {UsersState.page + 1} of {UsersState.page_count}", aria_live="polite"),
            rx.button(
                "Next", on_click=UsersState.next_page, variant="soft",
                disabled=UsersState.page + 1 >= UsersState.page_count,
            ),
            align="center",
        ),
        width="100%",
        spacing="4",
    )


def users_page() -> rx.Component:
    return page_frame(
        "Users",
        admins_only(UsersState, _users_table()),
    )
