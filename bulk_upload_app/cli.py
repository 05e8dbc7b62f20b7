"""`bulk-upload`: the engine from a terminal, for operators, scripts and benchmarks.

With --json, stdout carries exactly one JSON document; everything else goes to stderr.

Each command imports the services it uses when it runs: a process runs one command, and
`validate` need not load the job queue, SCIM or reports (seconds of start-up on a busy machine).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .importer.batch import BatchProblem
from .importer.errors import ErrorCode, FileProblem, UndoRefused, UploadNotFound, message_for
from .importer.schema import DEFAULT_USER_TYPE, USER_TYPES
from .importer.template import TEMPLATE_FORMATS, template_bytes
from .settings import SettingsError, get_settings

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


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from .migrations import upgrade

    upgrade()
    print("Database is up to date.", file=sys.stderr)
    return 0


def cmd_demo_seed(args: argparse.Namespace) -> int:
    from .services import operations

    if not get_settings().demo:
        print(
            "demo-seed: the demo company exists only in demo mode; set BULK_UPLOAD_DEMO=1 (never in production).",
            file=sys.stderr,
        )
        return 2
    company_id = operations.seed_demo_company()
    _emit({"id": company_id}, args.json, str(company_id))
    return 0


def cmd_mail_catcher(args: argparse.Namespace) -> int:
    settings = get_settings()
    if not settings.demo:
        print(
            "mail-catcher: the local mail catcher is for demo mode only; set BULK_UPLOAD_DEMO=1 "
            "(production sends through BULK_UPLOAD_SMTP_URL).",
            file=sys.stderr,
        )
        return 2
    from .mail_catcher import serve

    directory = Path(args.dir) if args.dir else settings.mail_catcher_dir
    print(f"Catching mail on smtp://{args.host}:{args.port}, kept in {directory}", file=sys.stderr)
    serve(args.host, args.port, directory)
    return 0


def cmd_company_create(args: argparse.Namespace) -> int:
    from .services import operations

    if args.seats < 0:
        return _fail(BatchProblem("--seats must be 0 or more."), args.json, EXIT_BAD_ARGUMENTS)
    company_id = operations.create_company(args.name, args.seats)
    _emit({"id": company_id}, args.json, str(company_id))
    return 0


def cmd_template(args: argparse.Namespace) -> int:
    Path(args.output).write_bytes(template_bytes(args.format))
    print(f"Wrote the {args.format} template to {args.output}.", file=sys.stderr)
    return 0


def _overrides(items: list[str]) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for item in items:
        title, sep, field = item.rpartition("=")
        if not sep or not title.strip():
            raise BatchProblem(f'--map takes "TITLE=field", for example "Mail=email" or "Fax=ignore"; got "{item}".')
        overrides[title.strip()] = field.strip()
    return overrides


def cmd_validate(args: argparse.Namespace) -> int:
    from .services import imports

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


def _parse_skill(text: str) -> tuple[str, int]:
    name, sep, level = text.rpartition(":")
    if not sep or not name.strip() or not level.strip().isdigit():
        raise BatchProblem(f'--skill takes NAME:LEVEL, for example "Spanish:4"; got "{text}".')
    return name.strip(), int(level)


def cmd_import(args: argparse.Namespace) -> int:
    from .services import imports, notifications

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


def _actor() -> str:
    import getpass

    return f"cli:{getpass.getuser()}"


def cmd_recover(args: argparse.Namespace) -> int:
    from .services import operations

    ids = operations.recover_dead_creators()
    _emit({"interrupted": ids}, args.json, "\n".join(ids) or "No upload was left creating by a stopped worker.")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from .services import operations

    try:
        operations.run_worker(processes=args.processes, threads=args.threads, queues=args.queues or ())
    except ValueError as wrong:  # a queue that does not exist
        print(f"bulk-upload worker: {wrong}", file=sys.stderr)
        return 2
    return 0  # not reached: the worker replaced this process


def cmd_audit(args: argparse.Namespace) -> int:
    from .services import operations

    story = operations.upload_story(args.upload_id)
    _emit({"upload_id": args.upload_id, "story": story}, args.json, "\n".join(story))
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from .services import history

    lines = history.history_all(args.company)
    document = [
        {
            "id": line.id,
            "file_name": line.file_name,
            "status": line.status,
            "source": line.source,
            "rows": line.rows,
            "created": line.created,
            "failed": line.failed,
            "created_at": line.created_at.isoformat(),
        }
        for line in lines
    ]
    human = "\n".join(
        f"{line.created_at:%Y-%m-%d %H:%M} {line.id} {line.status_label}: {line.file_name} ({line.source}), "
        f"{line.rows} rows, {line.created} created, {line.failed} failed"
        for line in lines
    )
    _emit(document, args.json, human or "No bulk uploads yet.")
    return 0


def cmd_undo(args: argparse.Namespace) -> int:
    from .services import history

    try:
        if args.dry_run:
            plan = history.undo_preview(args.company, args.upload_id)
        else:
            plan = history.undo_upload(args.company, args.upload_id, actor=_actor())
    except UploadNotFound:
        error = {"code": ErrorCode.UPLOAD_NOT_FOUND.value, "message": message_for(ErrorCode.UPLOAD_NOT_FOUND)}
        return _refuse(error, args.json)
    except UndoRefused as exc:
        return _refuse(exc.as_dict(), args.json)
    document = plan.as_dict()
    verb = "would remove" if args.dry_run and not plan.done else "removed"
    human = "\n".join(
        [
            f"{plan.upload_id}: {verb} {plan.removed} users; {len(plan.kept)} kept ({plan.status}).",
            *(f"kept {k.email}: {k.reason}" for k in plan.kept),
        ]
    )
    _emit(document, args.json, human)
    return 0


def _refuse(error: dict[str, Any], as_json: bool) -> int:
    if as_json:
        print(json.dumps({"error": error}, ensure_ascii=False))
    else:
        print(f"{error['code']}: {error['message']}", file=sys.stderr)
    return EXIT_FILE_PROBLEM


def cmd_api_key_create(args: argparse.Namespace) -> int:
    from .services import api_keys

    try:
        key_id, key = api_keys.create_key(args.company, args.name, created_by=_actor())
    except api_keys.ApiKeyProblem as exc:
        return _fail(BatchProblem(str(exc)), args.json, EXIT_BAD_ARGUMENTS)
    print("Keep this key now: it is stored hashed and cannot be shown again.", file=sys.stderr)
    _emit({"id": key_id, "key": key}, args.json, f"{key_id} {key}")
    return 0


def cmd_api_key_list(args: argparse.Namespace) -> int:
    from .services import api_keys

    keys = api_keys.list_keys(args.company)

    def when(moment: Any) -> str | None:
        return moment.isoformat() if moment is not None else None

    document = [
        {
            "id": k.id,
            "name": k.name,
            "prefix": k.prefix,
            "created_at": when(k.created_at),
            "created_by": k.created_by,
            "last_used_at": when(k.last_used_at),
            "revoked_at": when(k.revoked_at),
        }
        for k in keys
    ]
    human = "\n".join(
        f"{k.id} {k.prefix}… {k.name!r} created {k.created_at:%Y-%m-%d} by {k.created_by or '?'}"
        + (f", revoked {k.revoked_at:%Y-%m-%d}" if k.revoked_at else "")
        for k in keys
    )
    _emit(document, args.json, human or "No API keys yet.")
    return 0


def cmd_api_key_revoke(args: argparse.Namespace) -> int:
    from .services import api_keys

    try:
        api_keys.revoke_key(args.company, args.key_id, revoked_by=_actor())
    except api_keys.ApiKeyNotFound:
        return _refuse({"code": "API_KEY_NOT_FOUND", "message": "This company has no API key with that id."}, args.json)
    _emit({"id": args.key_id, "revoked": True}, args.json, f"{args.key_id} revoked.")
    return 0


def cmd_scim_settings(args: argparse.Namespace) -> int:
    """Show the company's SCIM defaults, or set them when any option is given."""
    from .services import scim

    changing = args.user_type or args.country_prefix or args.group or args.outbound_number or args.skill
    try:
        if changing or args.settings_from:
            current = scim.scim_defaults(args.company)
            chosen = scim.set_scim_defaults(
                args.company,
                user_type=args.user_type or current.user_type,
                country_prefix=args.country_prefix or current.country_prefix,
                group_names=args.group,
                outbound_numbers=args.outbound_number,
                skills=[_parse_skill(s) for s in args.skill],
                settings_from_email=args.settings_from,
                actor=_actor(),
            )
        else:
            chosen = scim.scim_defaults(args.company)
    except BatchProblem as exc:
        return _fail(exc, args.json, EXIT_BAD_ARGUMENTS)
    document = {"user_type": chosen.user_type, "country_prefix": chosen.country_prefix, "batch": chosen.spec.to_json()}
    human = (
        f"SCIM users are created as {chosen.user_type} users; without a phone number their country prefix is "
        f"{chosen.country_prefix}; batch: {json.dumps(chosen.spec.to_json())}"
    )
    _emit(document, args.json, human)
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    from .housekeeping import run_purge

    try:
        get_settings()
    except SettingsError as exc:
        return _fail(BatchProblem(str(exc)), args.json, EXIT_BAD_ARGUMENTS)
    result = run_purge()
    human = "\n".join(
        [
            result.summary(),
            *(f"draft deleted: {i}" for i in result.drafts_deleted),
            *(f"rows purged: {i}" for i in result.uploads_rows_purged),
            *(f"file removed: {f}" for f in result.files_removed),
        ]
    )
    _emit(result.as_dict(), args.json, human)
    return 0


