import reflex as rx

from . import embed
from .housekeeping import purge_periodically

from .pages.bulk_upload import draft_page, start_page
from .pages.legacy import legacy_dashboard_page
from .pages.users import users_page
from .state.draft import ReviewState
from .state.legacy import LegacyDashboardState
from .state.upload import UploadState
from .state.users import UsersState

app = rx.App(
    stylesheets=["/app.css"],
    head_components=[
        rx.script(src="/a11y.js"),
        rx.script(embed.client_config_script()),  # before embed.js: where it may post messages
        rx.script(src="/embed.js"),
    ],
    api_transformer=embed.frame_guard,  # CSP frame-ancestors on every HTTP response
)
app.add_page(rx.fragment, route="/", title="Contact Center", on_load=rx.redirect("/users"))
app.add_page(users_page, route="/users", title="Users", on_load=UsersState.load)
app.add_page(start_page, route="/users/bulk-upload", title="Bulk user upload", on_load=UploadState.start)
app.add_page(draft_page, route="/users/bulk-upload/[draft]", title="Bulk user upload", on_load=ReviewState.load)

app.add_page(
    legacy_dashboard_page, route="/legacy-dashboard", title="Legacy dashboard", on_load=LegacyDashboardState.load
)

# Old drafts, old uploads' rows and orphaned upload files are purged by the app itself.
app.register_lifespan_task(purge_periodically)
