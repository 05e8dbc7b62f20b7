import reflex as rx
from reflex.plugins.sitemap import SitemapPlugin

from bulk_upload_app.config import db_url
from bulk_upload_app.embed import cors_allowed_origins

config = rx.Config(
    app_name="bulk_upload_app",
    db_url=db_url(),
    # BULK_UPLOAD_FRAME_ANCESTORS + the app's own origin; any origin when unset (development).
    cors_allowed_origins=cors_allowed_origins(),
    telemetry_enabled=False,
    show_built_with_reflex=False,
    disable_plugins=[SitemapPlugin],
    plugins=[
        # Indigo 11 on white passes WCAG AA for text; the default blue buttons do not.
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(appearance="inherit", accent_color="indigo", gray_color="slate", radius="medium")
        ),
    ],
)
