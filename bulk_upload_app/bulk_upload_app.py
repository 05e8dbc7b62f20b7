import logging

import reflex as rx

from bulk_upload_app import embed, routes
from bulk_upload_app.api import mount_api
from bulk_upload_app.housekeeping import deliver_periodically, purge_periodically
from bulk_upload_app.http_guard import http_guard
from bulk_upload_app.scim import mount_scim
from bulk_upload_app.settings import require_safe_start
from bulk_upload_app.ui.api_keys import ApiKeysState, api_keys_page
from bulk_upload_app.ui.history import HistoryState, history_page
from bulk_upload_app.ui.users import UsersState, users_page
from bulk_upload_app.ui.wizard.page import draft_page
from bulk_upload_app.ui.wizard.review import ReviewState
from bulk_upload_app.ui.wizard.upload import UploadState, start_page

settings = require_safe_start()

app = rx.App(
    stylesheets=["/app.css"],
    head_components=[
        rx.el.meta(name="referrer", content="no-referrer"),  # also where no header of ours is sent (dev server)
        rx.script(src="/a11y.js"),
        rx.script(embed.client_config_script()),  # before embed.js: where it may post messages
        rx.script(src="/embed.js"),
    ],
    # First the import API takes /api/v1 and SCIM /scim/v2, Reflex the rest; then the guard wraps
    # them all: security headers on every HTTP response; the upload size cut-off.
    api_transformer=[mount_api, mount_scim, http_guard],
)
app.add_page(rx.fragment, route="/", title="Contact Center", on_load=rx.redirect(routes.USERS))
app.add_page(users_page, route=routes.USERS, title="Users", on_load=UsersState.load)
app.add_page(history_page, route=routes.HISTORY, title="Bulk uploads", on_load=HistoryState.load)
app.add_page(api_keys_page, route=routes.API_KEYS, title="API keys", on_load=ApiKeysState.load)
app.add_page(start_page, route=routes.BULK_UPLOAD, title="Bulk user upload", on_load=UploadState.start)
app.add_page(draft_page, route=f"{routes.DRAFT_PREFIX}[draft]", title="Bulk user upload", on_load=ReviewState.load)

if settings.demo:
    # Only imported in demo mode: its State (and its event handler that adds seats) then does
    # not exist at all in production, so no crafted event can reach it.
    from bulk_upload_app.ui.demo_mail import DemoMailState, demo_mail_page
    from bulk_upload_app.ui.legacy import LegacyDashboardState, legacy_dashboard_page

    logging.getLogger("bulk_upload").warning(
        "DEMO MODE (BULK_UPLOAD_DEMO=1): demo sign-in, demo data, the /legacy-dashboard seat shop "
        "and the /demo/mail mail box are on. Never run production like this."
    )
    app.add_page(
        legacy_dashboard_page,
        route=routes.LEGACY_DASHBOARD,
        title="Legacy dashboard",
        on_load=LegacyDashboardState.load,
    )
    app.add_page(demo_mail_page, route=routes.DEMO_MAIL, title="Demo mail box", on_load=DemoMailState.load)

# Old drafts, old uploads' rows and orphaned upload files are purged by the app itself.
app.register_lifespan_task(purge_periodically)
# Notification email whose retry is due (delivery/outbox.py); each batch's end also sends at once.
app.register_lifespan_task(deliver_periodically)
