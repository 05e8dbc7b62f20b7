"""Per-key rate limits of the API: a fixed window of BULK_UPLOAD_API_RATE_WINDOW_SECONDS allowing
BULK_UPLOAD_API_RATE_LIMIT requests per key.

With BULK_UPLOAD_REDIS_URL the counters live in Redis (one INCR per request, shared by every
worker and machine); without it each process counts on its own (a single-process deployment, or
tests), so N workers would allow up to N times the limit.
"""

from __future__ import annotations

import math
import threading
import time
from functools import lru_cache
from typing import Any

from bulk_upload_app.settings import get_settings

_PREFIX = "bulk-upload:api-rate:"


@lru_cache(maxsize=4)
def _redis(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


class _LocalCounters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, int], int] = {}

    def incr(self, key: str, window: int) -> int:
        with self._lock:
            if len(self._counts) > 10_000:  # drop old windows
                self._counts = {k: v for k, v in self._counts.items() if k[1] >= window}
            count = self._counts.get((key, window), 0) + 1
            self._counts[(key, window)] = count
            return count


_local = _LocalCounters()


def retry_after(key_id: str, now: float | None = None) -> int | None:
    """Count one request of this key; None when it is within the limit, else seconds to wait."""
    settings = get_settings()
    length = settings.api_rate_window_seconds
    now = time.time() if now is None else now
    window = int(now // length)
    if settings.api_redis_url:
        name = f"{_PREFIX}{key_id}:{window}"
        client = _redis(settings.api_redis_url)
        with client.pipeline() as pipe:
            pipe.incr(name)
            pipe.expire(name, length + 1)
            count = int(pipe.execute()[0])
    else:
        count = _local.incr(key_id, window)
    if count <= settings.api_rate_limit:
        return None
    return max(1, math.ceil((window + 1) * length - now))
