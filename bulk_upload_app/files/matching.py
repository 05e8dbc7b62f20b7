"""A file's columns matched to our fields: the guess, the admin's corrections, and the table it makes.

The mapping is {index of the file's column: our field}; every column not in it is not imported.
The country prefix, when no column holds it, is derived row by row from a phone written in
international form or from a country column; first and last name, when missing, are split from a
display name. Every derivation is told in a notice.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

import polars as pl

from bulk_upload_app.errors import ErrorCode, FileProblem
from bulk_upload_app.files import countries
from bulk_upload_app.files.column_aliases import (
    COUNTRY,
    DISPLAY_NAME,
    FIELDS,
    alias_for,
    keys_for,
    normalise_title,
    title_keys,
)
from bulk_upload_app.files.reading import RawTable
from bulk_upload_app.files.schema import REQUIRED_COLUMNS

SAMPLE_ROWS = 50
_PHONES = "phones"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PREFIX = re.compile(r"^\+?\d{1,4}$")
_INTL_PHONE = re.compile(r"^(\+|00)[\d\s\-().]{6,}$")


@dataclass(frozen=True)
class ColumnGuess:
    index: int
    title: str
    samples: list[str]
    field: str  # one of FIELDS, or "" for "don't import"
    source: str  # where the guess comes from: "template", "google_workspace", "values", ...


@dataclass(frozen=True)
class MatchPlan:
    columns: list[ColumnGuess]
    mapping: dict[int, str]
    missing: list[str]  # required fields neither matched nor derivable
    candidates: dict[str, list[str]] = field(default_factory=dict)  # missing field -> likely titles

    @property
    def confident(self) -> bool:
        return not self.missing


def _values(raw: RawTable, index: int, limit: int = SAMPLE_ROWS) -> list[str]:
    """The column's first non-empty values (filtered by polars: a million-row column never becomes a list)."""
    column = raw.data[f"c{index}"]
    return column.filter(column.is_not_null() & (column != "")).head(limit).to_list()


def _mostly(values: list[str], pattern: re.Pattern[str]) -> bool:
    return bool(values) and sum(1 for v in values if pattern.match(v.strip())) >= 0.8 * len(values)


def _countries(values: list[str]) -> bool:
    return bool(values) and sum(1 for v in values if countries.looks_like_country(v)) >= 0.8 * len(values)


def _role(title: str, values: list[str]) -> tuple[str, int, str] | None:
    """(role, rank, source) of one column, from its title and then its values."""
    alias = alias_for(title)
    if alias is not None:
        role = alias.role
        # "countryCode" is a calling code in some files and an ISO country (Okta) in others.
        if role == "countryprefix" and not _mostly(values, _PREFIX) and _countries(values):
            role = COUNTRY
        elif role == COUNTRY and _mostly(values, _PREFIX):
            role = "countryprefix"
        return role, alias.rank, alias.source
    if _mostly(values, _EMAIL):
        return "email", 3, "values"
    if _mostly(values, _INTL_PHONE):
        return "phone", 3, "values"
    return None


def _derivation_sources(raw: RawTable, taken: set[int]) -> dict[str, int]:
    """Columns a country prefix or names can be derived from, among those not imported."""
    found: dict[str, int] = {}
    for index, title in enumerate(raw.header):
        if index in taken or not title:
            continue
        hit = _role(title, _values(raw, index))
        if hit and hit[0] in (COUNTRY, DISPLAY_NAME):
            found.setdefault(hit[0], index)
    return found


def _other_phones(raw: RawTable, taken: set[int]) -> list[int]:
    """Phone columns not imported (a work or recovery phone), whose international numbers tell the prefix."""
    return [
        i
        for i, title in enumerate(raw.header)
        if i not in taken and title and (hit := _role(title, _values(raw, i))) and hit[0] == "phone"
    ]


def template_fits(raw: RawTable, positions: dict[str, int]) -> bool:
    """Whether the template's titles mean what they say here: a "country code" column may hold
    ISO countries (Okta's countryCode: "GB") rather than calling codes."""
    index = positions.get("countryprefix")
    if index is None:
        return True
    values = _values(raw, index)
    return _mostly(values, _PREFIX) or not _countries(values)


def _derivable(mapping: dict[int, str], sources: dict[str, int]) -> set[str]:
    fields = set(mapping.values())
    derivable = set()
    if "countryprefix" not in fields and (COUNTRY in sources or "phone" in fields or _PHONES in sources):
        derivable.add("countryprefix")
    if DISPLAY_NAME in sources:
        derivable |= {"firstname", "lastname"} - fields
    return derivable


