"""No test module imports another test module (nor a conftest): what tests share lives in
tests/support/ (factories, launchers, page helpers) and fixtures in a conftest.py. Read from the
code (ast), every import, inside functions too."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.paths import REPO

TESTS = REPO / "tests"


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(path: Path, text: str | None = None) -> set[str]:
    """Every module `path` (or `text` as if it were at `path`) imports, as absolute dotted names
    (`from a import b` counts a.b too, since b may be a module)."""
    package = _module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else _module_name(path)
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text() if text is None else text, str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names}
    return found


def _is_test_module(name: str) -> bool:
    parts = name.split(".")
    return parts[0] == "tests" and (parts[-1].startswith("test_") or parts[-1] == "conftest")


def test_the_check_sees_relative_absolute_and_nested_imports():
    module = TESTS / "e2e" / "test_example.py"  # where the code below would be
    code = (
        "from .test_wizard import upload\n"
        "from tests.unit import test_reading\n"
        "def f():\n    import tests.integration.conftest\n"
        "from tests.support.factories import person\n"
        "from . import conftest\n"
    )
    found = {name for name in _imported(module, code) if _is_test_module(name)}
    assert found == {
        "tests.e2e.test_wizard",
        "tests.unit.test_reading",
        "tests.integration.conftest",
        "tests.e2e.conftest",
    }


def test_no_test_module_imports_another_test_module():
    offenders = {
        f"{path.relative_to(REPO)} imports {name}"
        for path in sorted(TESTS.rglob("*.py"))
        for name in _imported(path)
        if _is_test_module(name) and name != _module_name(path)
    }
    assert offenders == set(), "move what they share into tests/support/ (fixtures into a conftest.py)"
