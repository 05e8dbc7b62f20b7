"""The lease helper (leases.py) on both databases: a heartbeat lease (an upload being
processed) and a deadline lease (an outbox message being delivered)."""

from __future__ import annotations

from datetime import timedelta

from bulk_upload_app import leases
from bulk_upload_app.db import session_scope
from bulk_upload_app.leases import DELIVERY, PROCESSING
from bulk_upload_app.models import BulkUpload, OutboxMessage, utcnow
from bulk_upload_app.statuses import UploadStatus

LEASE = 30.0


def new_upload(engine, demo_company) -> str:
    with session_scope(engine) as session:
        upload = BulkUpload(company_id=demo_company, user_type="agent", status=UploadStatus.PROCESSING)
        session.add(upload)
        session.flush()
        return upload.id


def holder(engine, upload_id: str) -> str | None:
    with session_scope(engine, read_only=True) as session:
        return session.get(BulkUpload, upload_id).processing_owner


def test_a_fresh_holder_keeps_the_row_and_a_stale_one_is_replaced(engine, demo_company):
    upload_id = new_upload(engine, demo_company)
    first, second = leases.new_owner(), leases.new_owner()
    start = utcnow()
    with session_scope(engine) as session:
        assert PROCESSING.claim(session, upload_id, first, start, LEASE)
    with session_scope(engine) as session:
        assert not PROCESSING.claim(session, upload_id, second, start + timedelta(seconds=LEASE - 1), LEASE)
    assert holder(engine, upload_id) == first
    later = start + timedelta(seconds=LEASE + 1)
    with session_scope(engine) as session:
        assert PROCESSING.claim(session, upload_id, second, later, LEASE)
    # The replaced holder renews and releases nothing: it commits nothing more.
    with session_scope(engine) as session:
        assert PROCESSING.renew(session, upload_id, first, total_rows=99) is None
        assert PROCESSING.release(session, upload_id, first) is None
    with session_scope(engine, read_only=True) as session:
        upload = session.get(BulkUpload, upload_id)
        assert (upload.processing_owner, upload.total_rows) == (second, 0)
    with session_scope(engine) as session:
        assert PROCESSING.renew(session, upload_id, second, total_rows=5) is not None
        assert PROCESSING.release(session, upload_id, second) is not None
    with session_scope(engine, read_only=True) as session:
        upload = session.get(BulkUpload, upload_id)
        # Released: free at once, the heartbeat kept as its holder's last sign of life.
        assert (upload.processing_owner, upload.total_rows) == (None, 5)
        assert upload.processing_heartbeat is not None
    with session_scope(engine) as session:
        assert PROCESSING.claim(session, upload_id, first, utcnow(), LEASE)


def test_a_claim_only_takes_a_row_its_condition_allows(engine, demo_company):
    upload_id = new_upload(engine, demo_company)
    up = BulkUpload.__table__.c
    with session_scope(engine) as session:
        taken = PROCESSING.claim(
            session, upload_id, leases.new_owner(), utcnow(), LEASE, when=up.status == UploadStatus.DRAFT
        )
    assert not taken and holder(engine, upload_id) is None


def test_stale_in_sql_and_in_python_agree(engine, demo_company):
    upload_id = new_upload(engine, demo_company)
    owner, now = leases.new_owner(), utcnow()
    with session_scope(engine) as session:
        PROCESSING.claim(session, upload_id, owner, now - timedelta(seconds=10), LEASE)
    for seconds, stale in ((LEASE, False), (5.0, True)):
        with session_scope(engine, read_only=True) as session:
            found = session.execute(
                BulkUpload.__table__.select().where(
                    BulkUpload.__table__.c.id == upload_id, PROCESSING.stale(now, seconds)
                )
            ).first()
            beat = session.get(BulkUpload, upload_id).processing_heartbeat
        assert (found is not None, PROCESSING.is_stale(beat, now, seconds)) == (stale, stale)


def test_a_deadline_lease_ends_at_its_deadline_and_is_cleared_on_release(engine, demo_company):
    with session_scope(engine) as session:
        message = OutboxMessage(kind="email", event="test", upload_id="u1", company_id=demo_company)
        session.add(message)
        session.flush()
        message_id = message.id
    first, second, now = leases.new_owner(), leases.new_owner(), utcnow()
    with session_scope(engine) as session:
        assert DELIVERY.claim(session, message_id, first, now, LEASE)
    with session_scope(engine) as session:
        assert not DELIVERY.claim(session, message_id, second, now + timedelta(seconds=LEASE - 1), LEASE)
        assert DELIVERY.claim(session, message_id, second, now + timedelta(seconds=LEASE + 1), LEASE)
    with session_scope(engine) as session:
        assert DELIVERY.release(session, message_id, second) is not None
    with session_scope(engine, read_only=True) as session:
        row = session.get(OutboxMessage, message_id)
        assert (row.claimed_by, row.lease_until) == (None, None)


def test_an_owner_names_its_worker_and_each_hold_apart():
    first, second = leases.new_owner(), leases.new_owner()
    assert first != second and len(first) <= 80
    assert leases.worker_of(first) == leases.worker_of(second) == leases.worker_id()
    assert leases.worker_of("ghost:1:dead") == "ghost:1:dead"  # owners written before worker ids
