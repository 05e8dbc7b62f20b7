"""The template's columns: names, which are required, and how long a value may be."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    required: bool
    max_length: int
    example: str
    help: str


COLUMNS: tuple[Column, ...] = (
    Column("firstname", "First name", True, 100, "Ada", "The user's first name."),
    Column("lastname", "Last name", True, 100, "Lovelace", "The user's last name."),
    Column("email", "Email", True, 254, "ada.lovelace@example.com", "Used to sign in; unique across all accounts."),
    Column(
        "countryprefix",
        "Country prefix",
        True,
        6,
        "+44",
        "The E.164 calling code of the user's country, for example +1, +44 or +61.",
    ),
    Column(
        "phone",
        "Phone",
        False,
        40,
        "+447400123456",
        "Optional. The user's phone number, with area code; stored in E.164 form.",
    ),
)

COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
REQUIRED_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.required)
BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}

USER_TYPES: tuple[str, ...] = ("admin", "agent", "supervisor", "analyst")
DEFAULT_USER_TYPE = "agent"
