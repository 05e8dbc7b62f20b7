"""Previous page / "Page N of M" / Next page, for any State with a page index and a page count."""

from __future__ import annotations

from typing import ClassVar

import reflex as rx


class PagedMixin(rx.State, mixin=True):
    """Paging for a State that shows one page of `PAGE_SIZE` items out of `total_items`.

    The State fills the page in `_load_page()`, from `page_index`, and sets `total_items`.
    """

    PAGE_SIZE: ClassVar[int] = 50
    page_index: int = 0
    total_items: int = 0

    @rx.var
    def page_count(self) -> int:
        return max((self.total_items + self.PAGE_SIZE - 1) // self.PAGE_SIZE, 1)

    def _load_page(self) -> None:
        raise NotImplementedError

    @rx.event
    def next_page(self):
        if self.page_index + 1 < self.page_count:
            self.page_index += 1
            self._load_page()

    @rx.event
    def previous_page(self):
        if self.page_index > 0:
            self.page_index -= 1
            self._load_page()


def pager(
    page_index: rx.Var,
    count: rx.Var,
    on_previous: rx.EventHandler,
    on_next: rx.EventHandler,
    *after_count: rx.Component | rx.Var | str,
) -> rx.Component:
    return rx.hstack(
        rx.button("Previous page", on_click=on_previous, variant="soft", disabled=page_index == 0),
        rx.text("Page ", page_index + 1, " of ", count, *after_count, aria_live="polite"),
        rx.button("Next page", on_click=on_next, variant="soft", disabled=page_index + 1 >= count),
        align="center",
    )
