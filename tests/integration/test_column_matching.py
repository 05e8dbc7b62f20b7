"""The Match columns step in the engine: a file of other titles waits with its table, is staged with
the admin's matching, and the next file with the same titles is matched the same way."""

from __future__ import annotations

import pytest

from bulk_upload_app import audit
from bulk_upload_app.db import session_scope
from bulk_upload_app.errors import ErrorCode, FileProblem, UploadBusy
from bulk_upload_app.files.reading import ReadLimits
from bulk_upload_app.services import drafts as draft_service
from bulk_upload_app.statuses import WizardStep
from bulk_upload_app.uploads import pending, pipeline, records
from tests.support.exports import MICROSOFT_365_HEADER, google_workspace_csv, microsoft_365_csv, okta_csv
from tests.support.factories import users_csv


def stage(engine, company, data: bytes, **kwargs) -> str:
    return pipeline.draft_from_file(
        engine, company_id=company, admin_user_id=7, file_name="export.csv", data=data, limits=ReadLimits(), **kwargs
    )


def upload_of(engine, company, upload_id):
    with session_scope(engine, read_only=True) as session:
        return records.get_upload(session, company, upload_id)


@pytest.mark.parametrize("build", [google_workspace_csv, microsoft_365_csv, okta_csv])
def test_an_export_waits_at_the_match_step_then_stages_whole(engine, demo_company, build, request):
    data = build(domain=f"{request.node.callspec.id.replace('_', '-')}.example.com")
    upload_id = stage(engine, demo_company, data)
    upload = upload_of(engine, demo_company, upload_id)
    assert upload.wizard_step == WizardStep.MATCH and upload.pending_table is not None and upload.total_rows == 0
    with session_scope(engine, read_only=True) as session:
        plan = pending.plan_for(session, demo_company, upload_id)
    assert plan.confident
    with session_scope(engine) as session:
        pending.confirm(session, demo_company, 7, upload_id, plan.mapping)
    upload = upload_of(engine, demo_company, upload_id)
    assert upload.pending_table is None and upload.wizard_step == "review"
    assert (upload.total_rows, upload.valid_rows) == (3, 3)
    assert upload.column_mapping["matched_by"] == "admin" and "email" in upload.column_mapping["mapping"].values()
    assert any("country prefix was derived" in n for n in upload.notices)
    with session_scope(engine, read_only=True) as session:
        staged = [a for a in audit.history(session, upload_id) if a.event == audit.STAGED]
    assert staged[0].details["columns"]["mapping"] == upload.column_mapping["mapping"]


def test_a_corrected_guess_is_remembered_for_the_next_file_with_the_same_titles(engine, demo_company):
    data = microsoft_365_csv(domain="remembered.example.com")
    upload_id = stage(engine, demo_company, data)
    with session_scope(engine, read_only=True) as session:
        plan = pending.plan_for(session, demo_company, upload_id)
    mapping = dict(plan.mapping)
    phone = MICROSOFT_365_HEADER.index("Mobile phone")
    mapping.pop(phone)  # the admin does not import the phones
    with session_scope(engine) as session:
        pending.confirm(session, demo_company, 7, upload_id, mapping)
    with session_scope(engine, read_only=True) as session:  # what the result page lists
        summary = draft_service.summary_of(session, records.get_upload(session, demo_company, upload_id))
    assert '"User principal name" → email (matched by an admin)' in summary.columns
    again = stage(engine, demo_company, microsoft_365_csv(domain="remembered2.example.com"))
    upload = upload_of(engine, demo_company, again)
    assert upload.pending_table is None and upload.column_mapping["matched_by"] == "remembered"
    assert "Mobile phone" not in upload.column_mapping["mapping"]
    assert any("matched them last time" in n for n in upload.notices)
    asked = stage(engine, demo_company, microsoft_365_csv(domain="asked.example.com"), ask_columns=True)
    assert upload_of(engine, demo_company, asked).wizard_step == WizardStep.MATCH


def test_required_fields_and_one_column_per_field_are_enforced(engine, demo_company):
    data = users_csv([("Ada", "Lovelace", "ada@ex.example.com", "+44")], header=["Vorname", "Nachname", "Mail", "Tel"])
    upload_id = stage(engine, demo_company, data)
    with session_scope(engine) as session, pytest.raises(FileProblem) as caught:
        pending.confirm(session, demo_company, 7, upload_id, {0: "firstname", 1: "lastname", 3: "countryprefix"})
    assert caught.value.code is ErrorCode.MISSING_COLUMN
    with session_scope(engine) as session, pytest.raises(FileProblem) as caught:
        pending.confirm(session, demo_company, 7, upload_id, {0: "firstname", 1: "firstname", 2: "email", 3: "phone"})
    assert caught.value.code is ErrorCode.DUPLICATE_COLUMN
    with session_scope(engine) as session:
        pending.confirm(
            session, demo_company, 7, upload_id, {0: "firstname", 1: "lastname", 2: "email", 3: "countryprefix"}
        )
    with session_scope(engine) as session, pytest.raises(UploadBusy):
        pending.confirm(
            session, demo_company, 7, upload_id, {0: "firstname", 1: "lastname", 2: "email", 3: "countryprefix"}
        )


def test_template_titles_go_straight_to_review(engine, demo_company):
    upload_id = stage(engine, demo_company, users_csv([("Ada", "Lovelace", "ada@straight.example.com", "+44", "")]))
    upload = upload_of(engine, demo_company, upload_id)
    assert upload.wizard_step == "review" and upload.pending_table is None and upload.total_rows == 1
