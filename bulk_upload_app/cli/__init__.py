"""`bulk-upload`: the engine from a terminal, for operators, scripts and benchmarks.

The parser below is the table of every command; the commands live by group: uploads.py
(template, validate, import), history.py (history, undo, audit), admin.py (company, api-key,
scim-settings), operations.py (db, demo-seed, mail-catcher, worker, recover, purge).

With --json, stdout carries exactly one JSON document; everything else goes to stderr.

Each command imports the services it uses when it runs: a process runs one command, and
`validate` need not load the job queue, SCIM or reports (seconds of start-up on a busy machine).
"""

from __future__ import annotations

import argparse
import sys

from bulk_upload_app.cli.admin import (
    cmd_api_key_create,
    cmd_api_key_list,
    cmd_api_key_revoke,
    cmd_company_create,
    cmd_scim_settings,
)
from bulk_upload_app.cli.arguments import _with_map
from bulk_upload_app.cli.history import cmd_audit, cmd_history, cmd_undo
from bulk_upload_app.cli.operations import (
    cmd_db_upgrade,
    cmd_demo_seed,
    cmd_mail_catcher,
    cmd_purge,
    cmd_recover,
    cmd_worker,
)
from bulk_upload_app.cli.uploads import cmd_import, cmd_template, cmd_validate
from bulk_upload_app.files.schema import DEFAULT_USER_TYPE, USER_TYPES
from bulk_upload_app.files.template import TEMPLATE_FORMATS


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
