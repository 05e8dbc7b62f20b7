"""What operators do from a terminal: companies, the demo seed, recovery, an upload's story."""

from __future__ import annotations

from collections.abc import Sequence

from bulk_upload_app import audit
from bulk_upload_app.db import get_engine, session_scope
from bulk_upload_app.models import Company
from bulk_upload_app.uploads import create_lease
from bulk_upload_app.uploads.settings_catalogue import default_settings


def create_company(name: str, seats: int) -> int:
    with session_scope() as session:
        company = Company(name=name, seats=seats, default_settings=default_settings())
        session.add(company)
        session.flush()
        assert company.id is not None  # flushed: the database gave it its id
        return company.id


def seed_demo_company() -> int:
    """The demo company (made once; the same id every time). Callers check demo mode first."""
    from bulk_upload_app.seed import seed_demo

    with session_scope() as session:
        return seed_demo(session)


def recover_dead_creators() -> list[str]:
    """Uploads whose creating worker stopped answering, now marked interrupted (resumable)."""
    return create_lease.recover_stale(get_engine())


def upload_story(upload_id: str) -> list[str]:
    with session_scope(read_only=True) as session:
        return audit.story(session, upload_id)


def run_worker(*, processes: int | None = None, threads: int | None = None, queues: Sequence[str] = ()) -> None:
    """Become a job worker (jobs.py) on `queues` (default: all): processes files and creates users until stopped."""
    from bulk_upload_app import jobs

    jobs.run_worker(processes, threads, queues)
