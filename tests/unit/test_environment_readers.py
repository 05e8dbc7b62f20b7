"""bulk_upload_app/settings.py is the one reader of the environment: for the app, the benchmarks
(bench/), the scripts and the tests' harness (tests/support/). The benchmarks import one another
without a cycle. Both read from the code itself (ast), so a new reader or cycle fails here."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.paths import REPO

SETTINGS = REPO / "bulk_upload_app" / "settings.py"
# Run by Django's own virtualenv (bench/versus_django.py), which cannot import our settings: it
# gets its database from the environment our benchmark gives it.
OUTSIDE = REPO / "scripts" / "versus_django"


def _python_files() -> list[Path]:
    roots = [REPO / "bulk_upload_app", REPO / "bench", REPO / "scripts", REPO / "tests" / "support"]
    return sorted(p for root in roots for p in root.rglob("*.py") if p != SETTINGS and OUTSIDE not in p.parents)


def _environment_reads(tree: ast.AST) -> list[int]:
    """Lines that read os.environ / os.getenv. Setting a variable (`os.environ[k] = v`,
    `os.environ.setdefault(k, v)`: for a library or a child process) is not reading it."""
    written: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            written |= {id(t.value) for t in node.targets if isinstance(t, ast.Subscript)}
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "setdefault":
            written.add(id(node.func.value))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "os":
            found += [node.lineno for alias in node.names if alias.name in ("environ", "getenv", "environb")]
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("environ", "getenv", "environb")
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
            and id(node) not in written
        ):
            found.append(node.lineno)
    return sorted(found)


def test_the_examples_of_a_read_and_a_write_are_told_apart():
    reads = "import os\na = os.environ.get('X')\nb = os.getenv('Y')\nc = {**os.environ}\nfrom os import environ\n"
    writes = "import os\nos.environ['X'] = '1'\nos.environ.setdefault('Y', '2')\n"
    assert _environment_reads(ast.parse(reads)) == [2, 3, 4, 5]
    assert _environment_reads(ast.parse(writes)) == []


def test_only_settings_reads_the_environment():
    readers = {
        f"{path.relative_to(REPO)}:{line}"
        for path in _python_files()
        for line in _environment_reads(ast.parse(path.read_text(), str(path)))
    }
    assert readers == set(), "read the environment through bulk_upload_app.settings instead"


def _bench_imports(path: Path) -> set[str]:
    """The bench modules `path` imports (inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:
                found.add(node.module.split(".")[0])
            elif node.level == 1:
                found |= {alias.name for alias in node.names}
            elif node.module and node.module.startswith("bench."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("bench.")}
    return found


def test_the_benchmarks_import_one_another_without_a_cycle():
    modules = {p.stem: p for p in (REPO / "bench").glob("*.py") if p.stem != "__init__"}
    graph = {name: _bench_imports(path) & modules.keys() for name, path in modules.items()}
    assert graph["__main__"], "bench/__main__.py dispatches to the benchmarks"
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"import cycle: {' -> '.join((*path, name))}"
        if name in done:
            return
        for imported in sorted(graph[name]):
            visit(imported, (*path, name))
        done.add(name)

    for name in sorted(graph):
        visit(name, ())
