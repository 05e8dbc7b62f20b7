import reflex as rx
from reflex.plugins.sitemap import SitemapPlugin

from bulk_upload_app.config import db_url

config = rx.Config(
    app_name="bulk_upload_app",
    db_url=db_url(),
    telemetry_enabled=False,
    show_built_with_reflex=False,
    disable_plugins=[SitemapPlugin],
)
