"""The one counter every request-size limit is enforced with (request_size.py)."""

from __future__ import annotations

import pytest

from bulk_upload_app.request_size import (
    FORM_OVERHEAD_BYTES,
    MB,
    BodyCounter,
    TooLarge,
    file_limit_words,
    upload_request_limit,
)
from bulk_upload_app.settings import get_settings


@pytest.mark.parametrize("declared", ["11", b"11", " 11 ", "999999999999"])
def test_a_declared_length_over_the_limit_is_refused_before_a_byte_is_read(declared):
    counter = BodyCounter(10)
    with pytest.raises(TooLarge) as refused:
        counter.check_declared(declared)
    assert refused.value.limit == 10 and counter.received == 0


@pytest.mark.parametrize("declared", [None, "", "10", b"10", "0", "-5", "ten", "1e9"])
def test_a_declared_length_within_the_limit_or_unreadable_is_left_to_the_count(declared):
    BodyCounter(10).check_declared(declared)


def test_the_count_stops_the_moment_the_body_passes_its_limit():
    counter = BodyCounter(10)
    counter.add(4)
    counter.add(6)  # exactly the limit: still taken
    assert counter.received == 10
    with pytest.raises(TooLarge):
        counter.add(1)


def test_an_upload_request_may_carry_the_form_around_a_file_at_its_limit(monkeypatch):
    monkeypatch.setenv("BULK_UPLOAD_MAX_FILE_MB", "3")
    settings = get_settings()
    assert upload_request_limit(settings) == 3 * MB + FORM_OVERHEAD_BYTES
    assert file_limit_words(settings) == "3 MB"
