"""SCIM without a database: filters to SQL or to Python, SCIM Users to our fields and back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scim2_models import InvalidFilterException

from bulk_upload_app.models import User as AppUser
from bulk_upload_app.provisioning.scim_users import Person, Provisioned, prefix_of
from bulk_upload_app.scim import filters
from bulk_upload_app.scim.resources import Email, Name, PhoneNumber, User, to_person, to_resource


def sql_text(text: str) -> str:
    return str(filters.to_sql(filters.parse(text).ast).compile(compile_kwargs={"literal_binds": True}))


def test_identity_provider_lookups_become_sql():
    assert "scim_identity.user_name_key = 'bjensen'" in sql_text('userName eq "BJensen"')
    assert "app_user.email = 'b@x.com'" in sql_text('emails.value eq "B@X.com"')
    assert "app_user.email = 'b@x.com'" in sql_text('emails eq "b@x.com"')
    assert "scim_identity.external_id = 'Ab1'" in sql_text('externalId eq "Ab1"')
    assert " OR " in sql_text('userName eq "a" or emails.value eq "b@x.com"')
    assert "app_user.id = 12" in sql_text('id eq "12"')
    assert "false" in sql_text('id eq "x12"').lower() or "0 = 1" in sql_text('id eq "x12"')


@pytest.mark.parametrize("text", ['userName sw "a"', 'not (userName eq "a")', 'emails[value eq "a@b.c"]', "title pr"])
def test_other_valid_filters_are_left_to_python(text):
    with pytest.raises(filters.NotSql):
        filters.to_sql(filters.parse(text).ast)


@pytest.mark.parametrize("text", ['userName eq "a" and', 'userName zz "a"', '"a" eq userName'])
def test_unreadable_filters_are_invalid_filter(text):
    with pytest.raises(InvalidFilterException):
        filters.parse(text)


def test_python_matching_agrees_with_the_resource():
    found = Provisioned(
        AppUser(id=3, company_id=1, firstname="Ada", lastname="Lovelace", email="ada@x.com", country_prefix="+44",
                phone="+442071838750", extension=1000, user_type="agent"),
        "ada",
        None,
    )  # fmt: skip
    resource = to_resource(found, "http://h/scim/v2")
    assert filters.parse('name.familyName sw "love" and phoneNumbers.value co "2071"').match(resource)
    assert not filters.parse('not (userName eq "ADA")').match(resource)


def test_a_scim_user_becomes_our_fields():
    resource = User(
        user_name=" ada ",
        name=Name(given_name=" Ada ", family_name="Lovelace"),
        emails=[Email(value="other@x.com"), Email(value="ada@x.com", primary=True)],
        phone_numbers=[PhoneNumber(value="+44 20 7183 8750")],
        external_id="e1",
        active=False,
    )
    assert to_person(resource) == Person(
        firstname="Ada", lastname="Lovelace", email="ada@x.com", phone="+44 20 7183 8750", user_name="ada",
        external_id="e1", active=False,
    )  # fmt: skip
    assert to_person(User()).active is True and to_person(User()).email == ""


@given(st.text(max_size=30))
def test_a_phone_names_its_country_or_nothing(text):
    prefix = prefix_of(text)
    assert prefix == "" or (text.strip().startswith("+") and prefix[1:].isdigit())


def test_prefixes_of_real_numbers():
    assert prefix_of("+44 20 7183 8750") == "+44"
    assert prefix_of("+1 415 555 2671") == "+1"
    assert prefix_of("020 7183 8750") == ""
