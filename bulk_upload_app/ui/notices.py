"""The notice of batches that finished since the admin last looked at the bulk uploads (shown on
the Users page and the history; opening the history counts as looking)."""

from __future__ import annotations

import reflex as rx

from bulk_upload_app import routes
from bulk_upload_app.services import notifications


class FinishedNewsMixin(rx.State, mixin=True):
    finished_news: list[dict[str, str]] = []
    finished_news_total: int = 0

    def _load_news(self, company_id: int, admin_user_id: int | None) -> None:
        found, self.finished_news_total = notifications.finished_news(company_id, admin_user_id)
        self.finished_news = [
            {
                "href": routes.draft(item.upload_id),
                "file_name": item.file_name or "(no file name)",
                "status_label": item.status_label,
                "created": str(item.created),
                "failed": str(item.failed),
                "when": f"{item.finished_at:%Y-%m-%d %H:%M}",
            }
            for item in found
        ]


def _item(news: dict) -> rx.Component:
    return rx.el.li(
        # Underlined and high contrast: a link inside a sentence on the tinted callout (axe).
        rx.link(news["file_name"], href=news["href"], underline="always", high_contrast=True),
        ": ",
        news["status_label"],
        ", ",
        news["created"],
        " created, ",
        news["failed"],
        " failed (",
        news["when"],
        " UTC)",
    )


def finished_notice(state) -> rx.Component:
    """A live region that is always on the page (so screen readers announce what appears in it)."""
    return rx.el.div(
        rx.cond(
            state.finished_news_total > 0,
            rx.callout.root(
                rx.callout.icon(rx.icon("bell")),
                rx.vstack(
                    rx.text(
                        rx.text.strong(
                            rx.cond(
                                state.finished_news_total == 1,
                                "1 bulk upload finished",
                                rx.text.span(state.finished_news_total, " bulk uploads finished"),
                            ),
                            " since you last looked at the bulk uploads:",
                        )
                    ),
                    rx.el.ul(rx.foreach(state.finished_news, _item), padding_left="1.2em", margin="0"),
                    rx.cond(
                        state.finished_news_total > state.finished_news.length(),
                        rx.link("See all bulk uploads", href=routes.HISTORY, underline="always", high_contrast=True),
                    ),
                    spacing="1",
                ),
                color_scheme="blue",
                high_contrast=True,  # blue-11 text on the blue callout fails WCAG AA (axe, serious)
                width="100%",
            ),
        ),
        role="status",
        aria_live="polite",
        id="finished-news",
        style={"width": "100%"},
    )
