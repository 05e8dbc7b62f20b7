"""How fast the wizard feels on a big file: `./dev.sh bench-ui [ROWS] [--database sqlite|postgres]`.

Starts the production build with its job workers (as the e2e tests do; `postgres`: PostgreSQL,
Redis, 2 web workers, 2 job workers, token sign-in), uploads a generated file with 5% errors
through the real page with Playwright, and times what an admin waits for: upload click -> first
page of the grid (and from the end of the file's transfer), upload click -> every row judged (Continue enabled), a page turn, the "only
rows with errors" filter, a search, and a cell edit round trip (median of 5). A
PerformanceObserver records the page's long tasks (main thread busy > 50 ms) while the file is
judged: the longest is reported. Writes bench-results/ui-ROWS-DATABASE.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import tempfile
import time
from pathlib import Path

from _bootstrap import REPO
from playwright.sync_api import expect, sync_playwright

from bulk_upload_app.bench import generate
from tests.support.app_server import Mode, prepare_database, production_mode, server_env, start_server
from tests.support.browser import CHROMIUM_ARGS, CHROMIUM_PATH, sign_in_with_token


def timed(action, until) -> float:
    start = time.perf_counter()
    action()
    until()
    return round((time.perf_counter() - start) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "rows", nargs="?", type=int, default=100_000, help="rows of the generated file (default 100,000)"
    )
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    rows = args.rows
    tmp = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    log = tmp / "server.log"
    users = tmp / f"users-{rows}.csv"
    generate(users, rows, 0.05)
    with contextlib.ExitStack() as stack:
        mode = stack.enter_context(production_mode("bench-ui")) if args.database == "postgres" else Mode()
        prepare_database(server_env(tmp, 0, mode), log)
        _process, server = start_server(tmp, log, 540, mode=mode)
        stack.callback(server.stop)
        results = measure(server, users, rows)
    results["database"] = args.database
    out = REPO / "bench-results"
    out.mkdir(exist_ok=True)
    (out / f"ui-{rows}-{args.database}.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


# Long tasks (> 50 ms on the main thread) of the page, collected from its first script on.
LONGTASKS = """
window.__longtasks = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) window.__longtasks.push(Math.round(entry.duration));
}).observe({type: "longtask", buffered: true});
"""


def measure(server, users: Path, rows: int) -> dict[str, object]:
    results: dict[str, object] = {"rows": rows, "file_mb": round(users.stat().st_size / 2**20, 1)}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS)
        page = browser.new_page(base_url=server.base_url, viewport={"width": 1280, "height": 900})
        page.add_init_script(LONGTASKS)
        page.set_default_timeout(300_000)
        expect.set_options(timeout=300_000)
        if server.mode.demo:
            page.goto("/users/bulk-upload?step=upload")
        else:  # signed in by the token on the wizard's own page (a new page load would need another)
            sign_in_with_token(page, server, "/users/bulk-upload")
            page.get_by_role("button", name="Continue").click()
        expect(page.get_by_role("heading", name="Upload files")).to_be_visible()
        page.locator("#users_file input[type=file]").set_input_files(str(users))
        expect(page.get_by_text(users.name)).to_be_visible()
        uploaded: list[float] = []  # when the server answered the file's POST: it had all its bytes
        page.on("response", lambda r: "/_upload" in r.url and uploaded.append(time.perf_counter()))
        start = time.perf_counter()
        page.evaluate("window.__longtasks = []")
        page.get_by_role("button", name="Upload files").click()
        expect(page.get_by_role("textbox", name="email of row 2", exact=True)).to_be_visible()
        shown = time.perf_counter()
        results["upload_click_to_first_page_ms"] = round((shown - start) * 1000)
        if uploaded:
            results["upload_ms"] = round((uploaded[0] - start) * 1000)
            results["upload_finished_to_first_page_ms"] = round((shown - uploaded[0]) * 1000)
        expect(page.get_by_role("button", name="Continue")).to_be_enabled()
        results["upload_click_to_every_row_judged_ms"] = round((time.perf_counter() - start) * 1000)
        tasks = page.evaluate("window.__longtasks")
        results["longest_main_thread_task_ms"] = max(tasks, default=0)
        results["long_tasks_while_judged"] = len(tasks)
        needle = page.get_by_role("textbox", name="email of row 2", exact=True).input_value()
        results["page_turn_ms"] = timed(
            lambda: page.get_by_role("button", name="Next page").click(),
            lambda: expect(page.get_by_role("textbox", name="email of row 52", exact=True)).to_be_visible(),
        )
        results["filter_only_errors_ms"] = timed(
            lambda: page.get_by_role("switch", name="Only rows with errors").click(),
            lambda: expect(page.locator("input[aria-invalid=true]").first).to_be_visible(),
        )
        edits = []
        for _ in range(5):
            bad = page.locator("input[aria-invalid=true][aria-label^='email of row']").first
            if bad.count() == 0:
                break
            name = bad.get_attribute("aria-label")
            target = page.get_by_role("textbox", name=name, exact=True)
            fixed = f"fixed.{time.time_ns()}@example.com"

            def edit(target=target, fixed=fixed) -> None:  # this round's cell and value, bound now
                target.fill(fixed)
                target.press("Tab")

            def gone(name=name) -> None:
                expect(page.get_by_role("textbox", name=name, exact=True)).to_have_count(0)

            edits.append(timed(edit, gone))
        results["cell_edit_round_trip_ms_median"] = statistics.median(edits) if edits else None
        results["cell_edit_round_trip_ms_all"] = edits
        page.get_by_role("switch", name="Only rows with errors").click()
        expect(page.get_by_role("textbox", name="email of row 3", exact=True)).to_be_visible()
        results["search_ms"] = timed(
            lambda: page.get_by_role("searchbox", name="Search rows").fill(needle),
            lambda: expect(page.get_by_role("textbox", name="email of row 3", exact=True)).to_have_count(0),
        )
        browser.close()
    return results


if __name__ == "__main__":
    main()
