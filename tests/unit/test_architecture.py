"""ARCHITECTURE.md holds: its "What may import what" table is read from the file itself and every
import of the product (inside functions too) is checked against it, so the document and the code
cannot drift apart. Also: no import cycle between modules, and no long module without a reason.
(`settings.py` as the only reader of the environment: test_environment_readers.py.)
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "bulk_upload_app"
CHECKED_TREES = (PACKAGE, "bench")  # the product, and the benchmarks that drive it
LONG_MODULE_LINES = 400
LONG_MODULE_REASON = re.compile(r"\b400 lines\b")  # "Over 400 lines: <why>" in a long module's first lines


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for tree in CHECKED_TREES
        if (ROOT / tree).is_dir()
        for path in sorted((ROOT / tree).rglob("*.py"))
    }


@cache
def parsed(name: str) -> ast.Module:
    return ast.parse(modules()[name].read_text(), filename=str(modules()[name]))


def imports_of(name: str) -> Iterator[tuple[str, int]]:
    """Every module `name` imports (absolute name, line), at any depth of the file. `from X import y`
    counts as X.y when that is a module of ours, else as X."""
    ours = modules()
    is_package = modules()[name].name == "__init__.py"
    for node in ast.walk(parsed(name)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield (full if full in ours else base), node.lineno


# ---------------------------------------------------------------- the table of ARCHITECTURE.md


def _names(cell: str) -> list[str]:
    """`ui` / `cli.py` / `uploads/*` / `delivery.outbox` in a table cell, as dotted module names."""
    found = []
    for raw in re.findall(r"`([^`]+)`", cell):
        raw = raw.removesuffix("/*").removesuffix("/").removesuffix(".py").replace("/", ".")
        found.append(raw)
    return found


@cache
def rules() -> list[tuple[list[str], set[str], set[str]]]:
    """(subjects, may import, never imports) for each row of the table under "What may import what"."""
    text = (ROOT / "ARCHITECTURE.md").read_text()
    section = text.split("## What may import what", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        rows.append((_names(cells[0]), set(_names(cells[1])), set(_names(cells[2]))))
    assert rows, "ARCHITECTURE.md has no 'What may import what' table"
    return rows


def _under(module: str, entry: str, *, ours: bool = True) -> bool:
    """`entry` names `module` or a package holding it; ours are relative to bulk_upload_app."""
    name = f"{PACKAGE}.{entry}" if ours else entry
    return module == name or module.startswith(name + ".")


def rule_for(module: str) -> tuple[set[str], set[str]] | None:
    """The most specific row naming `module`."""
    best: tuple[int, set[str], set[str]] | None = None
    for subjects, allowed, forbidden in rules():
        for subject in subjects:
            if _under(module, subject):
                depth = subject.count(".") + 1
                if best is None or depth > best[0]:
                    best = (depth, allowed, forbidden)
    return None if best is None else (best[1], best[2])


def test_every_module_has_a_row_in_the_table():
    missing = [m for m in modules() if m.startswith(PACKAGE + ".") and rule_for(m) is None]
    assert not missing, f"modules no row of ARCHITECTURE.md's table names: {missing}"


def test_every_import_is_allowed_by_the_table():
    broken = []
    for module in modules():
        found = rule_for(module)
        if found is None:
            continue
        allowed, forbidden = found
        own_package = ".".join(module.split(".")[:2])  # bulk_upload_app.uploads for any of its modules
        for target, line in imports_of(module):
            top = target.split(".")[0]
            if top != PACKAGE:
                if any(_under(target, f, ours=False) for f in forbidden):
                    broken.append(f"{module}:{line} imports {target} (never, says the table)")
                continue
            if target in (PACKAGE, own_package) or target.startswith(own_package + "."):
                continue  # its own package
            if not any(_under(target, entry) for entry in allowed) or any(_under(target, f) for f in forbidden):
                broken.append(f"{module}:{line} imports {target}")
    assert not broken, "imports ARCHITECTURE.md's table does not allow:\n" + "\n".join(sorted(set(broken)))


def test_no_import_cycles():
    ours = modules()
    graph = {m: {t for t, _ in imports_of(m) if t in ours and t != m} for m in ours}
    # Tarjan's strongly connected components: any component of more than one module is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    # A package's __init__ importing its own modules is not a cycle between ideas.
    cycles = [c for c in cycles if not all(c[0] == m or m.startswith(c[0] + ".") for m in c[1:])]
    assert not cycles, f"import cycles: {cycles}"


def test_a_long_module_says_why_in_its_first_lines():
    long = []
    for path in modules().values():
        lines = path.read_text().splitlines()
        if len(lines) > LONG_MODULE_LINES and not any(LONG_MODULE_REASON.search(line) for line in lines[:12]):
            long.append(f"{path.relative_to(ROOT)} ({len(lines)} lines)")
    assert not long, (
        f"modules over {LONG_MODULE_LINES} lines whose first lines do not say why ('Over 400 lines: ...'): {long}"
    )


def test_the_table_forbids_what_it_should():
    """The checks above can fail: a State may not open a session, the engine may not import a web
    framework, and an undeclared module has no row."""
    ui_allowed, _ = rule_for(f"{PACKAGE}.ui.wizard.review") or (set(), set())
    assert not any(_under(f"{PACKAGE}.db", entry) for entry in ui_allowed)
    assert not any(_under(f"{PACKAGE}.models", entry) for entry in ui_allowed)
    _, engine_forbidden = rule_for(f"{PACKAGE}.uploads.creating") or (set(), set())
    assert "reflex" in engine_forbidden
    assert rule_for(f"{PACKAGE}.nowhere_declared") is None
