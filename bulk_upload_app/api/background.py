"""Where the API's heavy work (judging a received file, creating users) runs: one function.

`run_in_background` runs the call in a small pool of this process's threads
(BULK_UPLOAD_API_BACKGROUND_WORKERS), so a request answers 202 at once. It is the single place
to point at the job queue (dramatiq workers) once that exists: then the work survives a restart
of the web worker; until then, work still queued or running when the process stops is lost
(its upload stays "processing", or "creating" until the lease lapses and it reads interrupted).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ..settings import get_settings

_log = logging.getLogger("bulk_upload.api")
_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max_workers=get_settings().api_background_workers, thread_name_prefix="bulk-upload-api"
            )
        return _pool


def run_in_background(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
    """Run `fn(*args, **kwargs)` after the request; an exception is logged, never raised to anyone."""

    def logged() -> Any:
        try:
            return fn(*args, **kwargs)
        except BaseException:
            _log.exception("background work %s failed", getattr(fn, "__qualname__", fn))
            raise

    return _executor().submit(logged)
