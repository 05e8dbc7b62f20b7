"""A country, as exports write it, to its E.164 calling code; and the code of a phone in international form.

Names and codes come from phonenumbers' own metadata (its region list, calling codes and the
region names of its geocoder locale data), so they follow the library we already validate with:
ISO 3166-1 alpha-2 and alpha-3-free short names ("GB", "DE"), and names in English and in the
languages the column guesses know (German, French, Spanish, Portuguese, Italian, Dutch, Czech).
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

import phonenumbers

_LANGUAGES = ("en", "de", "fr", "es", "pt", "it", "nl", "cs")
# Everyday English names the geocoder writes otherwise.
_EXTRA_NAMES = {
    "uk": "GB",
    "greatbritain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northernireland": "GB",
    "usa": "US",
    "us": "US",
    "unitedstatesofamerica": "US",
    "america": "US",
    "czechia": "CZ",
    "czechrepublic": "CZ",
    "holland": "NL",
    "thenetherlands": "NL",
    "southkorea": "KR",
    "korea": "KR",
    "russia": "RU",
    "uae": "AE",
}


def _key(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.casefold())
    return re.sub(r"[^a-z0-9]", "", "".join(c for c in folded if not unicodedata.combining(c)))


def _name(region: str, language: str) -> str:
    # Imported here: the geocoder's locale data takes ~0.5 s to load, and only a file whose country
    # column holds names (not calling codes) needs it, not every process that imports the engine.
    from phonenumbers.geodata.locale import LOCALE_DATA

    names = LOCALE_DATA.get(region, {})
    name = names.get(language, "")
    for _ in range(3):  # "*aa" points at another language's entry
        if name.startswith("*"):
            name = names.get(name[1:], "")
    return name


@cache
def _regions_by_name() -> dict[str, str]:
    table: dict[str, str] = {}
    for region in phonenumbers.SUPPORTED_REGIONS:
        for language in _LANGUAGES:
            name = _name(region, language)
            if name:
                table.setdefault(_key(name), region)
        table.setdefault(region.casefold(), region)
    for name, region in _EXTRA_NAMES.items():
        table.setdefault(name, region)
    return table


def region_for(country: str) -> str | None:
    """The ISO 3166-1 alpha-2 region a country cell names ("United Kingdom", "gb", "Deutschland"), or None."""
    key = _key(country)
    return _regions_by_name().get(key) if key else None


def prefix_for_country(country: str) -> str | None:
    """The E.164 prefix ("+44") of a country cell, or None when it names no country we know."""
    region = region_for(country)
    if region is None:
        return None
    code = phonenumbers.country_code_for_region(region)
    return f"+{code}" if code else None


def prefix_of_phone(phone: str) -> str | None:
    """The prefix of a phone written in international form ("+44 7911 123456", "0044…"), or None."""
    text = phone.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    if not text.startswith("+"):
        return None
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    return f"+{number.country_code}" if number.country_code else None


def looks_like_country(value: str) -> bool:
    return region_for(value) is not None
