"""Match a file's column titles to the template's columns.

The template's own lowercase names are taken as they are; near misses ("First Name",
"E-mail", "country_prefix") are matched too, and every such match is reported so the admin
sees what we understood.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bulk_upload_app.errors import ErrorCode, FileProblem
from bulk_upload_app.files.schema import COLUMN_NAMES, REQUIRED_COLUMNS

_ALIASES: dict[str, tuple[str, ...]] = {
    "firstname": ("firstname", "first", "givenname", "forename", "fname"),
    "lastname": ("lastname", "last", "surname", "familyname", "lname"),
    "email": ("email", "emailaddress", "mail"),
    "countryprefix": ("countryprefix", "countrycode", "callingcode", "prefix", "countrycallingcode", "dialcode"),
    "phone": ("phone", "phonenumber", "telephone", "tel", "mobile", "mobilenumber", "cell"),
}
_KEY_TO_COLUMN = {alias: column for column, aliases in _ALIASES.items() for alias in aliases}


def _key(title: str) -> str:
    return re.sub(r"[^a-z0-9]", "", title.casefold())


def column_for(title: str) -> str | None:
    """The template column a title means, or None."""
    return _KEY_TO_COLUMN.get(_key(title))


@dataclass
class HeaderMapping:
    positions: dict[str, int]  # template column -> index of the file's column
    notices: list[str] = field(default_factory=list)


def map_headers(header: list[str]) -> HeaderMapping:
    positions: dict[str, int] = {}
    titles_for: dict[str, list[str]] = {}
    notices: list[str] = []
    ignored: list[str] = []
    for index, title in enumerate(header):
        if not title:
            continue
        column = column_for(title)
        if column is None:
            ignored.append(title)
            continue
        titles_for.setdefault(column, []).append(title)
        positions.setdefault(column, index)
    for column, titles in titles_for.items():
        if len(titles) > 1:
            quoted = ", ".join(f'"{t}"' for t in titles)
            raise FileProblem(ErrorCode.DUPLICATE_COLUMN, column=column, headers=quoted)
    for column in REQUIRED_COLUMNS:
        if column not in positions:
            raise FileProblem(ErrorCode.MISSING_COLUMN, column=column, candidates="")
    for column in COLUMN_NAMES:
        title = titles_for.get(column, [column])[0]
        if title != column:
            notices.append(f'The column "{title}" was read as "{column}". Template titles are lowercase: "{column}".')
    for title in ignored:
        notices.append(f'The column "{title}" is not part of the template and was ignored.')
    return HeaderMapping(positions=positions, notices=notices)
