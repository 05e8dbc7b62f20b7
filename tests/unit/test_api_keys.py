"""API keys' form, their digest and their names, without a database."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import Request

from bulk_upload_app.access.api_keys import (
    KEY_PREFIX,
    NAME_MAX,
    SHOWN_CHARACTERS,
    ApiKeyProblem,
    clean_name,
    digest,
    new_key,
)
from bulk_upload_app.http_auth import bearer_token


def test_a_key_is_the_prefix_and_256_random_bits_url_safe():
    keys = {new_key() for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        assert re.fullmatch(r"bu_live_[A-Za-z0-9_-]{43}", key), key
    assert all(k[:SHOWN_CHARACTERS].startswith(KEY_PREFIX) for k in keys)


def test_the_digest_is_sha256_hex_and_never_the_key():
    key = new_key()
    assert re.fullmatch(r"[0-9a-f]{64}", digest(key))
    assert key not in digest(key) and digest(key) != digest(key + "x")


@given(st.text(max_size=300))
def test_a_name_is_trimmed_and_bounded_or_refused(name):
    try:
        cleaned = clean_name(name)
    except ApiKeyProblem:
        assert not " ".join(name.split()) or len(" ".join(name.split())) > NAME_MAX
    else:
        assert cleaned == " ".join(name.split()) and 0 < len(cleaned) <= NAME_MAX


def _request(authorization: str | None) -> Request:
    headers = [] if authorization is None else [(b"authorization", authorization.encode("latin-1"))]
    return Request({"type": "http", "headers": headers, "method": "GET", "path": "/"})


@pytest.mark.parametrize(
    ("header", "token"),
    [
        (None, None),
        ("", None),
        ("Basic abc", None),
        ("Bearer", None),
        ("Bearer   ", None),
        ("Bearer bu_live_x", "bu_live_x"),
        ("bearer  bu_live_x ", "bu_live_x"),
    ],
)
def test_bearer_token_is_read_from_the_authorization_header_only(header, token):
    assert bearer_token(_request(header)) == token
