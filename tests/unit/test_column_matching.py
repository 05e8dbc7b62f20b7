"""Matching a file's columns to our fields: titles from every source we know, values, derivations."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bulk_upload_app.errors import ErrorCode, FileProblem
from bulk_upload_app.files import countries
from bulk_upload_app.files.column_aliases import MARK_WORDS, alias_for, normalise_title, title_keys
from bulk_upload_app.files.intake import parse_file, read_raw, template_match, validate_file
from bulk_upload_app.files.matching import guess
from tests.support.exports import (
    GOOGLE_WORKSPACE_HEADER,
    MICROSOFT_365_HEADER,
    MICROSOFT_GRAPH_HEADER,
    OKTA_HEADER,
    google_workspace_csv,
    microsoft_365_csv,
    okta_csv,
)
from tests.support.factories import users_csv

# ---------------------------------------------------------------- each source's documented header


def test_google_workspace_titles():
    found = {title: alias_for(title) for title in GOOGLE_WORKSPACE_HEADER}
    assert found["First Name [Required]"].role == "firstname"
    assert found["Last Name [Required]"].role == "lastname"
    assert found["Email Address [Required]"].role == "email"
    assert found["Mobile Phone"].role == "phone" and found["Mobile Phone"].rank == 1
    assert found["Work Phone"].role == "phone" and found["Work Phone"].rank == 2
    for other in ("New Primary Email [UPLOAD ONLY]", "Recovery Email", "Manager Email", "Password [Required]"):
        assert found[other] is None, other


def test_microsoft_365_titles():
    found = {title: alias_for(title) for title in MICROSOFT_365_HEADER}
    assert (found["First name"].role, found["Last name"].role, found["Mobile phone"].role) == (
        "firstname",
        "lastname",
        "phone",
    )
    assert found["User principal name"].role == "email"
    assert found["Country or region"].role == "country"
    assert found["Display name"].role == "displayname"
    plan = guess(read_raw(microsoft_365_csv(), "m365.csv"))
    assert {MICROSOFT_365_HEADER[i]: f for i, f in plan.mapping.items()}["Mobile phone"] == "phone"


def test_microsoft_graph_and_entra_titles():
    found = {title: alias_for(title) for title in MICROSOFT_GRAPH_HEADER}
    assert found["givenName"].role == "firstname" and found["surname"].role == "lastname"
    assert found["mail"].role == "email" and found["mail"].rank == 1
    assert found["userPrincipalName"].role == "email" and found["userPrincipalName"].rank == 2
    assert found["mobilePhone"].role == "phone" and found["businessPhones"].role == "phone"
    assert found["usageLocation"].role == "country"
    # Entra's bulk-create template puts the Graph name in brackets
    # (https://learn.microsoft.com/entra/identity/users/users-bulk-add).
    assert alias_for("First name [givenName]").role == "firstname"
    assert alias_for("User name [userPrincipalName] Required").role == "email"
    assert alias_for("Name [displayName] Required").role == "displayname"


def test_okta_titles():
    found = {title: alias_for(title) for title in OKTA_HEADER}
    assert found["firstName"].role == "firstname" and found["lastName"].role == "lastname"
    assert found["email"].role == "email" and found["login"].rank == 2
    assert found["mobilePhone"].role == "phone" and found["primaryPhone"].rank == 2
    assert found["secondEmail"] is None


@pytest.mark.parametrize(
    "title,role",
    [
        ("Vorname", "firstname"),
        ("Nachname", "lastname"),
        ("E-Mail-Adresse", "email"),
        ("Landesvorwahl", "countryprefix"),
        ("Prénom", "firstname"),
        ("Nom de famille", "lastname"),
        ("Courriel", "email"),
        ("Téléphone", "phone"),
        ("Nombre", "firstname"),
        ("Apellidos", "lastname"),
        ("Correo electrónico", "email"),
        ("Teléfono", "phone"),
        ("Sobrenome", "lastname"),
        ("Telemóvel", "phone"),
        ("Cognome", "lastname"),
        ("Indirizzo email", "email"),
        ("Prefisso", "countryprefix"),
        ("Voornaam", "firstname"),
        ("Achternaam", "lastname"),
        ("Jméno", "firstname"),
        ("Příjmení", "lastname"),
        ("E-mailová adresa", "email"),
        ("Předvolba", "countryprefix"),
        ("Země", "country"),
    ],
)
def test_common_titles_in_other_languages(title, role):
    assert alias_for(title).role == role


@pytest.mark.parametrize(
    "build,prefixes",
    [
        (google_workspace_csv, ["+44", "+1", "+420"]),
        (microsoft_365_csv, ["+44", "+49", "+33"]),
        (okta_csv, ["+44", "+34", "+31"]),
    ],
)
def test_each_export_is_read_whole_with_the_prefix_derived(build, prefixes):
    parsed = parse_file(build(), "export.csv")
    validation = validate_file(parsed)
    assert (validation.rows, validation.valid) == (3, 3), validation.errors
    assert parsed.frame["countryprefix"].to_list() == prefixes
    assert parsed.matched_by == "guessed"
    assert any(n.startswith("Columns matched (guessed)") for n in parsed.notices)
    assert any("country prefix was derived" in n for n in parsed.notices)
    assert template_match(read_raw(build(), "export.csv")) is None  # the wizard asks the admin


def test_template_titles_still_need_no_matching():
    raw = read_raw(users_csv([("A", "B", "a@example.com", "+44", "")]), "u.csv")
    assert template_match(raw) == {0: "firstname", 1: "lastname", 2: "email", 3: "countryprefix", 4: "phone"}


# ---------------------------------------------------------------- values, derivations, problems


def test_a_column_of_emails_is_the_email_column_whatever_its_title():
    data = users_csv(
        [("Ada", "Lovelace", "ada@example.com", "+44")], header=["firstname", "lastname", "Kontakt", "countryprefix"]
    )
    parsed = parse_file(data, "u.csv")
    assert parsed.mapping["Kontakt"] == "email"
    assert validate_file(parsed).valid == 1


def test_a_display_name_is_split_only_when_names_are_missing():
    data = users_csv([("Ada King Lovelace", "ada@example.com", "GB")], header=["Display name", "Email", "Country"])
    parsed = parse_file(data, "u.csv")
    assert parsed.frame.select("firstname", "lastname", "countryprefix").row(0) == ("Ada King", "Lovelace", "+44")
    assert any("split from the column" in n for n in parsed.notices)
    with_names = users_csv(
        [("Ada Lovelace", "Ada", "L", "ada@example.com", "GB")],
        header=["Display name", "First name", "Last name", "Email", "Country"],
    )
    parsed = parse_file(with_names, "u.csv")
    assert parsed.frame.select("firstname", "lastname").row(0) == ("Ada", "L")
    assert not any("split from" in n for n in parsed.notices)


def test_missing_email_names_the_best_candidates():
    data = users_csv(
        [("Ada", "Lovelace", "not an address", "+44")], header=["firstname", "lastname", "E-Mail-Adr", "prefix"]
    )
    with pytest.raises(FileProblem) as caught:
        parse_file(data, "u.csv")
    assert caught.value.code is ErrorCode.MISSING_COLUMN
    assert 'The required column "email" is missing' in caught.value.message
    assert "'E-Mail-Adr'" in caught.value.message


def test_overrides_replace_a_guess_and_a_field_is_never_taken_twice():
    data = users_csv(
        [("Ada", "Lovelace", "ada@example.com", "+44", "x")],
        header=["Vorname", "Nachname", "Mail", "Vorwahl", "Nickname"],
    )
    parsed = parse_file(data, "u.csv", overrides={"Nickname": "firstname"})
    assert parsed.frame["firstname"].to_list() == ["x"]
    assert "Vorname" not in parsed.mapping
    with pytest.raises(FileProblem) as caught:
        parse_file(
            data, "u.csv", mapping={0: "firstname", 4: "firstname", 1: "lastname", 2: "email", 3: "countryprefix"}
        )
    assert caught.value.code is ErrorCode.DUPLICATE_COLUMN


def test_okta_country_code_holds_countries_not_prefixes():
    raw = read_raw(okta_csv(), "okta.csv")
    plan = guess(raw)
    assert plan.confident
    assert "countryprefix" not in plan.mapping.values()


@pytest.mark.parametrize(
    "country,prefix",
    [
        ("United Kingdom", "+44"),
        ("GB", "+44"),
        ("DE", "+49"),
        ("gb", "+44"),
        ("Deutschland", "+49"),
        ("Czechia", "+420"),
        ("Atlantis", None),
    ],
)
def test_country_names_and_codes_to_prefixes(country, prefix):
    assert countries.prefix_for_country(country) == prefix


def test_prefix_of_an_international_phone():
    assert countries.prefix_of_phone("+44 7911 123456") == "+44"
    assert countries.prefix_of_phone("0049 1512 3456789") == "+49"
    assert countries.prefix_of_phone("07911 123456") is None


# ---------------------------------------------------------------- title normalisation (properties)

_WORDS = st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=12)


@given(st.text(max_size=60))
def test_normalising_is_idempotent_and_total(title):
    key = normalise_title(title)
    assert normalise_title(key) == key
    assert set(key) <= set(string.ascii_lowercase + string.digits)


@given(st.lists(_WORDS, min_size=1, max_size=4), st.sampled_from([" ", "_", "-", ".", "  ", "\t", "/"]))
def test_case_spacing_and_punctuation_do_not_count(words, separator):
    plain = "".join(words).lower()
    if plain in MARK_WORDS or words[-1].lower() in MARK_WORDS:
        return  # a trailing mark word ("Email optional") is dropped only when it stands apart
    assert normalise_title(separator.join(words)) == normalise_title(plain)
    assert normalise_title(separator.join(w.upper() for w in words)) == normalise_title(plain)


@given(st.lists(st.sampled_from(["e", "a", "o", "n", "c", "i"]), min_size=1, max_size=10))
def test_accents_do_not_count(letters):
    accented = {"e": "é", "a": "á", "o": "ô", "n": "ñ", "c": "č", "i": "í"}
    assert normalise_title("".join(accented[c] for c in letters)) == "".join(letters)


@given(_WORDS, st.sampled_from(["[Required]", "(optional)", "[UPLOAD ONLY]", "Required"]))
def test_marks_after_a_title_do_not_count(word, mark):
    assert normalise_title(f"{word} {mark}") == normalise_title(word)


@given(st.text(max_size=40))
def test_title_keys_start_with_the_title_key(title):
    keys = title_keys(title)
    assert len(keys) == len(set(keys))
    if normalise_title(title) and normalise_title(title) not in MARK_WORDS:
        assert keys[0] == normalise_title(title)
