"""The engine, one step at a time: read + validate, stage (+ account checks), a cell edit, create
with groups, outbound numbers and skills. The default of `./dev.sh bench`.

Generates users files, then for each size and database runs each file in a fresh process (so
peak memory is that run's own: `python -m bench --one ...`). Prints a table and writes
bench-results/engine.json.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy.engine import Engine

from bench.databases import fresh_db, results_dir
from bench.files import generate
from bulk_upload_app.settings import PROJECT_ROOT


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(path: str, db_url: str | None, validate_only: bool) -> dict:
    """One measured run, in this process."""
    from bulk_upload_app.db import get_engine, session_scope
    from bulk_upload_app.files.intake import parse_file, validate_file
    from bulk_upload_app.files.reading import ReadLimits
    from bulk_upload_app.seed import seed_demo
    from bulk_upload_app.uploads import creating, staging
    from bulk_upload_app.uploads.batch import batch_from_names

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
        from bulk_upload_app.models import Company

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
        upload = staging.stage_upload(
            session,
            company_id=company_id,
            admin_user_id=None,
            file_name=Path(path).name,
            parsed=parsed,
            validation=validation,
        )
        staging.configure_batch(session, company_id, upload.id, spec)
        upload_id = upload.id
    result["stage_s"] = round(time.perf_counter() - start, 3)
    result["edit_ms"] = _median_edit_ms(engine, company_id, upload_id)
    start = time.perf_counter()
    created = creating.create_users(engine, company_id, upload_id)
    result["create_s"] = round(time.perf_counter() - start, 3)
    result["created"] = created.created
    result["failed"] = len({f["row"] for f in created.failed})
    result["peak_mb"] = round(_peak_mb())
    return result


def _median_edit_ms(engine: Engine, company_id: int, upload_id: str, edits: int = 9) -> float:
    """A cell edit in the staged draft (re-validation, duplicates across the file, counts): median ms."""
    import statistics

    from sqlalchemy import select

    from bulk_upload_app.db import session_scope
    from bulk_upload_app.models import BulkUploadRow
    from bulk_upload_app.uploads import drafts

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


def engine_bench(sizes: list[int], databases: list[str], files: list[str], pg_url: str, *, million: bool) -> int:
    """Every file of `files` (valid, errors) of each size on each database, then a million rows
    validated when `million`; a fresh database and a fresh process each."""
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        plans: list[tuple[int, str, Path, str | None]] = []
        for size in sizes:
            kinds = {"valid": ("valid", 0.0), "errors": ("5% errors", 0.05)}
            for label, rate in (kinds[k] for k in files):
                file = workdir / f"users-{size}-{int(rate * 100)}.csv"
                generate(file, size, rate)
                plans += [(size, label, file, db) for db in databases]
        if million:
            file = workdir / "users-1000000.csv"
            generate(file, 1_000_000, 0.05)
            plans.append((1_000_000, "5% errors, validate only", file, None))
        for size, label, file, db in plans:
            url, cleanup = fresh_db(db, workdir, pg_url) if db else ("-", lambda: None)
            try:
                out = subprocess.run(
                    [sys.executable, "-m", "bench", "--one", str(file), url, "0" if db else "1"],
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
    (results_dir() / "engine.json").write_text(json.dumps(results, indent=2))
    print("\n| rows | file | db | read+validate s | stage s | cell edit ms | create s | created | peak MB |")
    print("|---:|---|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['size']:,} | {r['file']} | {r['db']} | {r['read_validate_s']} | {r.get('stage_s', '-')} | "
            f"{r.get('edit_ms', '-')} | {r.get('create_s', '-')} | {r.get('created', '-')} | {r['peak_mb']} |"
        )
    return 0
