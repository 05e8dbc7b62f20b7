"""The company's users, a page at a time, with its seats."""

from __future__ import annotations

from bulk_upload_app.db import session_scope
from bulk_upload_app.directory import CompanyOverview, UserListing, company_overview, list_users


def users_page(company_id: int, *, offset: int, limit: int) -> tuple[CompanyOverview, list[UserListing]]:
    with session_scope(read_only=True) as session:
        return company_overview(session, company_id), list_users(session, company_id, offset=offset, limit=limit)


def overview(company_id: int) -> CompanyOverview:
    with session_scope(read_only=True) as session:
        return company_overview(session, company_id)


def add_demo_seats(company_id: int, count: int) -> tuple[int, int]:
    """The demo seat shop (demo mode only; PermissionError otherwise): seats before and after."""
    from bulk_upload_app.legacy_seats import add_seats

    with session_scope() as session:
        return add_seats(session, company_id, count)
