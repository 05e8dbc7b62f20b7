"""Which of our fields a column title means: the one table of titles, from every source we know.

A title is compared by its key (`normalise_title`): case, accents, spaces, punctuation and
trailing "[Required]"-style marks do not count. Entra's bulk templates put the Graph attribute
in brackets ("First name [givenName]"), so `title_keys` offers the bracketed text as well.

Each alias gives a role and a rank: rank 1 is what the title plainly means, rank 2 a fallback
used only when no rank-1 column exists (Microsoft's User principal name, Okta's login for the
email; a work phone for the phone). Roles are our fields plus two sources we derive from:
"country" (the country prefix) and "displayname" (first and last name).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

FIELDS = ("firstname", "lastname", "email", "countryprefix", "phone")
COUNTRY = "country"
DISPLAY_NAME = "displayname"
ROLES = (*FIELDS, COUNTRY, DISPLAY_NAME)

MARK_WORDS = frozenset({"required", "optional", "uploadonly", "obligatoire", "pflichtfeld", "obligatorio"})


def normalise_title(title: str) -> str:
    """The key a title is compared by: lowercase a-z/0-9 only, bracketed parts and trailing marks left out."""
    text = unicodedata.normalize("NFKD", title.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"\[[^\]]*\]|\([^)]*\)", " ", text)
    words = re.findall(r"[a-z0-9]+", text)
    while len(words) > 1 and words[-1] in MARK_WORDS:
        words.pop()
    return "".join(words)


def title_keys(title: str) -> list[str]:
    """The title's key, then the keys of its bracketed parts ("Last name [surname]" → lastname, surname)."""
    keys = [normalise_title(title)]
    keys += [
        normalise_title(inner) for inner in re.findall(r"\[([^\]]*)\]|\(([^)]*)\)", title) for inner in inner if inner
    ]
    return [k for k in dict.fromkeys(keys) if k and k not in MARK_WORDS]


@dataclass(frozen=True)
class Alias:
    role: str
    rank: int
    source: str


def _table(source: str, rank: int, **roles: tuple[str, ...]) -> list[tuple[str, Alias]]:
    return [(normalise_title(title), Alias(role, rank, source)) for role, titles in roles.items() for title in titles]


# Our own template and the near misses the template step has always accepted.
TEMPLATE = _table(
    "template",
    1,
    firstname=("firstname", "first", "givenname", "forename", "fname", "first name"),
    lastname=("lastname", "last", "surname", "familyname", "lname", "last name"),
    email=("email", "emailaddress", "mail", "e-mail"),
    countryprefix=("countryprefix", "countrycode", "callingcode", "prefix", "countrycallingcode", "dialcode"),
    phone=("phone", "phonenumber", "telephone", "tel", "mobile", "mobilenumber", "cell"),
)
# Google Workspace admin console, Users → Download users / bulk update CSV.
GOOGLE_WORKSPACE = [
    *_table(
        "google_workspace",
        1,
        firstname=("First Name [Required]",),
        lastname=("Last Name [Required]",),
        email=("Email Address [Required]",),
        phone=("Mobile Phone",),
    ),
    *_table("google_workspace", 2, phone=("Work Phone", "Home Phone", "Recovery Phone [MUST BE IN THE E.164 FORMAT]")),
]
# Microsoft 365 admin center (Active users → Export users), Entra (Download users, bulk create) and Graph.
MICROSOFT = [
    *_table(
        "microsoft",
        1,
        firstname=("First name", "givenName"),
        lastname=("Last name", "surname"),
        email=("mail", "Email", "Primary email address"),
        phone=("Mobile phone", "mobilePhone", "mobile"),
        country=("Country or region", "Country/Region", "country", "Usage location", "usageLocation"),
        displayname=("Display name", "displayName", "Name"),
    ),
    *_table(
        "microsoft",
        2,
        email=("User principal name", "userPrincipalName", "UPN", "User name"),
        phone=("Phone number", "businessPhones", "Office phone", "telephoneNumber"),
    ),
]
# Okta Directory → People → CSV export / import (the base profile's attribute names).
OKTA = [
    *_table(
        "okta",
        1,
        firstname=("firstName",),
        lastname=("lastName",),
        email=("email",),
        phone=("mobilePhone",),
        displayname=("displayName",),
    ),
    *_table("okta", 2, email=("login",), phone=("primaryPhone",)),
    # Okta's countryCode is the ISO country ("GB"); the values decide (matching._by_values).
]
# Common titles in German, French, Spanish, Portuguese, Italian, Dutch and Czech.
LANGUAGES = _table(
    "languages",
    1,
    firstname=(
        "Vorname",
        "Prénom",
        "Nombre",
        "Nome",
        "Primeiro nome",
        "Voornaam",
        "Jméno",
        "Křestní jméno",
    ),
    lastname=(
        "Nachname",
        "Familienname",
        "Nom",
        "Nom de famille",
        "Apellido",
        "Apellidos",
        "Sobrenome",
        "Apelido",
        "Cognome",
        "Achternaam",
        "Příjmení",
    ),
    email=(
        "E-Mail-Adresse",
        "Courriel",
        "Adresse e-mail",
        "Adresse mail",
        "Correo",
        "Correo electrónico",
        "Endereço de e-mail",
        "Indirizzo email",
        "E-mailadres",
        "E-mailová adresa",
    ),
    phone=(
        "Telefon",
        "Telefonnummer",
        "Handy",
        "Mobiltelefon",
        "Mobilnummer",
        "Téléphone",
        "Portable",
        "Numéro de téléphone",
        "Teléfono",
        "Móvil",
        "Celular",
        "Telefone",
        "Telemóvel",
        "Telefono",
        "Cellulare",
        "Telefoon",
        "Telefoonnummer",
        "Mobiel",
        "Mobil",
        "Telefonní číslo",
    ),
    countryprefix=(
        "Landesvorwahl",
        "Vorwahl",
        "Indicatif",
        "Indicatif pays",
        "Prefijo",
        "Prefijo internacional",
        "Prefixo",
        "DDI",
        "Prefisso",
        "Prefisso internazionale",
        "Landnummer",
        "Předvolba",
    ),
    country=("Land", "Pays", "País", "Paese", "Země", "Stát", "Country"),
    displayname=(
        "Anzeigename",
        "Nom complet",
        "Nombre completo",
        "Nome completo",
        "Weergavenaam",
        "Celé jméno",
        "Full name",
    ),
)

_ALIASES: dict[str, Alias] = {}
for _key, _alias in (*TEMPLATE, *GOOGLE_WORKSPACE, *MICROSOFT, *OKTA, *LANGUAGES):
    _known = _ALIASES.get(_key)
    if _known is None or _alias.rank < _known.rank:
        _ALIASES[_key] = _alias


def keys_for(role: str) -> list[str]:
    """Every known title key of a role."""
    return [key for key, alias in _ALIASES.items() if alias.role == role]


ALL_KEYS: tuple[str, ...] = tuple(_ALIASES)


def alias_for(title: str) -> Alias | None:
    """The best role any known source gives this title, or None."""
    found = [_ALIASES[k] for k in title_keys(title) if k in _ALIASES]
    return min(found, key=lambda a: a.rank) if found else None
