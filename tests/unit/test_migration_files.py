"""Migration files sort in the order alembic applies them: a file's number is its place in the chain
(its revision id is the one it was born with and never changes, so databases upgrade untouched)."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

from bulk_upload_app.settings import PROJECT_ROOT


def _chain() -> list[Path]:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    scripts = ScriptDirectory.from_config(config)
    newest_first = [Path(script.path) for script in scripts.walk_revisions("base", "heads")]
    return newest_first[::-1]


def test_the_file_names_sort_in_chain_order():
    chain = _chain()
    assert [p.name for p in chain] == sorted(p.name for p in chain)


def test_every_migration_file_is_in_the_chain_and_no_number_is_taken_twice():
    chain = _chain()
    files = sorted((PROJECT_ROOT / "alembic" / "versions").glob("*.py"))
    assert {p.name for p in chain} == {p.name for p in files}
    numbers = [p.name.split("_", 1)[0] for p in chain]
    assert len(numbers) == len(set(numbers)), numbers
