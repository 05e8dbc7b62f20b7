"""`./dev.sh bench [args]`, `python -m bench [args]`: the engine by default (bench.engine); `--api`,
`--versus-django`, `--search` and `--process ROWS` run the others (bench/__init__.py lists them)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bulk_upload_app.settings import harness_settings


def _parser() -> argparse.ArgumentParser:
    from bench import __doc__ as overview

    parser = argparse.ArgumentParser(
        prog="python -m bench", description=overview, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", help="rows per file, comma-separated (default 10000,100000; 100000 with --versus-django)"
    )
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--million", action="store_true", help="also validate 1,000,000 rows")
    parser.add_argument(
        "--files",
        default="valid,errors",
        help="which files of each size: valid (no errors), errors (5%% errors); e.g. --sizes 1000000 --files valid",
    )
    parser.add_argument(
        "--pg-url", default=harness_settings().pg_url, help="PostgreSQL (default: BULK_UPLOAD_TEST_PG_URL)"
    )
    parser.add_argument("--api", action="store_true", help="the HTTP API's end-to-end time next to the CLI's")
    parser.add_argument(
        "--versus-django",
        action="store_true",
        help="our CLI validate + import against django-import-export preview + import, same file (see bench.versus_django)",
    )
    parser.add_argument("--error-rate", type=float, default=0.05, help="--versus-django: share of rows with an error")
    parser.add_argument(
        "--django-configs",
        default="bulk,per-row",
        help="--versus-django: django-import-export configurations to time (bulk: use_bulk; per-row: one save a row)",
    )
    parser.add_argument(
        "--reuse-django",
        metavar="JSON",
        help="--versus-django: measure only our side; take Django's from this earlier versus-django.json",
    )
    parser.add_argument(
        "--search", action="store_true", help="the Review grid's searches and page turns (see bench.search)"
    )
    parser.add_argument("--repeat", type=int, default=5, help="--search: runs of each query (median)")
    parser.add_argument(
        "--process",
        type=int,
        metavar="ROWS",
        help="time each phase of judging one ROWS-row file by the job function (bench.processing)",
    )
    parser.add_argument("--runs", type=int, default=1, help="--process: how many times, databases alternating")
    parser.add_argument("--poll", action="store_true", help="--process: a reader polls the counts as the page does")
    parser.add_argument(
        "--worker",
        action="store_true",
        help="--process: queue the job for a real `bulk-upload worker` (BULK_UPLOAD_QUEUE_URL)",
    )
    parser.add_argument("--process-one", metavar="PATH", help=argparse.SUPPRESS)
    parser.add_argument("--one", nargs=3, metavar=("PATH", "DB_URL", "VALIDATE_ONLY"), help=argparse.SUPPRESS)
    return parser


def _listed(value: str) -> list[str]:
    return [part for part in value.split(",") if part]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    databases = _listed(args.databases)
    if args.one:
        from bench.engine import run_one

        path, url, validate_only = args.one
        print(json.dumps(run_one(path, None if url == "-" else url, validate_only == "1")))
        return 0
    if args.search:
        from bench.search import search_bench

        sizes = [int(s) for s in _listed(args.sizes or "100000,1000000")]
        return search_bench(sizes, databases, args.pg_url, args.repeat)
    if args.process_one:
        from bench.processing import process_one

        print(json.dumps(process_one(args.process_one, via_worker=args.worker)))
        return 0
    if args.process:
        from bench.processing import process_bench

        return process_bench(
            args.process, databases, args.pg_url, runs=args.runs, poll=args.poll, via_worker=args.worker
        )
    if args.versus_django:
        from bench.versus_django import versus_django

        rows = int(_listed(args.sizes or "100000")[0])
        reuse = Path(args.reuse_django) if args.reuse_django else None
        configs = tuple(_listed(args.django_configs))
        return versus_django(rows, args.error_rate, databases, args.pg_url, configs=configs, reuse_django=reuse)
    sizes = [int(s) for s in _listed(args.sizes or "10000,100000")]
    if args.api:
        from bench.api import api_versus_cli

        return api_versus_cli(sizes, databases, args.pg_url)
    from bench.engine import engine_bench

    return engine_bench(sizes, databases, _listed(args.files), args.pg_url, million=args.million)


if __name__ == "__main__":
    sys.exit(main())
