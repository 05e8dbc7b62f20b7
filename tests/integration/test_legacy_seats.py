"""The demo legacy dashboard's seat purchase and its back link."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bulk_upload_app.db import session_scope
from bulk_upload_app.legacy_seats import add_seats, parse_seat_count, safe_return_path
from bulk_upload_app.models import Company


@pytest.fixture(autouse=True)
def _demo_mode(monkeypatch):
    monkeypatch.setenv("BULK_UPLOAD_DEMO", "1")


def test_outside_demo_mode_nothing_can_add_seats(monkeypatch, engine, demo_company):
    monkeypatch.delenv("BULK_UPLOAD_DEMO")
    with session_scope(engine) as session, pytest.raises(PermissionError):
        add_seats(session, demo_company, 5)
    assert _seats(engine, demo_company) == 25


def _seats(engine, company_id: int) -> int:
    with session_scope(engine, read_only=True) as session:
        return session.exec(select(Company.seats).where(Company.id == company_id)).scalar_one()


def test_add_seats_returns_before_and_after(engine, demo_company):
    with session_scope(engine) as session:
        assert add_seats(session, demo_company, 5) == (25, 30)
    assert _seats(engine, demo_company) == 30
    with session_scope(engine) as session:
        assert add_seats(session, demo_company, 1000) == (30, 1030)
        assert add_seats(session, demo_company, 1) == (1030, 1031)
    assert _seats(engine, demo_company) == 1031


def test_add_seats_touches_only_that_company(engine, demo_company):
    with session_scope(engine) as session:
        other = Company(name="Other", seats=3, default_settings={})
        session.add(other)
        session.flush()
        other_id = other.id
    with session_scope(engine) as session:
        add_seats(session, demo_company, 7)
    assert (_seats(engine, demo_company), _seats(engine, other_id)) == (32, 3)


@pytest.mark.parametrize("count", [0, -1, 1001, 10**9, True, 2.5, None, "", "5", "abc"])
def test_add_seats_refuses_counts_outside_1_to_1000(engine, demo_company, count):
    with pytest.raises(ValueError, match="from 1 to 1000"), session_scope(engine) as session:
        add_seats(session, demo_company, count)
    assert _seats(engine, demo_company) == 25


def test_add_seats_to_a_missing_company(engine, demo_company):
    with pytest.raises(ValueError, match="no longer exists"), session_scope(engine) as session:
        add_seats(session, demo_company + 999, 5)


@pytest.mark.parametrize(("raw", "count"), [("1", 1), (" 42 ", 42), ("+7", 7), ("1000", 1000), (12, 12)])
def test_parse_seat_count_accepts_form_values(raw, count):
    assert parse_seat_count(raw) == count


@pytest.mark.parametrize("raw", ["0", "1001", "-3", "1e3", "5.0", "٣", "", " ", "12345678", None, [], False])
def test_parse_seat_count_refuses(raw):
    with pytest.raises(ValueError, match=r"^Enter a whole number of seats from 1 to 1000\.$"):
        parse_seat_count(raw)


@pytest.mark.parametrize(
    "raw",
    [
        "/users/bulk-upload",
        "/users/bulk-upload/",
        "/users/bulk-upload/0123abcd",
        "/users/bulk-upload?step=seats&x=1",
        "/users/bulk-upload/abc#seats",
    ],
)
def test_back_link_keeps_bulk_upload_paths(raw):
    assert safe_return_path(raw) == raw


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "https://evil.example/x",
        "http://evil.example/users/bulk-upload",
        "//evil.example/users/bulk-upload",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example/users/bulk-upload",
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)//users/bulk-upload",
        "data:text/html,hi",
        "users/bulk-upload",
        "/users",
        "/users/bulk-uploads",
        "/users/bulk-upload-evil",
        "/users/bulk-upload/../../admin",
        "/users/bulk-upload/%2e%2e/%2e%2e/admin",
        "/users/bulk-upload/\\evil",
        "/users/bulk-upload/%5Cevil",
        "/users/bulk-upload\n/x",
        "/users/bulk-upload/%0d%0aSet-Cookie:x",
        " /users/bulk-upload",
        "/users/bulk-upload/" + "a" * 3000,
    ],
)
def test_back_link_falls_back_to_users(raw):
    assert safe_return_path(raw) == "/users"
