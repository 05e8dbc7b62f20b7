"""The frame every page shares, and the page shown to anyone who is not an admin."""

from __future__ import annotations

import reflex as rx

from bulk_upload_app import routes
from bulk_upload_app.settings import get_settings
from bulk_upload_app.ui.session import SessionState


def demo_badge() -> rx.Component:
    """Shown on every page while demo mode is on (decided when the frontend is built)."""
    if not get_settings().demo:
        return rx.fragment()
    return rx.el.div(
        "Demo",
        rx.el.span(": demo sign-in, demo data and a stand-in seat shop", class_name="sr-only"),
        class_name="demo-badge",
        role="note",
        title="Demo mode: demo sign-in, demo data and a stand-in seat shop. Never in production.",
        id="demo-badge",
    )


def renew_sign_in_form() -> rx.Component:
    """Where assets/embed.js puts a fresh token posted by the host page (see README, Embedding)."""
    return rx.form(
        rx.el.input(type="hidden", name="token", id="renew-sign-in-token"),
        on_submit=SessionState.renew_sign_in,
        reset_on_submit=True,
        id="renew-sign-in",
        hidden=True,
        aria_hidden="true",
    )


def page_frame(title: str, *children: rx.Component) -> rx.Component:
    return rx.box(
        demo_badge(),
        renew_sign_in_form(),
        # Lets assets/embed.js drop a spent ?token= from the address.
        rx.cond(SessionState.checked, rx.el.span(id="sign-in-checked", hidden=True)),
        rx.el.header(
            rx.hstack(
                rx.link(rx.heading("Contact Center", size="4"), href=routes.USERS, underline="none"),
                rx.spacer(),
                rx.link("Users", href=routes.USERS),
                width="100%",
                align="center",
                padding_x="1.5em",
                padding_y="0.75em",
            ),
            border_bottom="1px solid var(--gray-a5)",
            class_name="app-header",  # hidden in embed mode (assets/embed.js)
        ),
        rx.el.main(
            rx.vstack(rx.heading(title, size="7", as_="h1"), *children, spacing="4", width="100%"),
            padding="1.5em",
            max_width="1200px",
            margin_x="auto",
            class_name="app-main",
        ),
        min_height="100vh",
        class_name="app-frame",
    )


def admins_only(state, content: rx.Component) -> rx.Component:
    """`content` for a signed-in admin; why there is no access (refused sign-in token) or the
    "only admins" notice for anyone else."""
    return rx.cond(
        state.is_admin,
        content,
        rx.cond(
            state.checked,
            rx.cond(state.auth_error != "", no_access(state.auth_error), only_admins()),
            loading(),
        ),
    )


def loading() -> rx.Component:
    """A spinner that screen readers announce (a live status, not a label on a bare span)."""
    return rx.el.div(rx.spinner(), rx.el.span("Loading…", class_name="sr-only"), role="status")


def no_access(message) -> rx.Component:
    return rx.callout(message, icon="shield-alert", color_scheme="red", role="alert", id="sign-in-error")


def only_admins() -> rx.Component:
    return rx.callout(
        "Only admins can add users. Ask an admin of your company account for access.",
        icon="lock",
        color_scheme="amber",
        role="alert",
    )


def named_table(name: str, *children: rx.Component, **props) -> rx.Component:
    """A table whose accessible name is `name` (a caption for screen readers; Radix puts
    aria-label on its wrapper, not on the <table>)."""
    return rx.table.root(rx.el.caption(name, class_name="sr-only"), *children, **props)
