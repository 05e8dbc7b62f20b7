"""Embedding in the company dashboard: the parent-window messages.

Who may frame the app and the CORS origins are settings (BULK_UPLOAD_FRAME_ANCESTORS, see
settings.py); the headers that enforce them are http_guard.py's.
"""

from __future__ import annotations

import json

from bulk_upload_app.settings import get_settings


def client_config_script() -> str:
    """Runs before embed.js: the origins the page may post messages to (fixed when the frontend is built)."""
    return f"window.__BULK_UPLOAD_EMBED__ = {json.dumps({'parentOrigins': list(get_settings().frame_ancestors)})};"


def post_to_parent(kind: str, **data: object) -> str:
    """JS that posts {source: "bulk-upload", type: kind, ...data} to the configured parent origin."""
    return f"window.bulkUploadEmbed && window.bulkUploadEmbed.post({json.dumps(kind)}, {json.dumps(data)})"
