"""Benchmark of the engine: `./dev.sh bench` (or `python -m bulk_upload_app.bench`).

Generates users files, then for each size and database runs, in a fresh process each
(so peak memory is that run's own): read + validate, stage (+ account checks), create with
groups, outbound numbers and skills. Prints a table and writes bench-results/engine.json.

`--api` instead compares the two headless ways in end to end, on the same file and a fresh
database each: `bulk-upload import FILE --company ID` (the CLI process, start to exit) and the HTTP
API of the real backend (`reflex run --env prod --backend-only`, one `bulk-upload worker`): POST
the file with create=true, then poll until the upload is done. Writes bench-results/api.json.

`--versus-django` compares our CLI with django-import-export on the same file (bench_versus_django).

`--search` times the Review grid's searches and page turns on staged drafts (bench_search).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from .settings import PROJECT_ROOT

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
_FIRST = ["Ada", "Grace", "Alan", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Frances", "Edsger", "José", "Zoë"]
_LAST = ["Lovelace", "Hopper", "Turing", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Thompson", "Allen", "Dijkstra"]


def generate(path: Path, rows: int, error_rate: float, seed: int = 7, run: str | None = None) -> None:
    """`run` goes into every email (a fresh one by default, so files of two runs share no address)."""
    rng = random.Random(seed)
    # Formats admins really type: national with trunk prefix, international, spaced.
    prefixes = [
        ("+44", lambda: f"07{rng.choice('45789')}{rng.randint(0, 99999999):08d}"),
        (
            "+1",
            lambda: (
                f"+1 ({rng.choice(['212', '415', '312', '617'])}) {rng.randint(200, 999)}-{rng.randint(0, 9999):04d}"
            ),
        ),
        ("+49", lambda: f"0151 {rng.randint(10000000, 99999999)}"),
        ("+61", lambda: f"04{rng.choice('0123')}{rng.randint(0, 9999999):07d}"),
    ]
    run = run or uuid.uuid4().hex[:8]
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("firstname,lastname,email,countryprefix,phone\n")
        for i in range(rows):
            prefix, phone = rng.choice(prefixes)
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            email = f"{first.lower()}.{last.lower()}.{i}.{run}@example{i % 20}.com"
            values = [first, last, email, prefix, phone() if i % 3 else ""]
            if rng.random() < error_rate:
                kind = rng.randrange(5)
                if kind == 0:
                    values[2] = f"not-an-email-{i}"
                elif kind == 1:
                    values[3] = "+999"
                elif kind == 2:
                    values[4] = "12345"
                elif kind == 3:
                    values[0] = ""
                else:
                    values[2] = f"{_FIRST[0].lower()}.{_LAST[0].lower()}.0.{run}@example0.com"  # duplicate
            out.write(",".join(f'"{v}"' if "," in v else v for v in values) + "\n")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(path: str, db_url: str | None, validate_only: bool) -> dict:
    """One measured run, in this process."""
    from .db import get_engine, session_scope
    from .importer import uploads
    from .importer.batch import batch_from_names
    from .importer.intake import parse_file, validate_file
    from .importer.reading import ReadLimits
    from .seed import seed_demo

    data = Path(path).read_bytes()
    start = time.perf_counter()
    parsed = parse_file(data, Path(path).name, ReadLimits(max_bytes=500 * 1024 * 1024, max_rows=2_000_000))
    validation = validate_file(parsed)
    result = {
        "rows": validation.rows,
        "valid": validation.valid,
        "read_validate_s": round(time.perf_counter() - start, 3),
    }
    if validate_only:
        result["peak_mb"] = round(_peak_mb())
        return result
    engine = get_engine(db_url)
    with session_scope(engine) as session:
        company_id = seed_demo(session)
        from .models import Company

        session.get(Company, company_id).seats = 10_000_000
        spec = batch_from_names(
            session,
            company_id,
            user_type="agent",
            group_names=["Sales", "Support"],
            outbound_numbers=["+442071838750", "+12025550143"],
            skills=[("English", 4), ("Spanish", 2), ("Bench skill", 3)],
        )
    start = time.perf_counter()
    with session_scope(engine) as session:
        upload = uploads.stage_upload(
            session,
            company_id=company_id,
            admin_user_id=None,
            file_name=Path(path).name,
            parsed=parsed,
            validation=validation,
        )
        uploads.configure_batch(session, company_id, upload.id, spec)
        upload_id = upload.id
    result["stage_s"] = round(time.perf_counter() - start, 3)
    result["edit_ms"] = _median_edit_ms(engine, company_id, upload_id)
    start = time.perf_counter()
    created = uploads.create_users(engine, company_id, upload_id)
    result["create_s"] = round(time.perf_counter() - start, 3)
    result["created"] = created.created
    result["failed"] = len({f["row"] for f in created.failed})
    result["peak_mb"] = round(_peak_mb())
    return result


def _median_edit_ms(engine: Engine, company_id: int, upload_id: str, edits: int = 9) -> float:
    """A cell edit in the staged draft (re-validation, duplicates across the file, counts): median ms."""
    import statistics

    from sqlalchemy import select

    from .db import session_scope
    from .importer import drafts
    from .models import BulkUploadRow

    with session_scope(engine, read_only=True) as session:
        row_ids = (
            session.execute(
                select(BulkUploadRow.id)
                .where(BulkUploadRow.upload_id == upload_id)
                .order_by(BulkUploadRow.row_number)
                .limit(edits)
            )
            .scalars()
            .all()
        )
    took = []
    for n, row_id in enumerate(row_ids):
        start = time.perf_counter()
        with session_scope(engine) as session:
            drafts.edit_cell(session, company_id, upload_id, row_id, "email", f"bench.edit.{n}@example.com")
        took.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(took), 1)


def _fresh_db(kind: str, workdir: Path, pg_url: str) -> tuple[str, callable]:
    from .migrations import upgrade

    if kind == "sqlite":
        url = f"sqlite:///{workdir / f'bench-{uuid.uuid4().hex[:6]}.db'}"
        upgrade(url)
        return url, lambda: None
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{pg_url}?options=-csearch_path%3D{schema}"
    upgrade(url)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))

    return url, drop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    parser.add_argument("--pg-url", default=os.environ.get("BULK_UPLOAD_TEST_PG_URL", DEFAULT_PG))
    parser.add_argument("--api", action="store_true", help="the HTTP API's end-to-end time next to the CLI's")
    parser.add_argument(
        "--versus-django",
        action="store_true",
        help="our CLI validate + import against django-import-export preview + import, same file (see bench_versus_django)",
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
        "--search", action="store_true", help="the Review grid's searches and page turns (see bench_search)"
    )
    parser.add_argument("--repeat", type=int, default=5, help="--search: runs of each query (median)")
    parser.add_argument(
        "--process",
        type=int,
        metavar="ROWS",
        help="time each phase of judging one ROWS-row file by the job function (bench_processing)",
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
    args = parser.parse_args(argv)
    if args.one:
        path, url, validate_only = args.one
        print(json.dumps(run_one(path, None if url == "-" else url, validate_only == "1")))
        return 0

    if args.search:
        from .bench_search import search_bench

        sizes = [int(s) for s in (args.sizes or "100000,1000000").split(",") if s]
        return search_bench(sizes, [d for d in args.databases.split(",") if d], args.pg_url, args.repeat)
    if args.process_one:
        from .bench_processing import process_one

        print(json.dumps(process_one(args.process_one, via_worker=args.worker)))
        return 0
    if args.process:
        from .bench_processing import process_bench

        databases = [d for d in args.databases.split(",") if d]
        return process_bench(
            args.process, databases, args.pg_url, runs=args.runs, poll=args.poll, via_worker=args.worker
        )

    if args.versus_django:
        from .bench_versus_django import versus_django

        rows = int((args.sizes or "100000").split(",")[0])
        databases = [d for d in args.databases.split(",") if d]
        reuse = Path(args.reuse_django) if args.reuse_django else None
        configs = tuple(c for c in args.django_configs.split(",") if c)
        return versus_django(rows, args.error_rate, databases, args.pg_url, configs=configs, reuse_django=reuse)
    args.sizes = args.sizes or "10000,100000"
    if args.api:
        return api_versus_cli(
            [int(s) for s in args.sizes.split(",") if s], [d for d in args.databases.split(",") if d], args.pg_url
        )

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        plans = []
        for size in [int(s) for s in args.sizes.split(",") if s]:
            kinds = {"valid": ("valid", 0.0), "errors": ("5% errors", 0.05)}
            for label, rate in (kinds[k] for k in args.files.split(",") if k):
                file = workdir / f"users-{size}-{int(rate * 100)}.csv"
                generate(file, size, rate)
                plans += [(size, label, file, db) for db in args.databases.split(",") if db]
        if args.million:
            file = workdir / "users-1000000.csv"
            generate(file, 1_000_000, 0.05)
            plans.append((1_000_000, "5% errors, validate only", file, None))
        for size, label, file, db in plans:
            url, cleanup = _fresh_db(db, workdir, args.pg_url) if db else ("-", lambda: None)
            try:
                out = subprocess.run(
                    [sys.executable, "-m", "bulk_upload_app.bench", "--one", str(file), url, "0" if db else "1"],
                    check=True,
                    capture_output=True,
                    text=True,
                    cwd=PROJECT_ROOT,
                )
            finally:
                cleanup()
            result = {
                "size": size,
                "file": label,
                "db": db or "-",
                "file_mb": round(file.stat().st_size / 2**20, 1),
                **json.loads(out.stdout.strip().splitlines()[-1]),
            }
            results.append(result)
            print(json.dumps(result), flush=True)
    out_dir = PROJECT_ROOT / "bench-results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "engine.json").write_text(json.dumps(results, indent=2))
    print("\n| rows | file | db | read+validate s | stage s | cell edit ms | create s | created | peak MB |")
    print("|---:|---|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['size']:,} | {r['file']} | {r['db']} | {r['read_validate_s']} | {r.get('stage_s', '-')} | "
            f"{r.get('edit_ms', '-')} | {r.get('create_s', '-')} | {r.get('created', '-')} | {r['peak_mb']} |"
        )
    return 0


def _cli(env: dict[str, str], *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "bulk_upload_app", *args, "--json"],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def _company_and_env(db_url: str, workdir: Path) -> tuple[dict[str, str], int]:
    env = {
        **os.environ,
        "REFLEX_DB_URL": db_url,
        "BULK_UPLOAD_STORAGE_DIR": str(workdir / "uploads"),
        "BULK_UPLOAD_LEGACY_DASHBOARD_URL": "https://dashboard.example.com/seats",
        "BULK_UPLOAD_API_RATE_LIMIT": "1000000",
    }
    company = _cli(env, "company", "create", "--name", "Bench", "--seats", "10000000")
    return env, int(company["id"])


def _run_cli(file: Path, db_url: str, workdir: Path) -> dict:
    env, company_id = _company_and_env(db_url, workdir)
    start = time.perf_counter()
    result = _cli(env, "import", str(file), "--company", str(company_id))
    return {"cli_s": round(time.perf_counter() - start, 2), "cli_created": result["created"]}


def _run_api(file: Path, db_url: str, workdir: Path) -> dict:
    import httpx

    env, company_id = _company_and_env(db_url, workdir)
    key = _cli(env, "api-key", "create", "--company", str(company_id), "--name", "bench")["key"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env.update(
        BULK_UPLOAD_DEMO="1",
        REFLEX_WEB_WORKDIR=str(workdir / "web"),
        REFLEX_STATES_WORKDIR=str(workdir / "states"),
        REFLEX_CHECK_LATEST_VERSION="false",
        REFLEX_TELEMETRY_ENABLED="false",
        # The job queue: one worker (as `./dev.sh run` starts) in a namespace of this run.
        BULK_UPLOAD_QUEUE_URL=os.environ.get("BULK_UPLOAD_QUEUE_URL")
        or os.environ.get("BULK_UPLOAD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        BULK_UPLOAD_QUEUE_NAMESPACE=f"bulk-upload-bench-{uuid.uuid4().hex[:8]}",
    )
    log = (workdir / "api-server.log").open("w")
    processes = [
        subprocess.Popen(
            command,
            env=env,
            cwd=PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for command in (
            [sys.executable, "-m", "reflex", "run", "--env", "prod", "--backend-only", "--backend-port", str(port)],
            [sys.executable, "-m", "bulk_upload_app", "worker", "--processes", "1"],
        )
    ]
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=600) as http:
            for _ in range(600):
                try:
                    if http.get("/api/v1/openapi.json").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            start = time.perf_counter()
            with file.open("rb") as body:
                started = http.post(
                    "/api/v1/user-imports",
                    files={"file": (file.name, body, "text/csv")},
                    data={"user_type": "agent", "create": "true"},
                )
            started.raise_for_status()
            accepted_s = time.perf_counter() - start
            while True:
                found = http.get(started.headers["location"]).json()
                if found["status"] in ("done", "failed") or found["problem"]:
                    break
                time.sleep(0.25)
            took = time.perf_counter() - start
    finally:
        for process in processes:
            os.killpg(process.pid, 15)
            process.wait(timeout=30)
        log.close()
    return {
        "api_accepted_s": round(accepted_s, 2),
        "api_s": round(took, 2),
        "api_status": found["status"],
        "api_created": found["counts"]["created"],
    }


def api_versus_cli(sizes: list[int], databases: list[str], pg_url: str) -> int:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for size in sizes:
            file = workdir / f"users-{size}.csv"
            generate(file, size, 0.05)
            for db in databases:
                row: dict = {"size": size, "db": db, "file_mb": round(file.stat().st_size / 2**20, 1)}
                for run in (_run_cli, _run_api):
                    url, cleanup = _fresh_db(db, workdir, pg_url)
                    try:
                        row.update(run(file, url, workdir))
                    finally:
                        cleanup()
                row["same_created"] = row["cli_created"] == row["api_created"]
                results.append(row)
                print(json.dumps(row), flush=True)
    out_dir = PROJECT_ROOT / "bench-results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "api.json").write_text(json.dumps(results, indent=2))
    print("\n| rows | db | file MB | CLI s | API s (202 after) | created CLI / API |")
    print("|---:|---|---:|---:|---:|---|")
    for r in results:
        print(
            f"| {r['size']:,} | {r['db']} | {r['file_mb']} | {r['cli_s']} | {r['api_s']} ({r['api_accepted_s']}) | "
            f"{r['cli_created']:,} / {r['api_created']:,} |"
        )
    return 0 if all(r["same_created"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