def _with_map(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="TITLE=field",
        help="match the file's column TITLE to a field (firstname, lastname, email, countryprefix, phone) or "
        '"ignore"; repeatable; overrides the guess',
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bulk-upload", description="Bulk user upload from the command line.")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_json(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--json", action="store_true", help="print exactly one JSON document on stdout")
        return p

    db = sub.add_parser("db", help="database maintenance").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply migrations").set_defaults(func=cmd_db_upgrade)

    with_json(sub.add_parser("demo-seed", help="create the demo company (once); print its id")).set_defaults(
        func=cmd_demo_seed
    )

    catcher = sub.add_parser("mail-catcher", help="demo mode: a local SMTP server that keeps every message")
    catcher.add_argument("--host", default="127.0.0.1")
    catcher.add_argument("--port", type=int, default=8025)
    catcher.add_argument("--dir", help="where to keep the messages (default BULK_UPLOAD_MAIL_CATCHER_DIR, .var/mail)")
    catcher.set_defaults(func=cmd_mail_catcher)

    company = sub.add_parser("company", help="companies").add_subparsers(dest="company_command", required=True)
    create = with_json(company.add_parser("create", help="create a company"))
    create.add_argument("--name", required=True)
    create.add_argument("--seats", type=int, required=True)
    create.set_defaults(func=cmd_company_create)

    template = sub.add_parser("template", help="write the upload template")
    template.add_argument("--format", choices=TEMPLATE_FORMATS, required=True)
    template.add_argument("--output", required=True)
    template.set_defaults(func=cmd_template)

    validate = with_json(sub.add_parser("validate", help="check a users file without creating anyone"))
    validate.add_argument("path")
    validate.add_argument("--company", type=int)
    _with_map(validate)
    validate.set_defaults(func=cmd_validate)

    imp = with_json(sub.add_parser("import", help="create the users of a file"))
    imp.add_argument("path")
    imp.add_argument("--company", type=int, required=True)
    imp.add_argument("--user-type", choices=USER_TYPES, default=DEFAULT_USER_TYPE)
    imp.add_argument("--group", action="append", default=[], metavar="NAME")
    imp.add_argument("--outbound-number", action="append", default=[], metavar="E164")
    imp.add_argument("--skill", action="append", default=[], metavar="NAME:LEVEL")
    imp.add_argument("--settings-from", metavar="EMAIL", help="start from an existing user's settings")
    imp.add_argument(
        "--notify",
        action="append",
        default=[],
        metavar="EMAIL",
        help="email this address when the import finishes (counts, failed rows); repeatable",
    )
    _with_map(imp)
    imp.set_defaults(func=cmd_import)

    recover = with_json(sub.add_parser("recover", help="mark uploads whose creating worker died as interrupted"))
    recover.set_defaults(func=cmd_recover)

    purge = with_json(sub.add_parser("purge", help="delete old drafts, old uploads' rows and orphaned upload files"))
    purge.set_defaults(func=cmd_purge)

    hist = with_json(sub.add_parser("history", help="a company's bulk uploads, newest first"))
    hist.add_argument("--company", type=int, required=True)
    hist.set_defaults(func=cmd_history)

    undo = with_json(sub.add_parser("undo", help="remove the users an upload created that did not change since"))
    undo.add_argument("upload_id")
    undo.add_argument("--company", type=int, required=True)
    undo.add_argument("--dry-run", action="store_true", help="only say what would be removed and kept")
    undo.set_defaults(func=cmd_undo)

    keys = sub.add_parser("api-key", help="a company's API keys (HTTP API and SCIM)").add_subparsers(
        dest="api_key_command", required=True
    )
    key_create = with_json(keys.add_parser("create", help="make a key; printed once, stored hashed"))
    key_create.add_argument("--company", type=int, required=True)
    key_create.add_argument("--name", required=True)
    key_create.set_defaults(func=cmd_api_key_create)
    key_list = with_json(keys.add_parser("list", help="the company's keys (never the keys themselves)"))
    key_list.add_argument("--company", type=int, required=True)
    key_list.set_defaults(func=cmd_api_key_list)
    key_revoke = with_json(keys.add_parser("revoke", help="revoke a key at once"))
    key_revoke.add_argument("key_id")
    key_revoke.add_argument("--company", type=int, required=True)
    key_revoke.set_defaults(func=cmd_api_key_revoke)
    worker = sub.add_parser(
        "worker", help="process files and create users from the job queue (BULK_UPLOAD_QUEUE_URL); run one or many"
    )
    worker.add_argument("--processes", type=int, help="worker processes (default BULK_UPLOAD_WORKER_PROCESSES, 1)")
    worker.add_argument(
        "--queues",
        nargs="+",
        metavar="QUEUE",
        help="the queues it takes jobs from (default: all). A lane's pool is a worker on the lane's queues "
        "(jobs.py): small files and creates on `files creates`, big ones on `files-big creates-big`",
    )
    worker.add_argument(
        "--threads",
        type=int,
        help="jobs at once per process (default BULK_UPLOAD_WORKER_BIG_THREADS, 1, on the big lane's queues "
        "only; else BULK_UPLOAD_WORKER_THREADS, 2)",
    )
    worker.set_defaults(func=cmd_worker)

    scim_settings = with_json(
        sub.add_parser(
            "scim-settings",
            help="the user type, country prefix and batch settings of users provisioned over SCIM "
            "(shown; set with any option, groups/numbers/skills replaced as given)",
        )
    )
    scim_settings.add_argument("--company", type=int, required=True)
    scim_settings.add_argument("--user-type", choices=USER_TYPES)
    scim_settings.add_argument("--country-prefix", metavar="+CC", help="for users sent without a phone number")
    scim_settings.add_argument("--group", action="append", default=[], metavar="NAME")
    scim_settings.add_argument("--outbound-number", action="append", default=[], metavar="E164")
    scim_settings.add_argument("--skill", action="append", default=[], metavar="NAME:LEVEL")
    scim_settings.add_argument("--settings-from", metavar="EMAIL", help="start from an existing user's settings")
    scim_settings.set_defaults(func=cmd_scim_settings)

    audit = with_json(sub.add_parser("audit", help="what happened to an upload, from its audit records"))
    audit.add_argument("upload_id")
    audit.set_defaults(func=cmd_audit)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
