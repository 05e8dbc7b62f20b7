import reflex as rx
from reflex.plugins.sitemap import SitemapPlugin

from bulk_upload_app.settings import require_safe_start

settings = require_safe_start()  # outside demo mode: the production secrets and origins, or exit

config = rx.Config(
    app_name="bulk_upload_app",
    db_url=settings.db_url,
    # The app's own origin and BULK_UPLOAD_FRAME_ANCESTORS: CORS and the websocket's origin check.
    cors_allowed_origins=settings.cors_allowed_origins(),
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
