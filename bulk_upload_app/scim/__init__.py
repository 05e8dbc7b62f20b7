"""SCIM 2.0 provisioning at /scim/v2 (RFC 7643/7644), on the same engine as the file import.

`mount_scim` is one of the app's `api_transformer`s (bulk_upload_app.py): it puts the SCIM
Starlette app in front of Reflex's own, under /scim/v2; everything else goes on to Reflex.
`http_guard` comes after it in the list, so it wraps both and its headers reach SCIM answers too.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp

from bulk_upload_app.scim.app import PREFIX, build_app


def mount_scim(app: ASGIApp) -> ASGIApp:
    return Starlette(routes=[Mount(PREFIX, app=build_app()), Mount("", app=app)])
