"""The batch's settings: what the company offers, what is chosen, and a summary before Confirm."""

from __future__ import annotations

from dataclasses import dataclass

from bulk_upload_app.db import session_scope
from bulk_upload_app.directory import CompanyChoices, company_choices
from bulk_upload_app.services.drafts import DraftSummary, summary_of
from bulk_upload_app.uploads import drafts, records, staging
from bulk_upload_app.uploads.batch import BatchSpec, describe_batch, settings_of_user


@dataclass(frozen=True)
class BatchChoices:
    choices: CompanyChoices
    chosen: BatchSpec


def batch_of(company_id: int, upload_id: str) -> BatchChoices:
    with session_scope(read_only=True) as session:
        upload = records.get_upload(session, company_id, upload_id)
        return BatchChoices(company_choices(session, company_id), BatchSpec.from_json(upload.batch))


def chosen_batch(company_id: int, upload_id: str) -> BatchSpec:
    """What is saved (after a refused change, to show the truth again)."""
    with session_scope(read_only=True) as session:
        return BatchSpec.from_json(records.get_upload(session, company_id, upload_id).batch)


def save_batch(company_id: int, upload_id: str, spec: BatchSpec) -> None:
    """Every id in `spec` is checked against the company (BatchProblem otherwise)."""
    with session_scope() as session:
        staging.configure_batch(session, company_id, upload_id, spec)


def batch_of_user(company_id: int, user_id: int) -> BatchSpec:
    """An existing user's settings, groups, numbers and skills, as a batch ("Load existing")."""
    with session_scope(read_only=True) as session:
        return settings_of_user(session, company_id, user_id=user_id)


def confirmation(company_id: int, upload_id: str) -> tuple[DraftSummary, dict[str, str]]:
    """The draft re-checked against the account right now, and what its batch will get."""
    with session_scope() as session:
        drafts.recheck_account(session, company_id, upload_id)
        upload = records.get_upload(session, company_id, upload_id)
        return summary_of(session, upload), describe_batch(session, company_id, BatchSpec.from_json(upload.batch))
