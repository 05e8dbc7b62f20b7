"""The demo mail box (demo mode only, like ui/legacy.py): the messages the demo's local SMTP catcher
caught, so an admin trying the demo reads the email about their upload.

Imported only in demo mode: in production this State and its page do not exist at all.
"""

from __future__ import annotations

import reflex as rx

from bulk_upload_app import routes
from bulk_upload_app.mail_catcher import caught
from bulk_upload_app.settings import get_settings
from bulk_upload_app.ui.layout import admins_only, page_frame
from bulk_upload_app.ui.session import SessionState


class DemoMailState(SessionState):
    messages: list[dict[str, str]] = []
    shown_id: str = ""
    shown_subject: str = ""
    shown_to: str = ""
    shown_html: str = ""
    shown_attachments: str = ""

    def _show(self, wanted: str = "") -> None:
        found = caught(get_settings().mail_catcher_dir)
        self.messages = [{"id": m.id, "subject": m.subject, "to": m.to, "date": m.date} for m in found]
        chosen = next((m for m in found if m.id == wanted), found[0] if found else None)
        self.shown_id = chosen.id if chosen else ""
        self.shown_subject = chosen.subject if chosen else ""
        self.shown_to = chosen.to if chosen else ""
        self.shown_html = chosen.html if chosen else ""
        self.shown_attachments = ", ".join(chosen.attachments) if chosen else ""

    @rx.event
    def load(self):
        if self.admin() is not None:
            self._show()

    @rx.event
    def show(self, mail_id: str):
        if self.admin() is not None:
            self._show(str(mail_id))


def _line(message: dict) -> rx.Component:
    return rx.el.li(
        rx.button(
            message["subject"],
            variant=rx.cond(message["id"] == DemoMailState.shown_id, "solid", "soft"),
            size="1",
            on_click=DemoMailState.show(message["id"]),
            aria_current=rx.cond(message["id"] == DemoMailState.shown_id, "true", "false"),
        ),
        rx.text(" to ", message["to"], ", ", message["date"], size="1", color_scheme="gray", as_="span"),
    )


def _mailbox() -> rx.Component:
    return rx.vstack(
        rx.callout(
            "Demo mode: the app's email goes to a local mail catcher (bulk-upload mail-catcher), never to "
            "anyone's inbox. This is what it caught, newest first.",
            icon="mail",
            color_scheme="gray",
        ),
        rx.cond(
            DemoMailState.messages.length() == 0,
            rx.text("No mail caught yet. Create users from a file; the email about it appears here."),
            rx.vstack(
                rx.el.ul(rx.foreach(DemoMailState.messages, _line), padding_left="1.2em", id="caught-mail"),
                rx.heading(DemoMailState.shown_subject, size="4", as_="h2"),
                rx.text("To: ", DemoMailState.shown_to),
                rx.cond(
                    DemoMailState.shown_attachments != "",
                    rx.text("Attached: ", DemoMailState.shown_attachments),
                ),
                # The email's own HTML, in a sandbox: no scripts, no access to this page.
                rx.el.iframe(
                    src_doc=DemoMailState.shown_html,
                    sandbox="",
                    title="The email: " + DemoMailState.shown_subject,
                    width="100%",
                    height="640px",
                    style={"border": "1px solid var(--gray-a6)", "borderRadius": "8px", "background": "white"},
                    id="shown-mail",
                ),
                width="100%",
            ),
        ),
        rx.link("Back to the bulk uploads", href=routes.HISTORY),
        width="100%",
        spacing="3",
    )


def demo_mail_page() -> rx.Component:
    return page_frame("Demo mail box", admins_only(DemoMailState, _mailbox()))
