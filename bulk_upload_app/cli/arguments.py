"""Arguments several commands share: --map, NAME:LEVEL skills, and who is acting."""

from __future__ import annotations

import argparse

from bulk_upload_app.uploads.batch import BatchProblem


def _overrides(items: list[str]) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for item in items:
        title, sep, field = item.rpartition("=")
        if not sep or not title.strip():
            raise BatchProblem(f'--map takes "TITLE=field", for example "Mail=email" or "Fax=ignore"; got "{item}".')
        overrides[title.strip()] = field.strip()
    return overrides


def _parse_skill(text: str) -> tuple[str, int]:
    name, sep, level = text.rpartition(":")
    if not sep or not name.strip() or not level.strip().isdigit():
        raise BatchProblem(f'--skill takes NAME:LEVEL, for example "Spanish:4"; got "{text}".')
    return name.strip(), int(level)


def _actor() -> str:
    import getpass

    return f"cli:{getpass.getuser()}"


def _with_map(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="TITLE=field",
        help="match the file's column TITLE to a field (firstname, lastname, email, countryprefix, phone) or "
        '"ignore"; repeatable; overrides the guess',
    )
