"""The little logic the wizard's states have of their own (the rest is the engine's)."""

from __future__ import annotations

from datetime import UTC

from hypothesis import given
from hypothesis import strategies as st

from bulk_upload_app.ui.wizard.review import _flat_row
from bulk_upload_app.ui.wizard.settings_form import form_to_spec, spec_to_form, toggled
from bulk_upload_app.uploads.batch import BatchSpec, SkillChoice
from bulk_upload_app.uploads.drafts import RowView
from bulk_upload_app.uploads.settings_catalogue import SETTINGS, default_settings

setting_values = st.fixed_dictionaries(
    {s.key: st.booleans() if s.choices is None else st.sampled_from([v for v, _ in s.choices]) for s in SETTINGS}
)


@given(
    st.one_of(st.none(), setting_values),
    st.lists(st.integers(1, 10**6), unique=True, max_size=4),
    st.lists(st.integers(1, 10**6), unique=True, max_size=4),
    st.lists(
        st.tuples(
            st.integers(1, 5),
            st.one_of(st.integers(1, 999), st.text(min_size=1, max_size=20).map(str.strip).filter(bool)),
        ),
        max_size=4,
    ),
)
def test_the_settings_form_round_trips_a_batch(settings, groups, numbers, skills):
    spec = BatchSpec(
        user_type="analyst",
        settings=settings,
        group_ids=groups,
        outbound_number_ids=numbers,
        skills=[
            SkillChoice(level=lvl, skill_id=k) if isinstance(k, int) else SkillChoice(level=lvl, new_name=k)
            for lvl, k in skills
        ],
    )
    form = spec_to_form(spec, {})
    back = form_to_spec(
        "analyst",
        form["use_company_settings"],
        form["setting_values"],
        form["group_ids"],
        form["number_ids"],
        form["chosen_skills"],
    )
    assert back == spec


def test_company_settings_show_the_defaults_but_save_none():
    form = spec_to_form(BatchSpec(), {})
    assert form["use_company_settings"] is True
    assert form["setting_values"]["two_factor_required"] == (
        "true" if default_settings()["two_factor_required"] else "false"
    )
    assert form_to_spec("agent", True, form["setting_values"], [], [], []).settings is None


def test_grid_rows_carry_each_cells_error_as_text():
    view = RowView(
        7,
        3,
        {"firstname": "A", "lastname": "B", "email": "x", "countryprefix": "+44", "phone": ""},
        {"email": {"code": "INVALID_EMAIL", "message": "bad"}, "": {"code": "EXTRA_VALUES_IN_ROW", "message": "extra"}},
        False,
    )
    row = _flat_row(view)
    assert row["id"] == "7" and row["row"] == "3" and row["email"] == "x"
    assert row["email_error"] == "INVALID_EMAIL: bad" and row["firstname_error"] == ""
    assert row["row_error"] == "EXTRA_VALUES_IN_ROW: extra"
    assert all(isinstance(v, str) for v in row.values())


def testtoggled():
    assert toggled(["1", "2"], "3", True) == ["1", "2", "3"]
    assert toggled(["1", "2"], "1", False) == ["2"]
    assert toggled(["1"], "1", True) == ["1"]


def test_a_purged_upload_shows_its_stored_failure_count_not_its_missing_rows():
    from datetime import datetime

    from bulk_upload_app.models import BulkUpload
    from bulk_upload_app.services.creating import _failed_total

    upload = BulkUpload(company_id=1, status="done", created_count=7, failed_count=3)
    assert _failed_total(upload, [{"row": 2}, {"row": 5}, {"row": 9}]) == (3, "")
    assert _failed_total(upload, [{"row": 2}, {"row": 2}, {"row": 9}]) == (2, "")  # a row with two errors
    upload.rows_purged_at = datetime(2030, 2, 3, 4, 5, tzinfo=UTC)
    assert _failed_total(upload, []) == (3, "2030-02-03")
