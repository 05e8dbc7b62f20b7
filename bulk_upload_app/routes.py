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
