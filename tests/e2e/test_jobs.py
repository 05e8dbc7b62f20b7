"""Files processed and users created by job workers (jobs.py), seen from the browser: the review
grows while a big file is judged, Continue waits for the last row, a killed worker's job is
taken over, a job can be cancelled, and an admin who leaves comes back to the running job."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from bulk_upload_app.db import get_engine, session_scope
from bulk_upload_app.leases import worker_of
from bulk_upload_app.models import BulkUpload, BulkUploadRow
from tests.support.browser import screenshot
from tests.support.processes import group_pids
from tests.support.wizard_page import open_upload_step, upload

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LONG = 1_000_000  # long enough to kill its worker, or cancel it, while it is judged
BIG = 600_000  # big enough that judging it takes a few seconds on this machine (200,000 rows: ~1.5 s since 2026-12-01)


def big_file(tmp_path, rows: int = BIG, bad_every: int = 1000):
    """`rows` users; every `bad_every`-th one has an invalid email."""
    tag = uuid.uuid4().hex[:8]
    path = tmp_path / f"big-{tag}.csv"
    lines = ["firstname,lastname,email,countryprefix,phone"]
    for i in range(rows):
        email = f"not-an-email-{i}" if i % bad_every == bad_every - 1 else f"u{i}.{tag}@example.com"
        lines.append(f"First{i},Last{i},{email},+44,")
    path.write_text("\n".join(lines) + "\n")
    return path


def all_rows_shown(page) -> int:
    text = page.locator("#draft-counts").inner_text()
    return int(re.search(r"All rows: (\d+)", text).group(1))


def upload_id_of(page) -> str:
    return page.url.rstrip("/").rsplit("/", 1)[-1]


def processing_owner(db_url: str, upload_id: str) -> str | None:
    with session_scope(get_engine(db_url), read_only=True) as session:
        return session.get(BulkUpload, upload_id).processing_owner


def test_a_big_file_is_reviewed_while_it_is_judged_and_continue_waits_for_the_last_row(page, app_server, tmp_path):
    path = big_file(tmp_path)
    open_upload_step(page)
    upload(page, path)
    progress = page.get_by_role("status").filter(has_text="rows checked")
    expect(progress).to_be_visible(timeout=60_000)
    expect(page.get_by_role("table", name="Rows of the file").get_by_role("row")).not_to_have_count(0)
    screenshot(page, "review-progressive")
    continue_button = page.get_by_role("button", name="Continue")
    seen: list[tuple[bool, int]] = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        enabled = continue_button.is_enabled()  # read first: once enabled, every row must be counted
        seen.append((enabled, all_rows_shown(page)))
        if enabled:
            break
        time.sleep(0.2)
    assert seen[-1] == (True, BIG), seen[-5:]
    growing = [count for enabled, count in seen if not enabled]
    assert growing == sorted(growing), "the counts only grow"
    assert len({c for c in growing if 0 < c < BIG}) >= 2, f"counts seen while judging: {sorted(set(growing))}"
    assert all(count == BIG for enabled, count in seen if enabled)
    expect(page.get_by_text(f"With errors: {BIG // 1000}")).to_be_visible()
    expect(progress).to_have_count(0)


def test_leaving_and_coming_back_shows_the_running_job(page, app_server, tmp_path):
    open_upload_step(page)
    upload(page, big_file(tmp_path))
    expect(page.get_by_role("status").filter(has_text="rows checked")).to_be_visible(timeout=60_000)
    draft_url = page.url
    page.goto("/users")
    expect(page.get_by_role("heading", name="Users", exact=True)).to_be_visible()
    page.goto(draft_url)
    # Still running, or finished while we were away: either way the page tells the truth.
    expect(page.get_by_text(f"All rows: {BIG}")).to_be_visible(timeout=180_000)
    expect(page.get_by_role("button", name="Continue")).to_be_enabled()


def test_a_job_whose_worker_is_killed_is_finished_by_another_worker(page, app_server, tmp_path):
    app_server.start_job_worker("big")  # the one that takes over (a long file is on the big lane)
    try:
        open_upload_step(page)
        upload(page, big_file(tmp_path, rows=LONG))
        expect(page.get_by_role("status").filter(has_text="rows checked")).to_be_visible(timeout=60_000)
        upload_id = upload_id_of(page)
        owner = processing_owner(app_server.db_url, upload_id)
        assert owner, "a worker holds the job"
        pid = int(worker_of(owner).split(":")[-2])  # host:pid:tag
        victim = next(w for w in app_server.job_workers if pid in group_pids(w.pid))
        app_server.kill_job_worker(victim)
        expect(page.get_by_text(f"All rows: {LONG}")).to_be_visible(timeout=240_000)
        expect(page.get_by_role("button", name="Continue")).to_be_enabled()
        with session_scope(get_engine(app_server.db_url), read_only=True) as session:
            staged, distinct = session.execute(
                select(func.count(), func.count(func.distinct(BulkUploadRow.row_number))).where(
                    BulkUploadRow.upload_id == upload_id
                )
            ).one()
            taken_over_by = session.get(BulkUpload, upload_id)
        assert staged == distinct == LONG  # every row once: nothing lost, nothing twice
        assert taken_over_by.status == "draft"
    finally:
        app_server.restore_job_workers()


def test_processing_can_be_cancelled(page, app_server, tmp_path):
    open_upload_step(page)
    upload(page, big_file(tmp_path, rows=LONG))
    expect(page.get_by_role("status").filter(has_text="rows checked")).to_be_visible(timeout=60_000)
    upload_id = upload_id_of(page)
    page.get_by_role("button", name="Cancel processing").click()
    expect(page.get_by_text("This upload was cancelled. Nobody was created.")).to_be_visible(timeout=60_000)
    with session_scope(get_engine(app_server.db_url), read_only=True) as session:
        upload_row = session.get(BulkUpload, upload_id)
        left = session.execute(
            select(func.count()).select_from(BulkUploadRow).where(BulkUploadRow.upload_id == upload_id)
        ).scalar_one()
    assert upload_row.status == "cancelled" and left == 0