def derivation_roles(raw: RawTable) -> dict[int, str]:
    """Each column a field could be derived from, with its role (country, display name, phone):
    what `missing_given` needs, read from the table once."""
    roles = {}
    for index, title in enumerate(raw.header):
        if title and (hit := _role(title, _values(raw, index))) and hit[0] in (COUNTRY, DISPLAY_NAME, "phone"):
            roles[index] = hit[0]
    return roles


def missing_given(roles: dict[int, str], mapping: dict[int, str]) -> list[str]:
    """The required fields `mapping` neither fills nor lets us derive, from `derivation_roles`."""
    sources: dict[str, int] = {}
    for index, role in sorted(roles.items()):
        if index in mapping:
            continue
        sources.setdefault(_PHONES if role == "phone" else role, index)
    have = set(mapping.values()) | _derivable(mapping, sources)
    return [f for f in REQUIRED_COLUMNS if f not in have]


def missing_fields(raw: RawTable, mapping: dict[int, str]) -> list[str]:
    return missing_given(derivation_roles(raw), mapping)


def _candidates(raw: RawTable, field_name: str, taken: set[int]) -> list[str]:
    keys = keys_for(field_name)
    scored = []
    for index, title in enumerate(raw.header):
        if index in taken or not title:
            continue
        score = max(
            (difflib.SequenceMatcher(None, k, key).ratio() for k in title_keys(title) for key in keys), default=0
        )
        if score >= 0.5:
            scored.append((-score, index, title))
    return [title for _, _, title in sorted(scored)[:3]]


def guess(raw: RawTable) -> MatchPlan:
    """Our best mapping of the file's columns, with what is still missing."""
    found: dict[str, list[tuple[int, int, str]]] = {}
    samples = {i: _values(raw, i) for i in range(len(raw.header))}
    for index, title in enumerate(raw.header):
        hit = _role(title, samples[index])
        if hit is not None:
            found.setdefault(hit[0], []).append((hit[1], index, hit[2]))
    mapping: dict[int, str] = {}
    sources: dict[int, str] = {}
    for role in ("email", "firstname", "lastname", "countryprefix", "phone"):
        options = sorted(o for o in found.get(role, []) if o[1] not in mapping)
        if options:
            _, index, source = options[0]
            mapping[index], sources[index] = role, source
    columns = [
        ColumnGuess(i, raw.header[i] or f"Column {i + 1}", samples[i][:3], mapping.get(i, ""), sources.get(i, ""))
        for i in range(len(raw.header))
    ]
    missing = missing_fields(raw, mapping)
    candidates = {f: _candidates(raw, f, set(mapping)) for f in missing}
    return MatchPlan(columns=columns, mapping=mapping, missing=missing, candidates=candidates)


def missing_column_problem(plan: MatchPlan) -> FileProblem:
    column = plan.missing[0]
    names = plan.candidates.get(column, [])
    hint = f" (the closest columns: {', '.join(repr(t) for t in names)})" if names else ""
    return FileProblem(ErrorCode.MISSING_COLUMN, column=column, candidates=hint)


def check_mapping(raw: RawTable, mapping: dict[int, str]) -> None:
    """FileProblem when a field is matched twice or a required field can be neither matched nor derived."""
    for index, name in mapping.items():
        if name not in FIELDS or not 0 <= index < len(raw.header):
            raise ValueError(f"not a column and field: {index} -> {name}")
    chosen: dict[str, list[str]] = {}
    for index, name in sorted(mapping.items()):
        chosen.setdefault(name, []).append(raw.header[index] or f"Column {index + 1}")
    for name, titles in chosen.items():
        if len(titles) > 1:
            raise FileProblem(ErrorCode.DUPLICATE_COLUMN, column=name, headers=", ".join(f'"{t}"' for t in titles))
    missing = missing_fields(raw, mapping)
    if missing:
        raise FileProblem(ErrorCode.MISSING_COLUMN, column=missing[0], candidates="")


def with_overrides(raw: RawTable, mapping: dict[int, str], overrides: dict[str, str]) -> dict[int, str]:
    """The mapping with the admin's "TITLE=field" choices ("" or "ignore" leaves a column out)."""
    result = dict(mapping)
    keys = [normalise_title(t) for t in raw.header]
    for title, name in overrides.items():
        target = name.strip().casefold()
        if target in ("", "ignore", "none", "-"):
            target = ""
        elif target not in FIELDS:
            raise ValueError(f'"{name}" is not one of our fields: {", ".join(FIELDS)} (or "ignore").')
        matches = [i for i, t in enumerate(raw.header) if t == title] or [
            i for i, k in enumerate(keys) if k and k == normalise_title(title)
        ]
        if not matches:
            raise ValueError(f'The file has no column titled "{title}".')
        index = matches[0]
        if target:
            result = {i: f for i, f in result.items() if f != target}
            result[index] = target
        else:
            result.pop(index, None)
    return result


