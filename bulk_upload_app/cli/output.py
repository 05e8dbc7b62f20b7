"""What a command prints (with --json exactly one JSON document on stdout) and its exit code."""

from __future__ import annotations

import json
import sys
from typing import Any

from bulk_upload_app.errors import FileProblem
from bulk_upload_app.uploads.batch import BatchProblem

EXIT_FILE_PROBLEM = 2
EXIT_SEATS_EXCEEDED = 3
EXIT_BAD_ARGUMENTS = 4


def _emit(document: Any, as_json: bool, human: str) -> None:
    print(json.dumps(document, ensure_ascii=False) if as_json else human)


def _fail(exc: FileProblem | BatchProblem, as_json: bool, code: int) -> int:
    if isinstance(exc, FileProblem):
        error = exc.as_dict()
    else:
        error = {"code": "INVALID_ARGUMENTS", "message": str(exc)}
    if as_json:
        print(json.dumps({"error": error}, ensure_ascii=False))
    else:
        print(f"{error['code']}: {error['message']}", file=sys.stderr)
    return code


def _refuse(error: dict[str, Any], as_json: bool) -> int:
    if as_json:
        print(json.dumps({"error": error}, ensure_ascii=False))
    else:
        print(f"{error['code']}: {error['message']}", file=sys.stderr)
    return EXIT_FILE_PROBLEM
