"""Notification of finished batches: the outbox written with the finish, delivered to a real SMTP
server (aiosmtpd in this process), read back as a mail client would."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bulk_upload_app import audit
from bulk_upload_app.db import session_scope
from bulk_upload_app.delivery import notices, outbox, sending
from bulk_upload_app.models import BulkUpload, BulkUploadAudit, OutboxMessage, utcnow
from bulk_upload_app.settings import load_settings
from bulk_upload_app.statuses import UploadStatus
from bulk_upload_app.uploads import create_lease, creating, history, records
from bulk_upload_app.uploads.report import REPORT_HEADER, report_rows
from tests.support.factories import new_company, person, stage
from tests.support.mail_server import mail_server
from tests.support.processes import free_port

UPLOADER = "uploader@example.com"
PUBLIC_URL = "https://bulk-upload.example.com"


def mail_settings(smtp_url: str | None, **extra: str):
    env = {
        "BULK_UPLOAD_DEMO": "1",
        "BULK_UPLOAD_MAIL_FROM": "Bulk upload <no-reply@example.com>",
        "BULK_UPLOAD_PUBLIC_URL": PUBLIC_URL,
        **extra,
    }
    if smtp_url:
        env["BULK_UPLOAD_SMTP_URL"] = smtp_url
    return load_settings(env)


@pytest.fixture
def inbox():
    with mail_server() as found:
        yield found


def finished_upload(engine, company_id, *, notify=(UPLOADER,), good=3, name="team.csv", start=0) -> str:
    """An upload created with failures: `good` users, one invalid email, one email already taken."""
    taken = person(start + 900)
    first = stage(engine, company_id, [taken], name="earlier.csv")
    creating.create_users(engine, company_id, first)
    rows = [person(start + i) for i in range(good)] + [person(start + 100, email="not-an-email"), taken]
    upload_id = stage(engine, company_id, rows, name=name)
    with session_scope(engine) as session:
        session.execute(update(BulkUpload).where(BulkUpload.id == upload_id).values(notify_emails=list(notify)))
    creating.create_users(engine, company_id, upload_id)
    return upload_id


def outbox_rows(engine, upload_id: str) -> list[OutboxMessage]:
    with session_scope(engine, read_only=True) as session:
        return list(
            session.exec(
                select(OutboxMessage).where(OutboxMessage.upload_id == upload_id).order_by(OutboxMessage.id)
            ).scalars()
        )


def history_note(engine, company_id: int, upload_id: str) -> str:
    with session_scope(engine, read_only=True) as session:
        lines, _ = history.list_uploads(session, company_id)
    (line,) = [line for line in lines if line.id == upload_id]
    return line.notification


def test_a_batch_with_failures_emails_its_uploader_once_with_counts_codes_link_and_the_failed_rows(engine, inbox):
    company = new_company(engine)
    upload_id = finished_upload(engine, company)
    # The earlier upload notified nobody; this one is queued with its end, in the same transaction.
    (row,) = outbox_rows(engine, upload_id)
    assert (row.kind, row.event, row.status, row.recipients) == ("email", "batch-finished", "pending", [UPLOADER])
    assert row.payload["status"] == "created_with_failures" and (row.payload["created"], row.payload["failed"]) == (
        3,
        2,
    )

    settings = mail_settings(inbox.url)
    assert outbox.deliver_due(engine, settings=settings) == 1
    assert outbox.deliver_due(engine, settings=settings) == 0  # delivered: never again

    (received,) = inbox.wait_for(1)
    assert received.rcpt_tos == [UPLOADER]
    assert received.message["To"] == UPLOADER and "no-reply@example.com" in received.message["From"]
    assert received.subject == "Bulk upload “team.csv”: Created with failures (3 created, 2 failed)"
    text = received.text()
    assert "Users created:                    3" in text
    assert "Rows that could not be created:   2" in text
    assert "INVALID_EMAIL: 1" in text and "EMAIL_ALREADY_EXISTS: 1" in text
    assert f"{PUBLIC_URL}/users/bulk-upload/{upload_id}" in text
    assert f'href="{PUBLIC_URL}/users/bulk-upload/{upload_id}"' in received.html()
    # The attachment is the result page's failed-rows file: the same rows, row for row.
    with session_scope(engine, read_only=True) as session:
        expected = report_rows(records.failed_rows(session, upload_id))
    attached = received.xlsx_rows()
    assert attached[0] == list(REPORT_HEADER)
    assert attached[1:] == [[str(v) for v in line] for line in expected]
    assert [line[REPORT_HEADER.index("error_code")] for line in attached[1:]] == [
        "INVALID_EMAIL",
        "EMAIL_ALREADY_EXISTS",
    ]

    (row,) = outbox_rows(engine, upload_id)
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None) and row.sent_at is not None
    assert history_note(engine, company, upload_id) == f"Emailed to {UPLOADER}"
    with session_scope(engine, read_only=True) as session:
        assert any("email about its end sent" in line for line in audit.story(session, upload_id))


def test_a_batch_without_an_address_sends_nothing_and_the_history_says_why(engine, inbox):
    company = new_company(engine)
    upload_id = finished_upload(engine, company, notify=())
    assert outbox.deliver_due(engine, settings=mail_settings(inbox.url)) == 0
    assert inbox.messages == []
    (row,) = outbox_rows(engine, upload_id)
    assert (row.status, row.last_error) == ("skipped", "no email: no address")
    assert history_note(engine, company, upload_id) == "No email: no address"


def test_without_a_mail_server_the_email_is_recorded_as_not_sent_not_retried(engine):
    company = new_company(engine)
    upload_id = finished_upload(engine, company)
    settings = mail_settings(None)
    assert settings.smtp is None
    assert outbox.deliver_due(engine, settings=settings) == 0
    (row,) = outbox_rows(engine, upload_id)
    assert (row.status, row.last_error, row.attempts) == ("not_sent", "not sent: no mail server configured", 1)
    assert outbox.deliver_due(engine, settings=settings, now=utcnow() + timedelta(days=1)) == 0
    assert outbox_rows(engine, upload_id)[0].attempts == 1  # settled: no loop
    assert history_note(engine, company, upload_id) == "Not sent: no mail server configured"


def test_an_unreachable_server_is_retried_with_growing_jittered_delays_then_given_up(engine):
    company = new_company(engine)
    upload_id = finished_upload(engine, company)
    settings = mail_settings(f"smtp://127.0.0.1:{free_port()}")  # nothing listens there
    now = utcnow()
    delays = []
    for attempt in range(1, outbox.MAX_ATTEMPTS + 1):
        assert outbox.deliver_due(engine, settings=settings, now=now) == 0
        (row,) = outbox_rows(engine, upload_id)
        assert row.attempts == attempt
        if attempt == outbox.MAX_ATTEMPTS:
            break
        assert row.status == "pending" and row.last_error.startswith(f"attempt {attempt} failed: ")
        # Not due before its time: a deliverer running meanwhile leaves it alone.
        assert outbox.deliver_due(engine, settings=settings, now=now) == 0
        assert outbox_rows(engine, upload_id)[0].attempts == attempt
        delay = (notices._aware(row.next_attempt_at) - now).total_seconds()
        ceiling = min(outbox.RETRY_CAP_SECONDS, outbox.RETRY_BASE_SECONDS * 2 ** (attempt - 1))
        assert ceiling / 2 <= delay <= ceiling
        delays.append(delay)
        now = notices._aware(row.next_attempt_at)
    assert row.status == "failed"
    assert row.last_error.startswith(f"gave up after {outbox.MAX_ATTEMPTS} attempts: smtp://127.0.0.1:")
    assert outbox.deliver_due(engine, settings=settings, now=now + timedelta(days=1)) == 0
    assert history_note(engine, company, upload_id).startswith("Email not sent: gave up after 8 attempts")
    with session_scope(engine, read_only=True) as session:
        given_up = session.exec(
            select(BulkUploadAudit).where(
                BulkUploadAudit.upload_id == upload_id, BulkUploadAudit.event == audit.NOTIFY_FAILED
            )
        ).scalars()
        assert [a.outcome for a in given_up] == ["failed"]


def test_a_permanent_refusal_is_given_up_at_once(engine, inbox):
    company = new_company(engine)
    upload_id = finished_upload(engine, company)
    inbox.refuse_with = "550 5.1.1 No such mailbox"
    assert outbox.deliver_due(engine, settings=mail_settings(inbox.url)) == 0
    (row,) = outbox_rows(engine, upload_id)
    assert row.status == "failed" and row.attempts == 1
    assert row.last_error.startswith("refused: ") and "550" in row.last_error


def test_a_row_claimed_by_a_deliverer_that_died_is_sent_once_its_lease_ends(engine, inbox):
    company = new_company(engine)
    upload_id = finished_upload(engine, company)
    (row,) = outbox_rows(engine, upload_id)
    now = utcnow()
    assert outbox.claim(engine, row.id, "dead-worker", now) is not None  # ... and then it died
    assert outbox.claim(engine, row.id, "another", now) is None
    settings = mail_settings(inbox.url)
    assert outbox.deliver_due(engine, settings=settings, now=now + timedelta(seconds=60)) == 0
    assert inbox.messages == []
    later = now + timedelta(seconds=outbox.LEASE_SECONDS + 1)
    assert outbox.deliver_due(engine, settings=settings, now=later) == 1
    assert len(inbox.wait_for(1)) == 1
    assert outbox_rows(engine, upload_id)[0].attempts == 2


def test_each_finish_is_queued_once_an_interrupted_batch_and_its_resumed_end_once_each(engine, inbox):
    company = new_company(engine)
    upload_id = stage(engine, company, [person(1), person(2)], name="resumed.csv")
    with session_scope(engine) as session:
        session.execute(
            update(BulkUpload)
            .where(BulkUpload.id == upload_id)
            .values(
                status=UploadStatus.CREATING,
                creating_owner="dead",
                creating_heartbeat=utcnow() - timedelta(hours=1),
                create_attempts=1,
                notify_emails=[UPLOADER],
            )
        )
    assert create_lease.recover_stale(engine) == [upload_id]
    assert create_lease.recover_stale(engine) == []
    with session_scope(engine) as session:  # asked twice for the same finish: still one row
        outbox.enqueue_batch_finished(session, upload_id)
    (interrupted,) = outbox_rows(engine, upload_id)
    assert interrupted.payload["status"] == "interrupted" and interrupted.finish_number == 1
    creating.create_users(engine, company, upload_id)
    rows = outbox_rows(engine, upload_id)
    assert [(r.finish_number, r.payload["status"]) for r in rows] == [(1, "interrupted"), (2, "created")]
    assert outbox.deliver_due(engine, settings=mail_settings(inbox.url)) == 2
    subjects = sorted(m.subject for m in inbox.wait_for(2))
    assert subjects == [
        "Bulk upload “resumed.csv”: Created (2 created, 0 failed)",
        "Bulk upload “resumed.csv”: Interrupted (0 created, 0 failed)",
    ]
    interrupted_mail = next(m for m in inbox.messages if "Interrupted" in m.subject)
    assert "select Resume" in interrupted_mail.text() and interrupted_mail.attachments() == []


def test_failed_rows_above_the_size_limit_are_linked_not_attached(engine, inbox):
    company = new_company(engine)
    upload_id = finished_upload(engine, company)
    settings = mail_settings(inbox.url, BULK_UPLOAD_MAIL_ATTACHMENT_MAX_KB="1")  # any workbook is bigger
    assert outbox.deliver_due(engine, settings=settings) == 1
    (received,) = inbox.wait_for(1)
    assert received.attachments() == []
    assert "too many to attach: download them from the upload's page" in received.text()
    assert f"{PUBLIC_URL}/users/bulk-upload/{upload_id}" in received.text()


def test_the_notice_lists_batches_finished_since_the_admin_last_looked_of_their_company_only(engine):
    company, other = new_company(engine), new_company(engine, name="Other")
    first = finished_upload(engine, company, name="first.csv")
    finished_upload(engine, other, name="elsewhere.csv", start=5000)
    with session_scope(engine, read_only=True) as session:
        news, total = notices.finished_since_seen(session, company, admin_user_id=7)
    # Newest first; the helper's earlier.csv finished just before.
    assert [(n.file_name, n.status, n.created, n.failed) for n in news] == [
        ("first.csv", "created_with_failures", 3, 2),
        ("earlier.csv", "created", 1, 0),
    ]
    assert news[0].upload_id == first and total == 2
    with session_scope(engine) as session:
        notices.mark_seen(session, company, 7)
    with session_scope(engine) as session:
        notices.mark_seen(session, company, 7)  # again: one row per admin
    with session_scope(engine, read_only=True) as session:
        assert notices.finished_since_seen(session, company, 7) == ([], 0)
        assert notices.finished_since_seen(session, company, 8)[1] == 2  # another admin has not looked
        assert notices.notifications_of(session, other, [first]) == {}  # another company's: nothing


def test_two_deliverer_processes_at_once_send_each_message_once(engine, db_url, inbox):
    from tests.support import concurrency_workers
    from tests.support.concurrency_workers import run_racers

    company = new_company(engine, seats=1000)
    ids = [finished_upload(engine, company, name=f"batch{k}.csv", start=k * 10, good=1) for k in range(10)]
    inbox.data_delay = 0.05  # a slow server: the deliverers overlap for the whole run
    outcomes = run_racers(concurrency_workers.deliver, [(db_url, inbox.url)] * 3)
    assert all(o[0] == "ok" for o in outcomes), outcomes
    assert sum(o[1] for o in outcomes) == 10
    received = inbox.wait_for(10)
    assert len(received) == 10
    ids_mailed = sorted(m.message["Message-ID"].split(".")[1] for m in received)
    assert ids_mailed == sorted(ids)
    for upload_id in ids:
        (row,) = outbox_rows(engine, upload_id)
        assert (row.status, row.attempts) == ("sent", 1)


# ---------------------------------------------------------------- the command line


def test_cli_import_with_notify_emails_each_address_once_and_says_so(tmp_path, db_url, inbox):
    from tests.support.cli import cli
    from tests.support.factories import users_csv

    code, seeded, err = cli(db_url, "demo-seed", "--json")
    assert code == 0, err
    path = tmp_path / "cli-team.csv"
    path.write_bytes(users_csv([person(7001), person(7002, countryprefix="+999")]))
    import os

    os.environ["BULK_UPLOAD_SMTP_URL"] = inbox.url  # cli() passes this process's environment on
    try:
        code, doc, err = cli(
            db_url,
            "import",
            str(path),
            "--company",
            str(seeded["id"]),
            "--notify",
            "Ops@Example.com",
            "--notify",
            "lead@example.com",
            "--notify",
            "ops@example.com",
            "--json",
        )
    finally:
        del os.environ["BULK_UPLOAD_SMTP_URL"]
    assert code == 0, err
    (received,) = inbox.wait_for(1)
    assert sorted(received.rcpt_tos) == ["lead@example.com", "ops@example.com"]
    assert received.subject == "Bulk upload “cli-team.csv”: Created with failures (1 created, 1 failed)"
    assert [line[REPORT_HEADER.index("error_code")] for line in received.xlsx_rows()[1:]] == ["INVALID_COUNTRY_PREFIX"]
    assert doc["notification"] == "Emailed to ops@example.com, lead@example.com"


def test_cli_import_refuses_a_bad_notify_address_before_doing_anything(tmp_path, db_url):
    from tests.support.cli import cli
    from tests.support.factories import users_csv

    code, seeded, _ = cli(db_url, "demo-seed", "--json")
    path = tmp_path / "u.csv"
    path.write_bytes(users_csv([person(7101)]))
    code, doc, _ = cli(db_url, "import", str(path), "--company", str(seeded["id"]), "--notify", "nope", "--json")
    assert code == 4 and doc["error"]["code"] == "INVALID_ARGUMENTS" and '"nope"' in doc["error"]["message"]
    code, history_doc, _ = cli(db_url, "history", "--company", str(seeded["id"]), "--json")
    assert history_doc == []


def test_cli_import_without_notify_records_no_address(tmp_path, db_url):
    from tests.support.cli import cli
    from tests.support.factories import users_csv

    code, seeded, _ = cli(db_url, "demo-seed", "--json")
    path = tmp_path / "u.csv"
    path.write_bytes(users_csv([person(7201)]))
    code, doc, err = cli(db_url, "import", str(path), "--company", str(seeded["id"]), "--json")
    assert code == 0, err
    assert doc["notification"] == "No email: no address"


# ---------------------------------------------------------------- demo mode's mail catcher


def test_the_demo_mail_catcher_keeps_each_message_for_the_demo_mail_page(engine, tmp_path):
    import signal
    import sys
    import time

    from bulk_upload_app.mail_catcher import caught
    from bulk_upload_app.settings import environment
    from tests.support.processes import launch, log_tail, wait_for_port

    port, folder, log = free_port(), tmp_path / "mail", tmp_path / "mail-catcher.log"
    command = [sys.executable, "-m", "bulk_upload_app", "mail-catcher", "--port", str(port), "--dir", str(folder)]
    process = launch(command, log, env={**environment(), "BULK_UPLOAD_DEMO": "1"})
    try:
        wait_for_port(process, port, what="the mail catcher", timeout=30, log_path=log)
        company = new_company(engine)
        upload_id = finished_upload(engine, company)
        settings = mail_settings(f"smtp://127.0.0.1:{port}")
        deadline = time.monotonic() + 30
        while outbox.deliver_due(engine, settings=settings, now=utcnow() + timedelta(hours=2)) == 0:
            assert time.monotonic() < deadline, "the catcher did not take the message"
            time.sleep(0.2)  # still starting: the failed try was recorded and is retried
        (mail,) = caught(folder)
        assert mail.to == UPLOADER and "Created with failures" in mail.subject
        assert f"/users/bulk-upload/{upload_id}" in mail.html and mail.attachments == ["failed-users-team.xlsx"]
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log_tail(log)


def test_the_mail_catcher_is_refused_outside_demo_mode(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "BULK_UPLOAD_DEMO"}
    done = subprocess.run(
        [sys.executable, "-m", "bulk_upload_app", "mail-catcher", "--dir", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "demo mode only" in done.stderr


def test_a_batch_cancelled_while_creating_emails_what_was_created_before(engine, inbox):
    company = new_company(engine)
    upload_id = stage(engine, company, [person(8001), person(8002), person(8003, email="nope")], name="stop.csv")
    with session_scope(engine) as session:
        session.execute(
            update(BulkUpload)
            .where(BulkUpload.id == upload_id)
            .values(notify_emails=[UPLOADER], cancel_requested=True)  # the admin pressed Cancel
        )
    creating.create_users(engine, company, upload_id, chunk_size=1)
    with session_scope(engine, read_only=True) as session:
        assert session.get(BulkUpload, upload_id).status == UploadStatus.CANCELLED
    (row,) = outbox_rows(engine, upload_id)
    assert row.payload["status"] == "cancelled" and row.payload["reason"] == "cancelled by an admin"
    assert outbox.deliver_due(engine, settings=mail_settings(inbox.url)) == 1
    (received,) = inbox.wait_for(1)
    assert received.subject.startswith("Bulk upload “stop.csv”: Cancelled (")
    assert "The upload was cancelled. The users added before are kept." in received.text()


# ---------------------------------------------------------------- STARTTLS and credentials, for real


@pytest.fixture
def trusted_certificate(tmp_path, monkeypatch):
    """A self-signed certificate for 127.0.0.1 that this process trusts (SSL_CERT_FILE, read by
    ssl.create_default_context as for any CA bundle); (certificate, key) paths."""
    import subprocess

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    return cert, key


def starttls_server(cert, key, **options):
    import ssl

    from aiosmtpd.smtp import AuthResult

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        good = (auth_data.login, auth_data.password) == (b"bulk@example.com", b"p@ss:word")
        return AuthResult(success=good, handled=False)  # not handled: aiosmtpd answers 535 itself

    return mail_server(
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        authenticator=authenticator,
        **options,
    )


def a_message():
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "no-reply@example.com", UPLOADER, "TLS check"
    message.set_content("hello")
    return message


def test_starttls_with_credentials_delivers_over_tls_and_a_wrong_password_is_retried_not_dropped(trusted_certificate):
    from bulk_upload_app.delivery.mail import send
    from bulk_upload_app.settings import parse_smtp_url

    with starttls_server(*trusted_certificate) as inbox:
        good = parse_smtp_url(f"smtp+starttls://bulk%40example.com:p%40ss%3Aword@127.0.0.1:{inbox.port}")
        assert send(good, a_message()) == {}
        (received,) = inbox.wait_for(1)
        assert received.rcpt_tos == [UPLOADER] and received.subject == "TLS check"
        wrong = parse_smtp_url(f"smtp+starttls://bulk%40example.com:nope@127.0.0.1:{inbox.port}")
        with pytest.raises(sending.DeliveryFailed) as refused:
            send(wrong, a_message())
        assert not refused.value.permanent and "refused the credentials (535)" in str(refused.value)
        assert "nope" not in str(refused.value)
    assert len(inbox.messages) == 1


def test_starttls_is_never_skipped_when_the_server_does_not_offer_it():
    from bulk_upload_app.delivery.mail import send
    from bulk_upload_app.settings import parse_smtp_url

    with mail_server() as inbox:  # plain SMTP only
        with pytest.raises(sending.DeliveryFailed) as failed:
            send(parse_smtp_url(f"smtp+starttls://user:secret@127.0.0.1:{inbox.port}"), a_message())
        assert "SMTPNotSupportedError" in str(failed.value) and not failed.value.permanent
    assert inbox.messages == []


def test_too_many_failed_rows_to_attach_are_summed_up_from_the_database_without_loading_them(engine, inbox):
    from bulk_upload_app.delivery.mail import MIN_XLSX_BYTES_PER_ROW, summarise, summarise_streamed

    company = new_company(engine)
    rows = [person(9000 + i, email=f"bad{i}") for i in range(40)]
    rows += [person(9100 + i, firstname="", email=f"worse{i}") for i in range(15)]  # two codes a row
    rows += [person(9200 + i) for i in range(3)]
    upload_id = stage(engine, company, rows, name="many.csv")
    with session_scope(engine) as session:
        session.execute(update(BulkUpload).where(BulkUpload.id == upload_id).values(notify_emails=[UPLOADER]))
    creating.create_users(engine, company, upload_id)
    with session_scope(engine, read_only=True) as session:
        in_memory = summarise(records.failed_rows(session, upload_id))
        assert summarise_streamed(session, upload_id) == in_memory
    assert [(s.code, s.rows) for s in in_memory] == [("INVALID_EMAIL", 55), ("REQUIRED_VALUE_MISSING", 15)]

    assert 55 * MIN_XLSX_BYTES_PER_ROW > 1024  # 1 KB: these rows are not even loaded
    settings = mail_settings(inbox.url, BULK_UPLOAD_MAIL_ATTACHMENT_MAX_KB="1")
    assert outbox.deliver_due(engine, settings=settings) == 1
    (received,) = inbox.wait_for(1)
    assert received.subject == "Bulk upload “many.csv”: Created with failures (3 created, 55 failed)"
    assert received.attachments() == []
    text = received.text()
    assert "INVALID_EMAIL: 55" in text and "REQUIRED_VALUE_MISSING: 15" in text
    assert "too many to attach: download them from the upload's page" in text
