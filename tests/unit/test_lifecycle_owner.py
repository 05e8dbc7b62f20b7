"""uploads/lifecycle.py is the only module that writes where an upload is: every module of the
product is read (its syntax tree, not run) and any write of those fields elsewhere fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bulk_upload_app.uploads.lifecycle import OWNED_FIELDS

PACKAGE = Path(__file__).resolve().parents[2] / "bulk_upload_app"
OWNER = PACKAGE / "uploads" / "lifecycle.py"


def _names_bulk_upload(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Name) and n.id == "BulkUpload" for n in ast.walk(node))


def _update_target(call: ast.Call) -> ast.AST | None:
    """The table of `update(X).where(...).values(...)`: walks down the method chain to update()."""
    node: ast.AST = call.func
    while True:
        if isinstance(node, ast.Attribute):
            node = node.value
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id in ("update", "insert") and node.args:
                return node.args[0]
            node = node.func
        else:
            return None


def _assigned(target: ast.AST) -> list[ast.Attribute]:
    if isinstance(target, ast.Attribute):
        return [target]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [a for t in target.elts for a in _assigned(t)]
    return []


def writes(source: str) -> list[tuple[int, str]]:
    """Every write of an upload's lifecycle fields in `source`: (line, what)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        targets: list[ast.AST] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for attribute in (a for t in targets for a in _assigned(t)):
            # `self.status` inside a class is that class's own field (an HTTP problem's status
            # code), never an upload's: BulkUpload has no methods.
            mine = isinstance(attribute.value, ast.Name) and attribute.value.id == "self"
            if attribute.attr in OWNED_FIELDS and not mine:
                found.append((node.lineno, f"assigns .{attribute.attr}"))
        if not isinstance(node, ast.Call):
            continue
        keywords = {k.arg for k in node.keywords if k.arg} & OWNED_FIELDS
        func = node.func
        if isinstance(func, ast.Name) and func.id == "BulkUpload" and keywords:
            found.append((node.lineno, f"makes BulkUpload({', '.join(sorted(keywords))}=...)"))
        if isinstance(func, ast.Attribute) and func.attr == "values" and keywords:
            table = _update_target(node)
            if table is not None and _names_bulk_upload(table):
                found.append((node.lineno, f"updates bulk_upload set {', '.join(sorted(keywords))}"))
        if isinstance(func, ast.Name) and func.id == "setattr" and len(node.args) >= 2:
            subject, name = node.args[:2]
            # A name known only when it runs is taken for an owned one when set on an upload.
            dynamic = not isinstance(name, ast.Constant) and "upload" in ast.unparse(subject).lower()
            if dynamic or (isinstance(name, ast.Constant) and name.value in OWNED_FIELDS):
                found.append((node.lineno, f"setattr({ast.unparse(subject)}, {ast.unparse(name)})"))
    return sorted(found)


def test_only_the_lifecycle_writes_where_an_upload_is():
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {what}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != OWNER
        for line, what in writes(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], "write these through uploads/lifecycle.py:\n" + "\n".join(offenders)


@pytest.mark.parametrize(
    "source",
    [
        "upload.status = UploadStatus.DONE",
        "upload.queued_at, upload.wizard_step = None, 'settings'",
        "upload.created_count += 1",
        "x = BulkUpload(company_id=1, status='draft')",
        "session.execute(update(BulkUpload.__table__).where(c.id == 1).values(finished_at=now))",
        "session.execute(update(BulkUpload).values(cancel_requested=False))",
        "setattr(upload, 'failed_count', 3)",
        "setattr(upload, name, value)",
        "setattr(self.upload, field, value)",
    ],
)
def test_each_kind_of_write_is_caught(source):
    assert writes(source), source


@pytest.mark.parametrize(
    "source",
    [
        "self.status = status",  # an HTTP problem's own status code
        "session.execute(update(OutboxMessage.__table__).values(status='sent'))",
        "ImportStatus(status=upload.status, finished_at=upload.finished_at)",  # reading into an answer
        "step = upload.wizard_step",
        "setattr(row, 'email', value)",
        "setattr(row, column, value)",  # a staged row's cell, by the template's column name
    ],
)
def test_reads_and_other_tables_are_not_writes(source):
    assert writes(source) == []
