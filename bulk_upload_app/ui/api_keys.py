"""Users → API keys: make a key (shown once, to copy), see the company's keys, revoke one.

Key ids in events come from the browser: the service looks each up within the signed-in admin's
company, so another company's key is "not found" here too. The new key lives in this State only
until the admin dismisses it or leaves the page; the database never had it.
"""

from __future__ import annotations

import reflex as rx

from bulk_upload_app import routes
from bulk_upload_app.services import api_keys
from bulk_upload_app.ui.layout import admins_only, named_table, page_frame
from bulk_upload_app.ui.session import SessionState

NAME_INPUT_ID = "api-key-name"
NAME_HINT_ID = "api-key-name-hint"
NEW_KEY_ID = "new-api-key"
NEW_KEY_WARNING_ID = "new-api-key-warning"


def _when(moment) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment is not None else ""


def _focus(element_id: str):
    # The new key's field does not exist until the state delta is rendered, which on a busy
    # machine takes longer than any fixed delay (50 ms left the focus on the name field): look
    # for it on each animation frame, for up to ~2 s.
    return rx.call_script(
        "(function focus(frames) { const field = document.getElementById('" + element_id + "');"
        " if (field) field.focus(); else if (frames > 0) requestAnimationFrame(() => focus(frames - 1)); })(120)"
    )


class ApiKeysState(SessionState):
    keys: list[dict[str, str]] = []
    new_key: str = ""  # the key just made, shown once
    new_key_name: str = ""
    message: str = ""
    error: str = ""
    revoke_open: bool = False
    revoke_id: str = ""
    revoke_name: str = ""

    def _reload(self, company_id: int) -> None:
        self.keys = [
            {
                "id": k.id,
                "name": k.name,
                "prefix": f"{k.prefix}…",
                "created": _when(k.created_at),
                "created_by": k.created_by,
                "last_used": _when(k.last_used_at) or "Never",
                "revoked": _when(k.revoked_at),
            }
            for k in api_keys.list_keys(company_id)
        ]

    @rx.event
    def load(self):
        self.new_key = self.new_key_name = self.message = self.error = ""
        self.revoke_open = False
        admin = self.admin()
        if admin is not None:
            self._reload(admin.company_id)

    @rx.event
    def create(self, form_data: dict):
        admin = self.admin()
        if admin is None:
            return
        name = form_data.get("name") if isinstance(form_data, dict) else None
        self.message = ""
        try:
            _key_id, key = api_keys.create_key(
                admin.company_id, str(name or ""), created_by=f"admin:{admin.user_id or 0}"
            )
        except api_keys.ApiKeyProblem as exc:
            self.error = str(exc)
            return _focus(NAME_INPUT_ID)
        self.error = ""
        self.new_key, self.new_key_name = key, " ".join(str(name).split())
        self._reload(admin.company_id)
        return _focus(NEW_KEY_ID)

    @rx.event
    def copy_key(self):
        if self.new_key:
            self.message = "Copied to the clipboard."
            return rx.set_clipboard(self.new_key)

    @rx.event
    def dismiss_key(self):
        self.new_key = self.new_key_name = self.message = ""

    @rx.event
    def ask_revoke(self, key_id: str):
        if self.admin() is None:
            return
        found = next((k for k in self.keys if k["id"] == str(key_id) and not k["revoked"]), None)
        if found is None:
            return
        self.revoke_id, self.revoke_name, self.revoke_open = found["id"], found["name"], True

    @rx.event
    def close_revoke(self):
        self.revoke_open = False

    @rx.event
    def confirm_revoke(self):
        admin = self.admin()
        self.revoke_open = False
        if admin is None or not self.revoke_id:
            return
        try:
            api_keys.revoke_key(admin.company_id, self.revoke_id, revoked_by=f"admin:{admin.user_id or 0}")
            self.message = f"The key “{self.revoke_name}” was revoked: it no longer works."
        except api_keys.ApiKeyNotFound:
            self.message = "That key was not found."
        self.revoke_id = ""
        self._reload(admin.company_id)


# ---------------------------------------------------------------- components


def _create_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.el.label("Name of the new key", html_for=NAME_INPUT_ID, style={"fontWeight": "500"}),
            rx.hstack(
                rx.input(
                    id=NAME_INPUT_ID,
                    name="name",
                    required=True,
                    max_length=100,
                    placeholder="For example: Okta provisioning",
                    aria_describedby=NAME_HINT_ID,
                    aria_invalid=rx.cond(ApiKeysState.error != "", "true", "false"),
                    size="3",
                    width="24em",
                ),
                rx.button("Create key", type="submit", size="3"),
                align="center",
                wrap="wrap",
            ),
            rx.text(
                "Who or what will use it. Keys call the import API (/api/v1) and SCIM (/scim/v2) as your company.",
                id=NAME_HINT_ID,
                size="2",
                color_scheme="gray",
            ),
            rx.cond(
                ApiKeysState.error != "",
                rx.callout(ApiKeysState.error, icon="triangle-alert", color_scheme="red", role="alert"),
            ),
            spacing="2",
        ),
        on_submit=ApiKeysState.create,
        reset_on_submit=True,
    )


