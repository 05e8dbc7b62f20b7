"""Many admins at once on the production setup: `./dev.sh load-test [--admins 20] [--rows 1000] [--big-admins 2] [--big-rows 1000000]`.

Starts the app as in production (a fresh PostgreSQL schema, an empty Redis database, 2 Granian
workers: the e2e harness's `production_mode`, see tests/support/app_server.py) with the development
sign-in OFF, creates one company per admin (2,000 seats each) and signs each admin in with a
token of their own (`make_token`, the shared BULK_UPLOAD_JWT_SECRET). Then, in one Chromium
with one browser context per admin, all admins at the same time: open the wizard with
?token=..., Continue, upload their own generated CSV (bench.files.generate, 0% errors,
a distinct seed and run id), Continue, Create users, Confirm, wait for "N users added".

At the same moment, `--big-admins` more admins (default 2) each upload a `--big-rows` file
(default 1,000,000 rows, ~67 MB; generated once and kept under .var/load-test/): they wait for
the first grid page and then for every row judged (Continue enabled), and create nothing. They
are the load that must not hold the small admins up: a big file must never take every job worker.

Per admin: Upload click -> first page of the grid, Confirm click -> "N users added", and the
whole run (page open -> result); per big admin: Upload click -> first page, -> every row judged. Overall: users created per second (from the first Upload click
to the last result), p50/p95 of each, errors. Afterwards the database is checked: each company
has exactly its file's valid rows as users (a big admin's: none, its draft holds every row
judged), and no email exists twice. Writes
bench-results/load.json and prints a table. Everything has a timeout; the server is stopped,
the schema dropped and the Redis database flushed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _bootstrap import REPO

from bench.files import generate
from bulk_upload_app.settings import environment, harness_settings
from tests.support.app_server import prepare_database, production_mode, server_env, start_server
from tests.support.browser import CHROMIUM_ARGS, CHROMIUM_PATH
from tests.support.dashboard import E2E_JWT_SECRET, e2e_token
from tests.support.services import ServiceMissing, socket_owner

ADMIN_USER_ID = 1  # the dashboard's user id in each token (any positive id)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return round(ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo), 2)


def create_companies(db_url: str, count: int, seats: int, run: str) -> list[int]:
    from bulk_upload_app.db import get_engine, session_scope
    from bulk_upload_app.models import Company
    from bulk_upload_app.uploads.settings_catalogue import default_settings

    with session_scope(get_engine(db_url)) as session:
        companies = [
            Company(name=f"Load {run} #{i + 1}", seats=seats, default_settings=default_settings()) for i in range(count)
        ]
        session.add_all(companies)
        session.flush()
        return [c.id for c in companies]


def check_database(db_url: str, admins: list[dict]) -> dict:
    """Each company has exactly its valid rows as users; every email exists once."""
    from sqlalchemy import func, select

    from bulk_upload_app.db import get_engine, session_scope
    from bulk_upload_app.models import BulkUpload, User

    problems = []
    with session_scope(get_engine(db_url), read_only=True) as session:
        for admin in admins:
            # Where the wait went: Upload click -> the file stored by the web worker (browser
            # upload and web side), the rest being the job (queue and worker) and the page.
            received = session.exec(
                select(func.min(BulkUpload.created_at)).where(BulkUpload.company_id == admin["company_id"])
            ).scalar_one()
            if received is not None and "upload_clicked_wall" in admin:
                admin["click_to_received_s"] = round(received.timestamp() - admin["upload_clicked_wall"], 2)
            if admin.get("big"):
                users = session.exec(
                    select(func.count()).select_from(User).where(User.company_id == admin["company_id"])
                ).scalar_one()
                drafts = session.exec(
                    select(BulkUpload.status, BulkUpload.total_rows).where(BulkUpload.company_id == admin["company_id"])
                ).all()
                if users:
                    problems.append(f"big company {admin['company_id']}: {users} users, expected none")
                if "error" not in admin and [tuple(d) for d in drafts] != [("draft", admin["rows"])]:
                    problems.append(
                        f"big company {admin['company_id']}: drafts {drafts}, expected one of {admin['rows']} rows"
                    )
                admin["users_in_db"] = users
                continue
            emails = sorted(session.exec(select(User.email).where(User.company_id == admin["company_id"])).scalars())
            expected = sorted(admin["file_emails"]) if admin.get("valid") == admin["rows"] else None
            if admin.get("valid") is not None and len(emails) != admin["valid"]:
                problems.append(f"company {admin['company_id']}: {len(emails)} users, expected {admin['valid']}")
            elif expected is not None and emails != expected:
                problems.append(f"company {admin['company_id']}: the users are not exactly the file's rows")
            admin["users_in_db"] = len(emails)
        duplicates = session.exec(select(User.email, func.count()).group_by(User.email).having(func.count() > 1)).all()
        total = session.exec(select(func.count()).select_from(User)).scalar_one()
    if duplicates:
        problems.append(f"{len(duplicates)} emails exist more than once, e.g. {duplicates[:3]}")
    return {"ok": not problems, "problems": problems, "users_total": total, "duplicate_emails": len(duplicates)}


async def run_admin(
    browser, base_url: str, redis_url: str, admin: dict, timeout_s: float, start: asyncio.Event, ready: asyncio.Event
) -> None:
    from playwright.async_api import expect

    context = await browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(timeout_s * 1000)
    slow = {"timeout": timeout_s * 1000}
    try:
        started = time.perf_counter()
        token = e2e_token(admin["company_id"], ADMIN_USER_ID, lifetime=600)
        await page.goto(f"/users/bulk-upload?token={token}")
        await expect(page.get_by_role("heading", name="Download template")).to_be_visible(**slow)
        admin["page_ready_s"] = round(time.perf_counter() - started, 2)
        tab_token = await page.evaluate("() => window.sessionStorage.getItem('token')")
        admin["worker"] = await asyncio.to_thread(socket_owner, redis_url, tab_token) if tab_token else None
        await page.get_by_role("button", name="Continue").click()
        await expect(page.get_by_role("heading", name="Upload files")).to_be_visible(**slow)
        await page.locator("#users_file input[type=file]").set_input_files(admin["file"])
        await expect(page.get_by_text(Path(admin["file"]).name)).to_be_visible(**slow)
        ready.set()
        await start.wait()  # every admin (big ones too) clicks Upload at the same moment
        clicked = time.perf_counter()
        admin["upload_clicked_at"], admin["upload_clicked_wall"] = clicked, time.time()
        await page.get_by_role("button", name="Upload files").click()
        await expect(page.get_by_role("textbox", name="email of row 2", exact=True)).to_be_visible(**slow)
        admin["upload_to_grid_s"] = round(time.perf_counter() - clicked, 2)
        await expect(page.get_by_text(f"All rows: {admin['rows']}")).to_be_visible(**slow)
        valid_text = await page.get_by_text("Valid: ", exact=False).first.inner_text()
        admin["valid"] = int(valid_text.split(":")[1].strip().replace(",", ""))

        await page.get_by_role("button", name="Continue").click()
        await page.get_by_role("button", name="Create users").click(**slow)
        dialog = page.get_by_role("alertdialog")
        await expect(dialog).to_contain_text(f"Create {admin['valid']} users?", **slow)
        confirmed = time.perf_counter()
        await dialog.get_by_role("button", name="Confirm").click()
        await expect(page.get_by_text(f"{admin['valid']} users added")).to_be_visible(**slow)
        done = time.perf_counter()
        admin["confirm_to_result_s"] = round(done - confirmed, 2)
        admin["total_s"] = round(done - started, 2)
        admin["finished_at"] = done
        admin["created"] = admin["valid"]
    except Exception as exc:
        admin["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
        admin["failed_after_s"] = round(time.perf_counter() - started, 2)
    finally:
        ready.set()  # a failed admin holds nobody up
        await context.close()


async def run_big_admin(
    browser, base_url: str, admin: dict, timeout_s: float, start: asyncio.Event, ready: asyncio.Event
) -> None:
    """Upload a big file when `start` is set (with the small admins' uploads); wait for the first
    page and for every row judged. Creates nothing."""
    from playwright.async_api import expect

    context = await browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(timeout_s * 1000)
    slow = {"timeout": timeout_s * 1000}
    try:
        started = time.perf_counter()
        token = e2e_token(admin["company_id"], ADMIN_USER_ID, lifetime=600)
        await page.goto(f"/users/bulk-upload?token={token}")
        await expect(page.get_by_role("heading", name="Download template")).to_be_visible(**slow)
        await page.get_by_role("button", name="Continue").click()
        await expect(page.get_by_role("heading", name="Upload files")).to_be_visible(**slow)
        await page.locator("#users_file input[type=file]").set_input_files(admin["file"])
        await expect(page.get_by_text(Path(admin["file"]).name)).to_be_visible(**slow)
        ready.set()
        await start.wait()
        clicked = time.perf_counter()
        admin["upload_clicked_at"], admin["upload_clicked_wall"] = clicked, time.time()
        await page.get_by_role("button", name="Upload files").click()
        await expect(page.get_by_role("textbox", name="email of row 2", exact=True)).to_be_visible(**slow)
        admin["upload_to_grid_s"] = round(time.perf_counter() - clicked, 2)
        await expect(page.get_by_role("button", name="Continue")).to_be_enabled(**slow)
        admin["upload_to_every_row_judged_s"] = round(time.perf_counter() - clicked, 2)
        await expect(page.get_by_text(f"All rows: {admin['rows']}")).to_be_visible(**slow)
        admin["finished_at"] = time.perf_counter()
    except Exception as exc:
        admin["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
        admin["failed_after_s"] = round(time.perf_counter() - started, 2)
    finally:
        ready.set()  # a failed admin holds nobody up
        await context.close()


async def drive(
    base_url: str,
    redis_url: str,
    admins: list[dict],
    big_admins: list[dict],
    timeout_s: float,
    chromium: str,
    cpu: dict,
) -> float:
    """Run every admin; `cpu` gets the CPU seconds each kind of process used from the Upload click on."""
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            started = time.perf_counter()
            # Every admin signs in and chooses their file; then all click Upload at the same moment.
            start = asyncio.Event()
            readies = [asyncio.Event() for _ in admins + big_admins]
            tasks = [
                asyncio.create_task(run_admin(browser, base_url, redis_url, a, timeout_s, start, r))
                for a, r in zip(admins, readies)
            ] + [
                asyncio.create_task(run_big_admin(browser, base_url, a, timeout_s, start, r))
                for a, r in zip(big_admins, readies[len(admins) :])
            ]
            waiting = [asyncio.create_task(r.wait()) for r in readies]
            await asyncio.wait(waiting, timeout=timeout_s)
            late = [a["admin"] for a, r in zip(admins + big_admins, readies) if not r.is_set()]
            print(
                f"[load-test] {len(readies) - len(late)} admins have chosen their file after "
                f"{time.perf_counter() - started:.1f} s; all click Upload files now"
                + (f" (not ready: admins {late})" if late else ""),
                flush=True,
            )
            cpu_before = cpu_seconds_by_process()
            start.set()
            admins = admins + big_admins
            _done, pending = await asyncio.wait(tasks, timeout=timeout_s + 120)
            cpu["by_role"] = cpu_by_role(cpu_before, cpu_seconds_by_process())
            for task in pending:
                task.cancel()
            for admin, task in zip(admins, tasks):
                if task in pending:
                    admin.setdefault("error", f"not finished within {timeout_s + 120:.0f} s")
            return time.perf_counter() - started
        finally:
            await browser.close()


# Who used the machine's CPU while the admins worked: the load (the browser) shares it with the app.
ROLES = (
    ("browser (the simulated admins)", ("chromium", "chrome", "playwright")),
    ("job workers", ("dramatiq",)),
    ("web workers", ("reflex", "granian")),
    ("PostgreSQL", ("postgres",)),
    ("Redis", ("redis-server",)),
)


def cpu_seconds_by_process() -> dict[int, tuple[str, float]]:
    """Each live process's role and the CPU seconds it used so far (from /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # gone meanwhile
        fields = stat.rsplit(")", 1)[1].split()
        role = next((name for name, marks in ROLES if any(m in command for m in marks)), "other")
        found[int(entry.name)] = (role, (int(fields[11]) + int(fields[12])) / tick)
    return found


def cpu_by_role(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds per role between two readings (a process that ended between them is not counted)."""
    used: dict[str, float] = {}
    for pid, (role, seconds) in after.items():
        earlier = before.get(pid)
        used[role] = used.get(role, 0.0) + seconds - (earlier[1] if earlier and earlier[0] == role else 0.0)
    return {role: round(seconds, 1) for role, seconds in sorted(used.items(), key=lambda item: -item[1])}


def big_file(rows: int, index: int) -> Path:
    """A big admin's file, generated once (a million rows take ~10 s) and kept in .var/load-test/."""
    path = REPO / ".var" / "load-test" / f"big-{rows}-{index + 1}-users.csv"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        generate(partial, rows, 0.0, seed=2000 + index)
        partial.rename(path)
    return path


def web_dir() -> Path:
    """A frontend build dir of its own (seeded from the e2e one), so a parallel e2e run is not disturbed."""
    if configured := harness_settings().e2e_web_dir:
        return configured
    path = REPO / ".web-e2e-load"  # .gitignore has .web-e2e*/
    if not path.exists() and (REPO / ".web-e2e" / "node_modules").exists():
        shutil.copytree(REPO / ".web-e2e", path, symlinks=True)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admins", type=int, default=20)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--seats", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--big-admins", type=int, default=2, help="admins uploading a big file at the same moment")
    parser.add_argument("--big-rows", type=int, default=1_000_000)
    parser.add_argument("--timeout", type=float, default=600, help="seconds per admin for any one step")
    parser.add_argument("--output", default=str(REPO / "bench-results" / "load.json"))
    args = parser.parse_args()

    os.environ["BULK_UPLOAD_JWT_SECRET"] = E2E_JWT_SECRET  # the server's (set by server_env) and ours
    os.environ["BULK_UPLOAD_E2E_WEB_DIR"] = str(web_dir())
    chromium = CHROMIUM_PATH
    tmp = Path(tempfile.mkdtemp(prefix="load-test-"))
    log = tmp / "server.log"
    run = time.strftime("%Y%m%d-%H%M%S")
    cpu: dict = {}
    admins = []
    for i in range(args.admins):
        path = tmp / f"admin-{i + 1:02d}-users.csv"
        generate(path, args.rows, 0.0, seed=1000 + i)
        with path.open(encoding="utf-8") as f:
            emails = [row["email"] for row in csv.DictReader(f)]
        admins.append({"admin": i + 1, "file": str(path), "rows": args.rows, "file_emails": emails})
    big_admins = [
        {"admin": args.admins + i + 1, "big": True, "file": str(big_file(args.big_rows, i)), "rows": args.big_rows}
        for i in range(args.big_admins)
    ]

    print(
        f"[load-test] {args.admins} admins x {args.rows} rows + {args.big_admins} admins x {args.big_rows} rows; "
        f"server log {log}",
        flush=True,
    )
    try:
        with production_mode(f"load-test:{os.getpid()}", workers=args.workers, schema_prefix="load") as mode:
            prepare_database(server_env(tmp, 0, mode), log)
            for admin, company in zip(admins, create_companies(mode.db_url, args.admins, args.seats, run)):
                admin["company_id"] = company
            big_companies = create_companies(mode.db_url, args.big_admins, args.big_rows, f"{run} big")
            for admin, company in zip(big_admins, big_companies):
                admin["company_id"] = company
            _process, server = start_server(tmp, log, 540, mode=mode)
            try:
                print(
                    f"[load-test] app up at {server.base_url} after {server.started_in:.1f} s "
                    f"({mode.workers} workers); driving the admins",
                    flush=True,
                )
                wall = asyncio.run(
                    drive(server.base_url, mode.redis_url, admins, big_admins, args.timeout, chromium, cpu)
                )
            finally:
                server.stop()  # the app and its job workers
            db_check = check_database(mode.db_url, admins + big_admins)
    except ServiceMissing as exc:
        print(f"[load-test] {exc}", file=sys.stderr)
        return 2

    everyone = admins + big_admins
    ok = [a for a in admins if "error" not in a]
    big_ok = [a for a in big_admins if "error" not in a]
    created = sum(a.get("created", 0) for a in ok)
    first_click = min((a["upload_clicked_at"] for a in admins if "upload_clicked_at" in a), default=None)
    last_done = max((a["finished_at"] for a in ok), default=None)
    busy = (last_done - first_click) if first_click and last_done else None
    summary = {
        "admins": args.admins,
        "rows_per_admin": args.rows,
        "workers": args.workers,
        "big_admins": args.big_admins,
        "rows_per_big_admin": args.big_rows,
        "job_settings": dict(sorted(environment("BULK_UPLOAD_WORKER").items())),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "succeeded": len(ok),
        "big_succeeded": len(big_ok),
        "errors": [{"admin": a["admin"], "error": a["error"]} for a in everyone if "error" in a],
        "users_created": created,
        "wall_s": round(wall, 1),
        "upload_to_last_result_s": round(busy, 1) if busy else None,
        "throughput_users_per_s": round(created / busy, 1) if busy else None,
        "sockets_per_worker": {
            w[:8]: sum(1 for a in admins if a.get("worker") == w)
            for w in sorted({a.get("worker") or "?" for a in admins})
        },
        "db_check": db_check,
        "cpu_seconds_by_role": cpu.get("by_role", {}),
    }
    for key in ("page_ready_s", "click_to_received_s", "upload_to_grid_s", "confirm_to_result_s", "total_s"):
        values = [a[key] for a in ok if key in a]
        summary[key] = {
            "p50": percentile(values, 0.5),
            "p95": percentile(values, 0.95),
            "max": max(values) if values else None,
            "mean": round(statistics.mean(values), 2) if values else None,
        }
    for key in ("click_to_received_s", "upload_to_grid_s", "upload_to_every_row_judged_s"):
        values = [a[key] for a in big_ok if key in a]
        summary[f"big_{key}"] = {"values": values, "max": max(values) if values else None}
    per_admin = [
        {
            k: v
            for k, v in a.items()
            if k not in ("file_emails", "upload_clicked_at", "upload_clicked_wall", "finished_at", "file")
        }
        for a in everyone
    ]
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"summary": summary, "admins": per_admin}, indent=2))

    print(
        f"\n{'admin':>5} {'company':>7} {'valid':>6} {'worker':>8} {'upload->grid s':>14} "
        f"{'confirm->result s':>17} {'total s':>8}  error"
    )
    for a in per_admin:
        if a.get("big"):
            print(
                f"{a['admin']:>5} {a.get('company_id', '-'):>7} {'big':>6} {'':>8} {a.get('upload_to_grid_s', '-'):>14} "
                f"{'all judged ' + str(a.get('upload_to_every_row_judged_s', '-')):>17} {'':>8}  {a.get('error', '')}"
            )
            continue
        print(
            f"{a['admin']:>5} {a.get('company_id', '-'):>7} {a.get('valid', '-'):>6} {(a.get('worker') or '?')[:8]:>8} "
            f"{a.get('upload_to_grid_s', '-'):>14} {a.get('confirm_to_result_s', '-'):>17} {a.get('total_s', '-'):>8}"
            f"  {a.get('error', '')}"
        )
    print()
    for key in ("click_to_received_s", "upload_to_grid_s", "confirm_to_result_s", "total_s"):
        s = summary[key]
        print(f"{key:>20}: p50 {s['p50']} s, p95 {s['p95']} s, max {s['max']} s")
    if big_admins:
        print(
            f"big admins ({len(big_ok)}/{args.big_admins} x {args.big_rows} rows): upload->stored "
            f"{summary['big_click_to_received_s']['values']} s, upload->grid "
            f"{summary['big_upload_to_grid_s']['values']} s, upload->every row judged "
            f"{summary['big_upload_to_every_row_judged_s']['values']} s"
        )
    print(
        f"users created: {created} by {len(ok)}/{args.admins} admins in {summary['upload_to_last_result_s']} s "
        f"(first Upload click -> last result): {summary['throughput_users_per_s']} users/s"
    )
    print(f"websockets per worker: {summary['sockets_per_worker']}")
    print(f"CPU seconds from the Upload click to the end, by role (2 cores): {summary['cpu_seconds_by_role']}")
    print(
        f"database check: {'OK' if db_check['ok'] else 'FAILED'} ({db_check['users_total']} users, "
        f"{db_check['duplicate_emails']} duplicate emails) {'; '.join(db_check['problems'])}"
    )
    print(f"results: {out}")
    return 0 if ok and len(ok) == len(admins) and len(big_ok) == len(big_admins) and db_check["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
