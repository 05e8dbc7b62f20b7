"""The table of an upload's moves, without a database: what may happen from where, and that every
life that starts with a received file can end."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bulk_upload_app.models import BulkUpload
from bulk_upload_app.statuses import UploadSource, UploadStatus, WizardStep
from bulk_upload_app.uploads import lifecycle
from bulk_upload_app.uploads.lifecycle import ENDED, MOVES, Event, IllegalMove, may, next_status, sources

EVENTS = list(Event)
STATUSES = [None, *UploadStatus]


def _reachable(start: UploadStatus | None) -> set[UploadStatus]:
    seen: set[UploadStatus] = set()
    todo = [start]
    while todo:
        here = todo.pop()
        for (before, _event), after in MOVES.items():
            if before == here and after not in seen:
                seen.add(after)
                todo.append(after)
    return seen


def test_every_status_is_reached_and_every_event_used():
    assert _reachable(None) == set(UploadStatus)
    assert {event for _before, event in MOVES} == set(Event)


@given(st.lists(st.sampled_from(EVENTS), max_size=40))
def test_every_status_reachable_from_processing_can_still_end(events):
    """Walk from "processing" by whatever legal moves come up; wherever the walk stops, a way to
    an ended status exists (no upload is stuck where nothing can finish it)."""
    status = UploadStatus.PROCESSING
    for event in events:
        if may(status, event):
            status = next_status(status, event)
    assert status in ENDED or _reachable(status) & ENDED


@given(st.sampled_from(STATUSES), st.sampled_from(EVENTS))
def test_a_move_is_allowed_exactly_when_the_table_has_it(status, event):
    if (status, event) in MOVES:
        assert may(status, event)
        assert next_status(status, event) == MOVES[(status, event)]
        assert status in sources(event)
    else:
        assert not may(status, event)
        with pytest.raises(IllegalMove):
            next_status(status, event)


@pytest.mark.parametrize(
    ("status", "event"),
    [
        (UploadStatus.DONE, Event.CANCEL),  # only undo removes created users
        (UploadStatus.CANCELLED, Event.START_CREATE),
        (UploadStatus.REJECTED, Event.RECEIVE),  # a new file makes a new upload
        (UploadStatus.PROCESSING, Event.START_CREATE),
        (UploadStatus.UNDONE, Event.UNDO),
        (UploadStatus.ABANDONED, Event.START_CREATE),  # its rows are gone
        (None, Event.CANCEL),
        (UploadStatus.DRAFT, Event.FINISH),
    ],
)
def test_illegal_moves_raise(status, event):
    with pytest.raises(IllegalMove):
        next_status(status, event)


def test_ended_statuses_have_no_way_back_to_work():
    working = {UploadStatus.PROCESSING, UploadStatus.DRAFT, UploadStatus.CREATING, UploadStatus.INTERRUPTED}
    for status in ENDED:
        assert not _reachable(status) & working, status


# A fake unit of work: the moves made on an upload object, with no session or database.


def _upload(status: UploadStatus, **fields) -> BulkUpload:
    upload = lifecycle.new_upload(company_id=1, admin_user_id=None, user_type="agent", source=UploadSource.CLI)
    upload.status = status  # the test sets the scene; the product never does this outside lifecycle
    for name, value in fields.items():
        setattr(upload, name, value)
    return upload


def test_a_new_upload_is_processing_or_a_draft():
    received = lifecycle.new_upload(company_id=1, admin_user_id=2, user_type="agent", source=UploadSource.API)
    staged = lifecycle.new_upload(
        company_id=1, admin_user_id=None, user_type="agent", source=UploadSource.SCIM, event=Event.STAGE
    )
    assert (received.status, received.wizard_step, received.source) == ("processing", "review", "api")
    assert staged.status == UploadStatus.DRAFT
    with pytest.raises(IllegalMove):
        lifecycle.new_upload(company_id=1, admin_user_id=None, user_type="agent", source="cli", event=Event.FINISH)


def test_queueing_a_create_and_its_refusal_move_the_step():
    upload = _upload(UploadStatus.DRAFT, version=3, problem="old", cancel_requested=True)
    lifecycle.queue_create(upload)
    assert (upload.status, upload.wizard_step, upload.problem, upload.cancel_requested) == (
        "draft",
        WizardStep.CREATING,
        "",
        False,
    )
    assert upload.queued_at is not None and upload.version == 3
    lifecycle.create_refused(upload, "SEATS_EXCEEDED: short")
    assert (upload.wizard_step, upload.queued_at, upload.problem) == (
        WizardStep.SETTINGS,
        None,
        "SEATS_EXCEEDED: short",
    )
    with pytest.raises(IllegalMove):
        lifecycle.queue_create(_upload(UploadStatus.DONE))


def test_a_queued_create_cancelled_before_a_worker_took_it_is_forgotten():
    asked = _upload(UploadStatus.INTERRUPTED, cancel_requested=True)
    assert lifecycle.forget_cancel(asked) and not asked.cancel_requested and asked.status == "interrupted"
    assert not lifecycle.forget_cancel(_upload(UploadStatus.DRAFT))  # nothing asked
    assert not lifecycle.forget_cancel(_upload(UploadStatus.CREATING, cancel_requested=True))  # its worker stops


def test_the_step_is_set_on_a_draft_only():
    draft = _upload(UploadStatus.DRAFT, version=5)
    lifecycle.set_step(draft, WizardStep.SETTINGS)
    assert draft.wizard_step == "settings" and draft.version == 5
    with pytest.raises(IllegalMove):
        lifecycle.set_step(_upload(UploadStatus.CREATING), WizardStep.REVIEW)
    with pytest.raises(ValueError):
        lifecycle.set_step(draft, "nowhere")  # type: ignore[arg-type]


def test_receiving_a_file_into_a_draft_makes_it_processing_again():
    draft = _upload(UploadStatus.DRAFT, version=1, cancel_requested=True)
    lifecycle.receive(draft)
    assert (draft.status, draft.version, draft.cancel_requested) == ("processing", 2, False)
    with pytest.raises(IllegalMove):
        lifecycle.receive(_upload(UploadStatus.REJECTED))


def test_owned_fields_cannot_ride_along_a_move():
    with pytest.raises(ValueError):
        lifecycle._not_owned({"creating_owner": None, "status": "done"})
    assert lifecycle._not_owned({"creating_owner": None}) == {"creating_owner": None}