def _new_key_panel() -> rx.Component:
    return rx.cond(
        ApiKeysState.new_key != "",
        rx.card(
            rx.vstack(
                rx.heading("Your new key “", ApiKeysState.new_key_name, "”", size="4", as_="h2"),
                rx.callout(
                    "Copy this key now and keep it somewhere safe: it won't be shown again. "
                    "Anyone with it can add and remove your company's users.",
                    icon="triangle-alert",
                    color_scheme="amber",
                    role="alert",
                    id=NEW_KEY_WARNING_ID,
                ),
                rx.el.label("New API key", html_for=NEW_KEY_ID, style={"fontWeight": "500"}),
                rx.hstack(
                    rx.input(
                        id=NEW_KEY_ID,
                        value=ApiKeysState.new_key,
                        read_only=True,
                        aria_describedby=NEW_KEY_WARNING_ID,
                        font_family="monospace",
                        size="3",
                        width="36em",
                        on_focus=rx.call_script(f"document.getElementById('{NEW_KEY_ID}').select()"),
                    ),
                    rx.button("Copy key", on_click=ApiKeysState.copy_key, size="3", variant="soft"),
                    align="center",
                    wrap="wrap",
                ),
                rx.button("I have copied the key", on_click=ApiKeysState.dismiss_key, size="2"),
                spacing="3",
            ),
            width="100%",
        ),
    )


def _key_row(key: dict) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(key["name"]),
        rx.table.cell(rx.code(key["prefix"])),
        rx.table.cell(key["created"]),
        rx.table.cell(key["created_by"]),
        rx.table.cell(key["last_used"]),
        rx.table.cell(
            rx.cond(
                key["revoked"] != "",
                rx.badge("Revoked ", key["revoked"], variant="soft", color_scheme="gray", high_contrast=True),
                rx.badge("Active", variant="soft", color_scheme="green", high_contrast=True),
            )
        ),
        rx.table.cell(
            rx.cond(
                key["revoked"] == "",
                rx.button(
                    "Revoke",
                    size="1",
                    variant="soft",
                    color_scheme="red",
                    on_click=ApiKeysState.ask_revoke(key["id"]),
                    aria_label="Revoke the key " + key["name"],
                ),
            )
        ),
    )


def _revoke_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Revoke the key “", ApiKeysState.revoke_name, "”?"),
            rx.alert_dialog.description(
                "Everything that uses this key stops working at once. This can't be reversed: "
                "you would create a new key and give it to them."
            ),
            rx.hstack(
                rx.alert_dialog.cancel(
                    rx.button("Cancel", variant="soft", color_scheme="gray", on_click=ApiKeysState.close_revoke)
                ),
                rx.alert_dialog.action(
                    rx.button(
                        "Revoke key", color_scheme="red", high_contrast=True, on_click=ApiKeysState.confirm_revoke
                    )
                ),
                justify="end",
                spacing="3",
                margin_top="1em",
            ),
        ),
        open=ApiKeysState.revoke_open,
    )


def _api_keys() -> rx.Component:
    return rx.vstack(
        rx.text(
            "Scripts and identity providers (Okta, Microsoft Entra) add users with a key, sent as "
            "“Authorization: Bearer <key>”.",
        ),
        _create_form(),
        _new_key_panel(),
        rx.cond(ApiKeysState.message != "", rx.callout(ApiKeysState.message, icon="info", role="status")),
        rx.cond(
            ApiKeysState.keys.length() == 0,
            rx.text("No API keys yet.", color_scheme="gray"),
            named_table(
                "API keys",
                rx.table.header(
                    rx.table.row(
                        *[
                            rx.table.column_header_cell(t)
                            for t in ("Name", "Starts with", "Created (UTC)", "Created by", "Last used (UTC)", "Status")
                        ],
                        rx.table.column_header_cell(rx.el.span("Actions", class_name="sr-only")),
                    )
                ),
                rx.table.body(rx.foreach(ApiKeysState.keys, _key_row)),
                variant="surface",
                size="2",
                width="100%",
            ),
        ),
        _revoke_dialog(),
        rx.link("Back to Users", href=routes.USERS),
        width="100%",
        spacing="4",
    )


def api_keys_page() -> rx.Component:
    return page_frame("API keys", admins_only(ApiKeysState, _api_keys()))
