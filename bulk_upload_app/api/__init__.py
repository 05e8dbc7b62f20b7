"""The import HTTP API, /api/v1: uploads as asynchronous jobs for scripts and IT teams.

`create_api()` builds the FastAPI app; `bulk_upload_app.py` hands `mount_api` to Reflex's
`api_transformer` (before `http_guard`, so the guard's headers reach every API response): it
sends /api/v1/* to the API and every other path on to Reflex.
Handlers only parse, authorise and shape answers: every use case is a `services/` function, and
heavy work (judging a file, creating users) is queued for the job workers (jobs.py), as the
wizard's is.
"""

from bulk_upload_app.api.app import api_app, create_api, mount_api

__all__ = ["api_app", "create_api", "mount_api"]