def describe(raw: RawTable, mapping: dict[int, str]) -> dict[str, str]:
    """The mapping as {file title: field}, for notices and the audit."""
    return {(raw.header[i] or f"Column {i + 1}"): name for i, name in sorted(mapping.items())}


def _rows_text(rows: list[int]) -> str:
    shown = ", ".join(str(r) for r in rows[:10])
    return shown + (f" and {len(rows) - 10} more" if len(rows) > 10 else "")


def frame_for(raw: RawTable, mapping: dict[int, str]) -> tuple[pl.DataFrame, list[str]]:
    """The file's rows under our field names ("" for empty), and notices of what was derived.

    Matched columns are taken over by polars as they are; only a derived field (names split from
    a display name, a prefix from a phone or a country) is computed row by row in Python."""
    notices: list[str] = []
    fields = {name: index for index, name in mapping.items()}
    n = raw.data.height

    def series(index: int) -> pl.Series:
        return raw.data[f"c{index}"].fill_null("")

    def column(index: int) -> list[str]:
        return series(index).to_list()

    values: dict[str, pl.Series | list[str]] = {
        name: series(fields[name]) if name in fields else pl.repeat("", n, dtype=pl.String, eager=True)
        for name in FIELDS
    }
    sources = _derivation_sources(raw, set(mapping))
    if DISPLAY_NAME in sources and ("firstname" not in fields or "lastname" not in fields):
        title = raw.header[sources[DISPLAY_NAME]]
        firsts, lasts = [], []
        for full in column(sources[DISPLAY_NAME]):
            first, _, last = full.strip().rpartition(" ")
            if not first:  # one word: it is the first name
                first, last = last, ""
            firsts.append(first)
            lasts.append(last)
        if "firstname" not in fields:
            values["firstname"] = firsts
        if "lastname" not in fields:
            values["lastname"] = lasts
        notices.append(
            f'First and last names were split from the column "{title}" (the last word is the last name). '
            "Check them in the grid, where they can be edited."
        )
    if "countryprefix" not in fields:
        rows = raw.data["row"].cast(pl.Int64).to_list()
        from_phone: list[int] = []
        from_country: list[int] = []
        phone = values["phone"]
        phone_columns = [
            phone.to_list() if isinstance(phone, pl.Series) else phone,
            *(column(i) for i in _other_phones(raw, set(mapping))),
        ]
        country = column(sources[COUNTRY]) if COUNTRY in sources else None
        prefixes = [""] * n
        for i in range(n):
            prefix = next(
                (p for phones in phone_columns if phones[i] and (p := countries.prefix_of_phone(phones[i]))), None
            )
            if prefix:
                from_phone.append(rows[i])
            elif country is not None and country[i]:
                prefix = countries.prefix_for_country(country[i])
                if prefix:
                    from_country.append(rows[i])
            prefixes[i] = prefix or ""
        values["countryprefix"] = prefixes
        if from_phone:
            notices.append(
                f"The country prefix was derived from the phone number in rows {_rows_text(from_phone)}. "
                "Check it in the grid, where it can be edited."
            )
        if from_country:
            title = raw.header[sources[COUNTRY]]
            notices.append(
                f'The country prefix was derived from the column "{title}" in rows {_rows_text(from_country)}. '
                "Check it in the grid, where it can be edited."
            )
    frame = pl.DataFrame(
        {
            "row": raw.data["row"].cast(pl.Int64),
            **{name: pl.Series(name, v, dtype=pl.String) for name, v in values.items()},
        }
    )
    return frame, notices


def mapping_notices(raw: RawTable, mapping: dict[int, str], how: str) -> list[str]:
    described = ", ".join(f'"{title}" → {name}' for title, name in describe(raw, mapping).items())
    notices = [f"Columns matched ({how}): {described}."]
    ignored = [t for i, t in enumerate(raw.header) if t and i not in mapping]
    if ignored:
        shown = ", ".join(f'"{t}"' for t in ignored[:12]) + (
            f" and {len(ignored) - 12} more" if len(ignored) > 12 else ""
        )
        notices.append(f"Not imported: {shown}.")
    return notices


def looks_like_header(cells: list[str]) -> bool:
    """A row is the header when its titles name an email column and at least one other of our roles."""
    roles = {a.role for a in (alias_for(c) for c in cells if c) if a is not None}
    return "email" in roles and len(roles & {*FIELDS, DISPLAY_NAME}) >= 2
