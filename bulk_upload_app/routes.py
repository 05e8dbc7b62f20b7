"""The app's paths, written once."""

USERS = "/users"
BULK_UPLOAD = "/users/bulk-upload"
DRAFT_PREFIX = "/users/bulk-upload/"
LEGACY_DASHBOARD = "/legacy-dashboard"  # the demo seat shop (demo mode only)


def draft(upload_id: str) -> str:
    return f"{DRAFT_PREFIX}{upload_id}"


HISTORY = "/users/bulk-uploads"  # every bulk upload of the company
DEMO_MAIL = "/demo/mail"  # the mail the demo's local SMTP catcher caught (demo mode only)
API_KEYS = "/users/api-keys"  # the company's keys for the HTTP API and SCIM

API = "/api/v1"  # the HTTP API (api/), mounted in front of Reflex by api.mount_api
API_OPENAPI = f"{API}/openapi.json"
API_DOCS = f"{API}/docs"
SCIM = "/scim/v2"  # SCIM 2.0 (scim/), mounted by scim.mount_scim


def api_import(upload_id: str) -> str:
    """An upload as the HTTP API shows it (also the `self` link of its webhook event)."""
    return f"{API}/user-imports/{upload_id}"
