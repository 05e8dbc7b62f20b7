"""Users → Bulk uploads: every upload of the company, newest first, with its files to download.

Upload ids in events come from the browser: each is looked up within the signed-in admin's
company by the service, so another company's upload is "not found" here too.
"""

from __future__ import annotations

import reflex as rx

from bulk_upload_app import routes
from bulk_upload_app.errors import UploadNotFound
from bulk_upload_app.services import drafts as draft_service
from bulk_upload_app.services import history, notifications
from bulk_upload_app.statuses import STATUS_LABELS
from bulk_upload_app.ui.layout import admins_only, named_table, page_frame
from bulk_upload_app.ui.notices import FinishedNewsMixin, finished_notice
from bulk_upload_app.ui.pager import PagedMixin, pager
from bulk_upload_app.ui.session import SessionState

ALL = "all"
FILTERS = [(ALL, "All statuses"), *STATUS_LABELS.items()]


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{seconds // 60:.0f} min {seconds % 60:.0f} s"


class HistoryState(FinishedNewsMixin, PagedMixin, SessionState):
    PAGE_SIZE = 25
    uploads: list[dict[str, str]] = []
    status_filter: str = ALL
    message: str = ""

    def _load_page(self) -> None:
        admin = self.admin()
        if admin is None:
            return
        wanted = "" if self.status_filter == ALL else self.status_filter
        lines, self.total_items = history.history_page(
            admin.company_id, status=wanted, offset=self.page_index * self.PAGE_SIZE, limit=self.PAGE_SIZE
        )
        self.uploads = [
            {
                "id": line.id,
                "href": routes.draft(line.id),
                "file_name": line.file_name or "(no file name)",
                "uploaded_by": line.uploaded_by,
                "when": f"{line.created_at:%Y-%m-%d %H:%M}",
                "source": line.source,
                "user_type": line.user_type,
                "status": line.status,
                "status_label": line.status_label,
                "rows": str(line.rows),
                "created": str(line.created),
                "failed": str(line.failed),
                "duration": _duration(line.duration_seconds),
                # Files while the rows are kept; drafts have none yet.
                "files": "" if line.rows_purged_at is not None or line.status in ("draft", "creating") else "yes",
                "purged_on": f"{line.rows_purged_at:%Y-%m-%d}" if line.rows_purged_at is not None else "",
                "notification": line.notification,
            }
            for line in lines
        ]

    @rx.event
    def load(self):
        self.page_index, self.message, self.status_filter = 0, "", ALL
        self._load_page()
        admin = self.admin()
        if admin is not None:
            # What finished since the last look is shown this once; from now on it is seen.
            self._load_news(admin.company_id, admin.user_id)
            notifications.history_seen(admin.company_id, admin.user_id)

    @rx.event
    def set_status_filter(self, value: str):
        if value not in dict(FILTERS):
            return
        self.status_filter, self.page_index = value, 0
        self._load_page()

    @rx.event
    def download(self, upload_id: str, kind: str, fmt: str):
        admin = self.admin()
        if admin is None or kind not in ("results", "failed") or fmt not in ("csv", "xlsx"):
            return None
        try:
            if kind == "results":
                report = history.results_report(admin.company_id, str(upload_id), fmt)
            else:
                report = draft_service.rows_report(admin.company_id, str(upload_id), fmt, stem="failed-users")
        except UploadNotFound as exc:
            self.message = str(exc)
            return None
        return rx.download(data=report.data, filename=report.filename, mime_type=report.mime_type)


def _row(upload: dict) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(rx.link(upload["file_name"], href=upload["href"])),
        rx.table.cell(upload["uploaded_by"]),
        rx.table.cell(upload["when"]),
        rx.table.cell(upload["source"]),
        rx.table.cell(upload["user_type"]),
        rx.table.cell(
            rx.badge(upload["status_label"], variant="soft", high_contrast=True),
            # What became of the email about its end, under the status it reports (no column of its own: the table is full).
            rx.cond(upload["notification"] != "", rx.text(upload["notification"], size="1", margin_top="0.25em")),
        ),
        rx.table.cell(upload["rows"]),
        rx.table.cell(upload["created"]),
        rx.table.cell(upload["failed"]),
        rx.table.cell(upload["duration"]),
        rx.table.cell(
            rx.cond(
                upload["files"] != "",
                rx.hstack(
                    rx.button(
                        "Results (CSV)",
                        size="1",
                        variant="soft",
                        on_click=HistoryState.download(upload["id"], "results", "csv"),
                        aria_label="Download results (CSV) of " + upload["file_name"],
                    ),
                    rx.button(
                        "Results (Excel)",
                        size="1",
                        variant="soft",
                        on_click=HistoryState.download(upload["id"], "results", "xlsx"),
                        aria_label="Download results (Excel) of " + upload["file_name"],
                    ),
                    rx.cond(
                        upload["failed"] != "0",
                        rx.button(
                            "Failed rows (CSV)",
                            size="1",
                            variant="soft",
                            on_click=HistoryState.download(upload["id"], "failed", "csv"),
                            aria_label="Download failed rows (CSV) of " + upload["file_name"],
                        ),
                    ),
                    wrap="wrap",
                ),
                rx.cond(upload["purged_on"] != "", rx.text("Rows deleted on ", upload["purged_on"], size="1")),
            )
        ),
    )


def _history() -> rx.Component:
    return rx.vstack(
        finished_notice(HistoryState),
        rx.hstack(
            rx.el.label("Status", html_for="status-filter", font_weight="500"),
            rx.select.root(
                rx.select.trigger(id="status-filter", aria_label="Filter by status"),
                rx.select.content(*[rx.select.item(label, value=key) for key, label in FILTERS]),
                value=HistoryState.status_filter,
                on_change=HistoryState.set_status_filter,
            ),
            rx.spacer(),
            rx.button(rx.link("Bulk user upload", href=routes.BULK_UPLOAD), as_child=True, size="3"),
            width="100%",
            align="center",
        ),
        rx.cond(HistoryState.message != "", rx.callout(HistoryState.message, icon="info", role="status")),
        rx.cond(
            HistoryState.total_items == 0,
            rx.text(
                rx.cond(HistoryState.status_filter == ALL, "No bulk uploads yet.", "No bulk uploads with this status."),
                color_scheme="gray",
            ),
            named_table(
                "Bulk uploads",
                rx.table.header(
                    rx.table.row(
                        *[
                            rx.table.column_header_cell(t)
                            for t in (
                                "File",
                                "Uploaded by",
                                "When (UTC)",
                                "Source",
                                "User type",
                                "Status",
                                "Rows",
                                "Created",
                                "Failed",
                                "Duration",
                                "Files",
                            )
                        ]
                    )
                ),
                rx.table.body(rx.foreach(HistoryState.uploads, _row)),
                variant="surface",
                size="1",
                width="100%",
            ),
        ),
        pager(HistoryState.page_index, HistoryState.page_count, HistoryState.previous_page, HistoryState.next_page),
        width="100%",
        spacing="4",
    )


def history_page() -> rx.Component:
    return page_frame("Bulk uploads", admins_only(HistoryState, _history()))
