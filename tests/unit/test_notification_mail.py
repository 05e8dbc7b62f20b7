"""Mail settings (the SMTP URL, the sender), the retry delays, the token's email claim, and the
email's text built from hostile values."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bulk_upload_app.access import tokens
from bulk_upload_app.delivery import outbox
from bulk_upload_app.delivery.mail import BatchMail, CodeSummary, compose, one_line, summarise
from bulk_upload_app.settings import SettingsError, SmtpServer, load_settings, parse_smtp_url, startup_problems
from tests.support.factories import PRODUCTION_SETTINGS as PRODUCTION


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.com", SmtpServer("plain", "mail.example.com", 25)),
        ("smtp://127.0.0.1:2525", SmtpServer("plain", "127.0.0.1", 2525)),
        ("smtp+starttls://mail.example.com", SmtpServer("starttls", "mail.example.com", 587)),
        (
            "smtp+starttls://bulk%40example.com:p%40ss%3Aw0rd@mail.example.com:2587",
            SmtpServer("starttls", "mail.example.com", 2587, "bulk@example.com", "p@ss:w0rd"),
        ),
        ("smtps://user:secret@mail.example.com", SmtpServer("tls", "mail.example.com", 465, "user", "secret")),
        ("SMTPS://user@[::1]:1465/", SmtpServer("tls", "::1", 1465, "user", "")),
    ],
)
def test_smtp_urls_are_parsed_with_their_security_port_and_credentials(url, expected):
    assert parse_smtp_url(url) == expected


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://mail.example.com", "must start with smtp://"),
        ("mail.example.com:25", "must start with smtp://"),
        ("smtp://", "names no mail server host"),
        ("smtp://mail.example.com:99999", "is not a URL"),
        ("smtp://mail.example.com:port", "is not a URL"),
        ("smtp://mail.example.com/relay", "no path or query"),
        ("smtp://mail.example.com?tls=1", "no path or query"),
        ("smtp+starttls://:secret@mail.example.com", "a password but no user name"),
        ("smtp://user:secret@mail.example.com", "credentials need smtp+starttls:// or smtps://"),
    ],
)
def test_a_bad_smtp_url_is_refused_naming_the_setting_and_never_repeating_the_url(url, says):
    with pytest.raises(SettingsError) as refused:
        parse_smtp_url(url)
    assert str(refused.value).startswith("BULK_UPLOAD_SMTP_URL") and says in str(refused.value)
    assert "secret" not in str(refused.value)


def test_the_password_stays_out_of_reprs_and_descriptions():
    server = parse_smtp_url("smtps://user:hunter2@mail.example.com")
    assert "hunter2" not in repr(server) and server.describe() == "smtps://mail.example.com:465"


def test_production_refuses_an_unparsable_smtp_url_and_wants_a_sender_with_one():
    with pytest.raises(SettingsError):
        load_settings({**PRODUCTION, "BULK_UPLOAD_SMTP_URL": "smtp//nope"})
    problems = startup_problems(load_settings({**PRODUCTION, "BULK_UPLOAD_SMTP_URL": "smtp://mail.example.com"}))
    assert [p.split(":")[0] for p in problems] == ["BULK_UPLOAD_MAIL_FROM is missing"]
    configured = load_settings(
        {
            **PRODUCTION,
            "BULK_UPLOAD_SMTP_URL": "smtp+starttls://u:p@mail.example.com",
            "BULK_UPLOAD_MAIL_FROM": "Bulk upload <no-reply@example.com>",
        }
    )
    assert startup_problems(configured) == []
    assert configured.public_url == "https://bulk-upload.example.com"  # REFLEX_DEPLOY_URL unless set


def test_without_smtp_the_app_starts_and_records_mail_as_not_sent():
    settings = load_settings(PRODUCTION)
    assert settings.smtp is None and startup_problems(settings) == []


@pytest.mark.parametrize("sender", ["nobody", "Bulk <no-reply@localhost>", "a b@example.com", "x@example.com\nBcc: y"])
def test_a_sender_that_is_not_an_address_is_refused(sender):
    with pytest.raises(SettingsError, match="BULK_UPLOAD_MAIL_FROM"):
        load_settings({**PRODUCTION, "BULK_UPLOAD_MAIL_FROM": sender})


@given(st.integers(min_value=1, max_value=60), st.floats(min_value=0, max_value=1, exclude_max=True))
def test_retry_delays_double_up_to_the_cap_with_at_most_half_taken_off_by_jitter(attempts, draw):
    delay = outbox.retry_delay(attempts, rng=lambda: draw)
    ceiling = min(outbox.RETRY_CAP_SECONDS, outbox.RETRY_BASE_SECONDS * 2 ** (attempts - 1))
    assert ceiling / 2 <= delay <= ceiling <= outbox.RETRY_CAP_SECONDS


@pytest.mark.parametrize(
    ("claim", "kept"),
    [
        ("Ada.Admin@Example.COM", "ada.admin@example.com"),
        (None, None),
        ("not an address", None),
        (42, None),
        ("a@" + "b" * 300 + ".com", None),
    ],
)
def test_the_tokens_email_claim_is_optional_and_validated(claim, kept):
    assert tokens.email_claim(claim) == kept


def mail(**changes) -> BatchMail:
    values = {
        "upload_id": "u1",
        "file_name": 'x<script>alert(1)</script>\r\nBcc: victim@example.com".csv',
        "status": "created_with_failures",
        "status_label": "Created with failures",
        "total_rows": 3,
        "created": 1,
        "failed_rows": [["<b>Ann</b>", "", "", "", "", 2, "INVALID_EMAIL", "bad"]],
        "failed_count": 1,
        "by_code": [CodeSummary("INVALID_EMAIL", 1, '"<img src=x onerror=alert(1)>" is not a valid email address')],
        "upload_url": "https://app.example.com/users/bulk-upload/u1",
        "rows_purged": False,
    }
    return BatchMail(**{**values, **changes})


def test_values_from_the_file_cannot_inject_headers_or_html():
    settings = load_settings({"BULK_UPLOAD_DEMO": "1"})
    message = compose(mail(), ["admin@example.com"], settings, message_id="<m@example.com>", attachment_max_bytes=10**6)
    assert message["Bcc"] is None and "\n" not in message["Subject"] and "\r" not in message["Subject"]
    html = message.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html and "<img" not in html


def test_failures_are_summed_up_by_code_most_frequent_first_a_row_counted_once_per_code():
    failed = [
        {"row": 2, "code": "INVALID_EMAIL", "message": "a"},
        {"row": 2, "code": "REQUIRED_VALUE_MISSING", "message": "b"},
        {"row": 3, "code": "INVALID_EMAIL", "message": "c"},
    ]
    assert summarise(failed) == [CodeSummary("INVALID_EMAIL", 2, "a"), CodeSummary("REQUIRED_VALUE_MISSING", 1, "b")]


@given(st.text(max_size=300))
def test_one_line_has_no_line_breaks_and_keeps_to_its_limit(text):
    line = one_line(text, 80)
    assert len(line) <= 80 and "\n" not in line and "\r" not in line


def test_an_email_being_sent_is_described_as_being_sent_not_as_waiting_to_be_tried_again():
    from bulk_upload_app.delivery.notices import describe
    from bulk_upload_app.statuses import OutboxStatus

    assert describe(OutboxStatus.SENDING, ["a@example.com"], 1, None) == "Sending the email to a@example.com"
    assert (
        describe(OutboxStatus.PENDING, ["a@example.com"], 1, "timeout")
        == "Email waiting to be sent again (1 tries so far)"
    )
