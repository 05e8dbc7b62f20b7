"""The two headless ways in, end to end, on the same file and a fresh database each: `--api`.

`bulk-upload import FILE --company ID` (the CLI process, start to exit) and the HTTP API of the
real backend (`reflex run --env prod --backend-only`, one `bulk-upload worker`): POST the file with
create=true, then poll until the upload is done. Writes bench-results/api.json.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.cli_runs import cli, company_and_env
from bench.databases import fresh_db, results_dir
from bench.files import generate
from bulk_upload_app.settings import get_settings, harness_settings
from tests.support.processes import free_port, launch, serving, stop_process_group


def _run_cli(file: Path, db_url: str, workdir: Path) -> dict:
    env, company_id = company_and_env(db_url, workdir)
    start = time.perf_counter()
    result = cli(env, "import", str(file), "--company", str(company_id))
    return {"cli_s": round(time.perf_counter() - start, 2), "cli_created": result["created"]}


def _run_api(file: Path, db_url: str, workdir: Path) -> dict:
    import httpx

    env, company_id = company_and_env(db_url, workdir)
    key = cli(env, "api-key", "create", "--company", str(company_id), "--name", "bench")["key"]
    port = free_port()
    env.update(
        BULK_UPLOAD_DEMO="1",
        REFLEX_WEB_WORKDIR=str(workdir / "web"),
        REFLEX_STATES_WORKDIR=str(workdir / "states"),
        REFLEX_CHECK_LATEST_VERSION="false",
        REFLEX_TELEMETRY_ENABLED="false",
        # The job queue: one worker (as `./dev.sh run` starts) in a namespace of this run.
        BULK_UPLOAD_QUEUE_URL=get_settings().queue_url or harness_settings().redis_url,
        BULK_UPLOAD_QUEUE_NAMESPACE=f"bulk-upload-bench-{uuid.uuid4().hex[:8]}",
    )
    log = workdir / "api-server.log"
    backend = [sys.executable, "-m", "reflex", "run", "--env", "prod", "--backend-only", "--backend-port", str(port)]
    base = f"http://127.0.0.1:{port}"
    worker = launch([sys.executable, "-m", "bulk_upload_app", "worker", "--processes", "1"], log, env=env)
    try:
        with (
            serving(backend, log, [f"{base}/api/v1/openapi.json"], what="the API", timeout=120, env=env),
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=600) as http,
        ):
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
        stop_process_group(worker, log)
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
                    url, cleanup = fresh_db(db, workdir, pg_url)
                    try:
                        row.update(run(file, url, workdir))
                    finally:
                        cleanup()
                row["same_created"] = row["cli_created"] == row["api_created"]
                results.append(row)
                print(json.dumps(row), flush=True)
    (results_dir() / "api.json").write_text(json.dumps(results, indent=2))
    print("\n| rows | db | file MB | CLI s | API s (202 after) | created CLI / API |")
    print("|---:|---|---:|---:|---:|---|")
    for r in results:
        print(
            f"| {r['size']:,} | {r['db']} | {r['file_mb']} | {r['cli_s']} | {r['api_s']} ({r['api_accepted_s']}) | "
            f"{r['cli_created']:,} / {r['api_created']:,} |"
        )
    return 0 if all(r["same_created"] for r in results) else 1
