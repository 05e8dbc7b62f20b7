"""The import API's parts that need no database: rate windows, problems, cursors, the docs page."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bulk_upload_app.api import create_api, ratelimit
from bulk_upload_app.api.docs_page import docs_html
from bulk_upload_app.api.imports import ReportFormat, RowResult
from bulk_upload_app.api.problems import PROBLEM_JSON, as_problem
from bulk_upload_app.errors import ErrorCode, FileProblem, UploadBusy, UploadNotFound, catalogue
from bulk_upload_app.services import api_imports
from bulk_upload_app.uploads.batch import BatchProblem


def test_row_results_are_the_services_own():
    assert tuple(RowResult) == api_imports.ROW_RESULTS
    assert {f.value for f in ReportFormat} == {"csv", "xlsx"}


def test_a_fixed_window_allows_the_limit_then_says_how_long_to_wait(monkeypatch):
    monkeypatch.delenv("BULK_UPLOAD_REDIS_URL", raising=False)
    monkeypatch.setenv("BULK_UPLOAD_API_RATE_LIMIT", "3")
    monkeypatch.setenv("BULK_UPLOAD_API_RATE_WINDOW_SECONDS", "60")
    start = 6_000_000.0  # a window boundary (a multiple of 60)
    assert [ratelimit.retry_after("key_unit_a", start + i) for i in range(3)] == [None, None, None]
    assert ratelimit.retry_after("key_unit_a", start + 10) == 50
    assert ratelimit.retry_after("key_unit_b", start + 10) is None  # per key
    assert ratelimit.retry_after("key_unit_a", start + 60) is None  # the next window starts afresh


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (UploadNotFound("x"), 404, "UPLOAD_NOT_FOUND"),
        (UploadBusy("being created"), 409, "UPLOAD_BUSY"),
        (
            FileProblem(ErrorCode.SEATS_EXCEEDED, needed=3, available=1, shortfall=2, legacy_dashboard_url="u"),
            409,
            "SEATS_EXCEEDED",
        ),
        (FileProblem(ErrorCode.FILE_TOO_LARGE, reason="big"), 413, "FILE_TOO_LARGE"),
        (FileProblem(ErrorCode.MISSING_COLUMN, column="email", candidates=""), 422, "MISSING_COLUMN"),
        (BatchProblem("no such group"), 422, "INVALID_SETTINGS"),
        (api_imports.BadCursor("bad"), 422, "INVALID_REQUEST"),
        (RuntimeError("secret detail"), 500, "INTERNAL_ERROR"),
    ],
)
def test_exceptions_become_problems_with_our_codes(exc, status, code):
    problem = as_problem(exc)
    response = problem.response()
    body = json.loads(bytes(response.body))
    assert response.status_code == status and response.media_type == PROBLEM_JSON
    assert body["code"] == code and body["status"] == status and body["type"].endswith(code.lower().replace("_", "-"))
    assert "secret detail" not in body["detail"]
    if code == "SEATS_EXCEEDED":
        assert (body["needed"], body["available"], body["legacy_dashboard_url"]) == (3, 1, "u")


@given(st.text(max_size=80))
def test_any_cursor_decodes_or_is_a_bad_cursor_never_a_crash(cursor):
    with contextlib.suppress(api_imports.BadCursor):
        api_imports._decode(cursor)


def test_cursors_round_trip():
    for value in (7, ["2026-12-01T07:41:13.603105+00:00", "c46c5c55b8e14a19ad13ad5bc68a707d"]):
        assert api_imports._decode(api_imports._encode(value)) == value


def test_the_docs_page_names_every_operation_and_code_and_loads_nothing():
    document = create_api().openapi()
    page = docs_html(document)
    for path in document["paths"]:
        assert path in page
    for entry in catalogue():
        assert f'id="problem-{entry["code"].lower().replace("_", "-")}"' in page
    assert "<script" not in page and "<link" not in page


def test_webhook_urls_we_call(monkeypatch):
    from bulk_upload_app.delivery.webhooks import WebhookProblem, check_url
    from bulk_upload_app.settings import load_settings

    strict = load_settings({"BULK_UPLOAD_DEMO": "1"})
    assert check_url(" https://hooks.example.com/x?y=1 ", strict) == "https://hooks.example.com/x?y=1"
    for url in ("http://hooks.example.com/", "https://", "https://a:b@example.com/", "https://x.com/#f", "x" * 600):
        with pytest.raises(WebhookProblem):
            check_url(url, strict)
    lenient = load_settings({"BULK_UPLOAD_DEMO": "1", "BULK_UPLOAD_WEBHOOK_ALLOW_INSECURE": "1"})
    assert check_url("http://127.0.0.1:9/h", lenient) == "http://127.0.0.1:9/h"


@pytest.mark.parametrize("host", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "localhost", "[::1]"])
def test_webhooks_never_call_inside_the_network(host):
    from bulk_upload_app.delivery.sending import DeliveryFailed
    from bulk_upload_app.delivery.webhooks import _public

    with pytest.raises(DeliveryFailed) as refused:
        _public(host.strip("[]"), 443)
    assert refused.value.permanent


@given(st.binary(max_size=200), st.integers(min_value=0, max_value=2**40))
def test_a_webhook_signature_is_the_hmac_of_timestamp_and_body(body, timestamp):
    import hashlib
    import hmac

    from bulk_upload_app.delivery.webhooks import signature

    expected = hmac.new(b"whsec_test", f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert signature("whsec_test", timestamp, body) == f"t={timestamp},v1={expected}"
    assert signature("whsec_other", timestamp, body) != f"t={timestamp},v1={expected}"


def test_production_refuses_insecure_webhooks():
    from bulk_upload_app.settings import load_settings, startup_problems

    settings = load_settings({"BULK_UPLOAD_WEBHOOK_ALLOW_INSECURE": "1", "BULK_UPLOAD_QUEUE_URL": "redis://q"})
    assert any("BULK_UPLOAD_WEBHOOK_ALLOW_INSECURE" in p for p in startup_problems(settings))
