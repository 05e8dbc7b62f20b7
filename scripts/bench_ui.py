"""How fast the wizard feels on a big file: `./dev.sh bench-ui [ROWS]` (default 100,000).

Starts the production build (as the e2e tests do), uploads a generated file with 5% errors
through the real page with Playwright, and times what an admin waits for:
upload click -> first page of the grid, a page turn, the "only rows with errors" filter,
a search, and a cell edit round trip (median of 5). Writes bench-results/ui.json.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from bulk_upload_app.bench import generate  # noqa: E402
from tests.e2e.conftest import CHROMIUM_ARGS, _prepare_database, _server_env, _start, _stop  # noqa: E402


def timed(action, until) -> float:  # noqa: ANN001
    start = time.perf_counter()
    action()
    until()
    return round((time.perf_counter() - start) * 1000)


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    tmp = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    log = tmp / "server.log"
    users = tmp / f"users-{rows}.csv"
    generate(users, rows, 0.05)
    _prepare_database(_server_env(tmp, 0), log)
    process, server = _start(tmp, log, 540)
    results: dict[str, object] = {"rows": rows, "file_mb": round(users.stat().st_size / 2**20, 1)}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(base_url=server.base_url, viewport={"width": 1280, "height": 900})
            page.set_default_timeout(120_000)
            expect.set_options(timeout=120_000)
            page.goto("/users/bulk-upload?step=upload")
            expect(page.get_by_role("heading", name="Upload files")).to_be_visible()
            page.locator("#users_file input[type=file]").set_input_files(str(users))
            expect(page.get_by_text(users.name)).to_be_visible()
            results["upload_click_to_first_page_ms"] = timed(
                lambda: page.get_by_role("button", name="Upload files").click(),
                lambda: expect(page.get_by_role("textbox", name="email of row 2", exact=True)).to_be_visible(),
            )
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

                def edit() -> None:
                    target.fill(fixed)
                    target.press("Tab")

                edits.append(timed(edit, lambda: expect(page.get_by_role("textbox", name=name, exact=True)).to_have_count(0)))
            results["cell_edit_round_trip_ms_median"] = statistics.median(edits) if edits else None
            results["cell_edit_round_trip_ms_all"] = edits
            page.get_by_role("switch", name="Only rows with errors").click()
            expect(page.get_by_role("textbox", name="email of row 3", exact=True)).to_be_visible()
            results["search_ms"] = timed(
                lambda: page.get_by_role("searchbox", name="Search rows").fill(needle),
                lambda: expect(page.get_by_role("textbox", name="email of row 3", exact=True)).to_have_count(0),
            )
            browser.close()
    finally:
        _stop(process, log)
    out = REPO / "bench-results"
    out.mkdir(exist_ok=True)
    (out / "ui.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
