"""Previous page / "Page N of M" / Next page, for any State with a page index and a page count."""

from __future__ import annotations

import reflex as rx


def page_count(total: int, page_size: int) -> int:
    return max((total + page_size - 1) // page_size, 1)


def pager(page_index: rx.Var, count: rx.Var, on_previous: rx.EventHandler, on_next: rx.EventHandler,
          *after_count: rx.Component | rx.Var | str) -> rx.Component:
    return rx.hstack(
        rx.button("Previous page", on_click=on_previous, variant="soft", disabled=page_index == 0),
        rx.text("Page ", page_index + 1, " of ", count, *after_count, aria_live="polite"),
        rx.button("Next page", on_click=on_next, variant="soft", disabled=page_index + 1 >= count),
        align="center",
    )
