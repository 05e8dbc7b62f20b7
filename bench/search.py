"""Benchmark of a draft's Review grid queries: `python -m bench --search`.

For each database and size, stages a generated file (5% errors) as the worker does
(pipeline.draft_from_file, ANALYZE included), edits one row in the middle --repeat times (the
last edit gives it a rare first name), then times drafts.page() — the query behind the grid — for searches and page turns:
median of --repeat runs, each in its own read-only session as the web worker's. Also times
staging and deleting the draft's rows (staging.delete_rows, as cancel, a replaced
file and the retention purge do). Prints a table; writes bench-results/search.json.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.databases import fresh_db, results_dir
from bench.files import generate

RARE_FIRST_NAME = "Xiomara"  # in no generated file: the edited row is its only one


def _cases(email_of_row_2: str) -> list[tuple[str, dict]]:
    return [
        ("exact email of row 2", {"search": email_of_row_2}),
        ('common term "example"', {"search": "example"}),
        (f'rare first name "{RARE_FIRST_NAME}"', {"search": RARE_FIRST_NAME}),
        ('2 characters "zo"', {"search": "zo"}),
        ('2 characters, none "qj"', {"search": "qj"}),
        ('only errors + "lovelace"', {"search": "lovelace", "only_errors": True}),
        ("no term, offset 0", {}),
        ("no term, offset 50", {"offset": 50}),
        ("no term, offset 5000", {"offset": 5000}),
        ("only errors, offset 5000", {"only_errors": True, "offset": 5000}),
    ]


def measure(db: str, size: int, file: Path, workdir: Path, pg_url: str, repeat: int) -> list[dict]:
    from sqlalchemy import select

    from bulk_upload_app.db import get_engine, session_scope
    from bulk_upload_app.files.reading import ReadLimits
    from bulk_upload_app.models import BulkUploadRow, Company
    from bulk_upload_app.seed import seed_demo
    from bulk_upload_app.uploads import drafts, pipeline, staging

    url, cleanup = fresh_db(db, workdir, pg_url)
    engine = get_engine(url)
    try:
        with session_scope(engine) as session:
            company_id = seed_demo(session)
            session.get(Company, company_id).seats = 10_000_000
        start = time.perf_counter()
        upload_id = pipeline.draft_from_file(
            engine,
            company_id=company_id,
            admin_user_id=None,
            file_name=file.name,
            data=file.read_bytes(),
            limits=ReadLimits(max_bytes=500 * 1024 * 1024, max_rows=2_000_000),
        )
        results = [{"case": "stage the file (worker, chunked)", "ms": round((time.perf_counter() - start) * 1000)}]
        with session_scope(engine, read_only=True) as session:
            row = BulkUploadRow
            mine = row.upload_id == upload_id
            email = session.execute(select(row.email).where(mine, row.row_number == 2)).scalar_one()
            middle = session.execute(select(row.id).where(mine, row.row_number == size // 2 + 1)).scalar_one()
        took = []
        for n in range(repeat):  # the last edit leaves the rare first name
            start = time.perf_counter()
            with session_scope(engine) as session:
                value = RARE_FIRST_NAME if n == repeat - 1 else f"Edit{n}"
                drafts.edit_cell(session, company_id, upload_id, middle, "firstname", value)
            took.append((time.perf_counter() - start) * 1000)
        results.append({"case": "cell edit (first name)", "ms": round(statistics.median(took), 1)})
        for name, kwargs in _cases(email):
            took = []
            for _ in range(repeat):
                start = time.perf_counter()
                with session_scope(engine, read_only=True) as session:
                    rows, total = drafts.page(session, company_id, upload_id, **kwargs)
                took.append((time.perf_counter() - start) * 1000)
            results.append(
                {"case": name, "ms": round(statistics.median(took), 1), "matches": total, "page_rows": len(rows)}
            )
        start = time.perf_counter()
        with session_scope(engine) as session:
            staging.delete_rows(session, upload_id)
        results.append({"case": "delete the draft's rows", "ms": round((time.perf_counter() - start) * 1000)})
        return [{"db": db, "rows": size, **r} for r in results]
    finally:
        engine.dispose()
        cleanup()


def search_bench(sizes: list[int], databases: list[str], pg_url: str, repeat: int) -> int:
    load = os.getloadavg()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for size in sizes:
            file = workdir / f"users-{size}.csv"
            generate(file, size, 0.05)
            for db in databases:
                for result in measure(db, size, file, workdir, pg_url, repeat):
                    results.append(result)
                    print(json.dumps(result), flush=True)
    report = {"load_average_before": load, "load_average_after": os.getloadavg(), "repeat": repeat, "results": results}
    (results_dir() / "search.json").write_text(json.dumps(report, indent=2))
    columns = [(db, size) for size in sizes for db in databases]
    print(f"\nmedian of {repeat}, ms; load average {load[0]:.2f} before, {os.getloadavg()[0]:.2f} after")
    print("| case | " + " | ".join(f"{db} {size:,}" for db, size in columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for case in dict.fromkeys(r["case"] for r in results):
        cells = {(r["db"], r["rows"]): r for r in results if r["case"] == case}
        print(f"| {case} | " + " | ".join(str(cells[c]["ms"]) if c in cells else "-" for c in columns) + " |")
    return 0
