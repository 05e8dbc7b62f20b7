"""Running the service: `db upgrade`, `demo-seed`, `mail-catcher`, `worker`, `recover` and `purge`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bulk_upload_app.cli.output import EXIT_BAD_ARGUMENTS, _emit, _fail
from bulk_upload_app.settings import SettingsError, get_settings
from bulk_upload_app.uploads.batch import BatchProblem


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from bulk_upload_app.migrations import upgrade

    upgrade()
    print("Database is up to date.", file=sys.stderr)
    return 0


def cmd_demo_seed(args: argparse.Namespace) -> int:
    from bulk_upload_app.services import operations

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
    from bulk_upload_app.mail_catcher import serve

    directory = Path(args.dir) if args.dir else settings.mail_catcher_dir
    print(f"Catching mail on smtp://{args.host}:{args.port}, kept in {directory}", file=sys.stderr)
    serve(args.host, args.port, directory)
    return 0


def cmd_recover(args: argparse.Namespace) -> int:
    from bulk_upload_app.services import operations

    ids = operations.recover_dead_creators()
    _emit({"interrupted": ids}, args.json, "\n".join(ids) or "No upload was left creating by a stopped worker.")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from bulk_upload_app.services import operations

    try:
        operations.run_worker(processes=args.processes, threads=args.threads, queues=args.queues or ())
    except ValueError as wrong:  # a queue that does not exist
        print(f"bulk-upload worker: {wrong}", file=sys.stderr)
        return EXIT_BAD_ARGUMENTS
    return 0  # not reached: the worker replaced this process


def cmd_purge(args: argparse.Namespace) -> int:
    from bulk_upload_app.housekeeping import run_purge

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
