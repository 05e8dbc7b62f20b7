"""Files of users: `template`, `validate` (check only) and `import` (create the users)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bulk_upload_app.cli.arguments import _actor, _overrides, _parse_skill
from bulk_upload_app.cli.output import EXIT_BAD_ARGUMENTS, EXIT_FILE_PROBLEM, EXIT_SEATS_EXCEEDED, _emit, _fail
from bulk_upload_app.errors import ErrorCode, FileProblem
from bulk_upload_app.files.template import template_bytes
from bulk_upload_app.uploads.batch import BatchProblem


def cmd_template(args: argparse.Namespace) -> int:
    Path(args.output).write_bytes(template_bytes(args.format))
    print(f"Wrote the {args.format} template to {args.output}.", file=sys.stderr)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from bulk_upload_app.services import imports

    try:
        found = imports.check_file(Path(args.path), args.company, _overrides(args.map))
    except FileProblem as exc:
        return _fail(exc, args.json, EXIT_FILE_PROBLEM)
    except BatchProblem as exc:
        return _fail(exc, args.json, EXIT_BAD_ARGUMENTS)
    document = {
        "rows": found.rows,
        "valid": found.valid,
        "invalid": found.invalid,
        "notices": found.notices,
        "errors": [e.as_dict() for e in found.errors],
    }
    human = "\n".join(
        [
            f"{found.rows} rows: {found.valid} valid, {found.invalid} with errors.",
            *found.notices,
            *(f"row {e.row} {e.column or ''} {e.code}: {e.message}" for e in found.errors),
        ]
    )
    _emit(document, args.json, human)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from bulk_upload_app.services import imports, notifications

    def progress(done: int, total: int) -> None:
        if not args.json or sys.stderr.isatty():
            print(f"Created {done:,} of {total:,} rows…", file=sys.stderr)

    try:
        notify = notifications.checked_addresses(args.notify)
    except notifications.BadAddress as exc:
        return _fail(BatchProblem(f"--notify: {exc}"), args.json, EXIT_BAD_ARGUMENTS)
    try:
        batch = imports.BatchByName(
            user_type=args.user_type,
            group_names=args.group,
            outbound_numbers=args.outbound_number,
            skills=[_parse_skill(s) for s in args.skill],
            settings_from_email=args.settings_from,
        )
        result = imports.import_file(
            Path(args.path),
            args.company,
            batch,
            actor=_actor(),
            on_progress=progress,
            overrides=_overrides(args.map),
            notify=notify,
        )
    except FileProblem as exc:
        return _fail(exc, args.json, EXIT_SEATS_EXCEEDED if exc.code is ErrorCode.SEATS_EXCEEDED else EXIT_FILE_PROBLEM)
    except BatchProblem as exc:
        return _fail(exc, args.json, EXIT_BAD_ARGUMENTS)
    failed = [{k: item[k] for k in ("row", "email", "code", "message")} for item in result.failed]
    if notify:
        notifications.deliver_for(result.upload_id)  # this process ends now: send its email first
    notification = notifications.notification_of(args.company, result.upload_id)
    document = {
        "upload_id": result.upload_id,
        "created": result.created,
        "failed": failed,
        "notices": result.notices,
        "notification": notification,
    }
    human = "\n".join(
        [
            f"{result.created} users added.",
            *result.notices,
            *([notification] if notification else []),
            *(f"row {f['row']} {f['email']} {f['code']}: {f['message']}" for f in failed),
        ]
    )
    _emit(document, args.json, human)
    return 0
