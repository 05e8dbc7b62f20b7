"""Code that tests run in OTHER processes: racing creators, racing editors, a creator to kill.

Kept in a plain module (no pytest import) so `multiprocessing` with spawn and
`python -m tests.support.concurrency_workers` can import it in a fresh interpreter.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
import traceback

# A fresh interpreter per racer: threads share one interpreter and hand each other the GIL.
_SPAWN = multiprocessing.get_context("spawn")


def _engine(url: str):
    from bulk_upload_app.db import get_engine

    return get_engine(url)


def create(url: str, company_id: int, upload_id: str, chunk_size: int, barrier, results) -> None:
    """Wait for every racer, then create an upload's users; put (upload_id, outcome) on `results`."""
    from bulk_upload_app import errors
    from bulk_upload_app.errors import FileProblem
    from bulk_upload_app.uploads import creating

    engine = _engine(url)
    engine.connect().close()  # connect before the start line, so the race is about creating
    try:
        barrier.wait(60)
        result = creating.create_users(engine, company_id, upload_id, chunk_size=chunk_size)
        results.put((upload_id, "ok", result.created, [(f["row"], f["code"]) for f in result.failed]))
    except errors.UploadBusy as exc:
        results.put((upload_id, "busy", 0, str(exc)))
    except FileProblem as exc:
        results.put((upload_id, "refused", 0, exc.as_dict()))
    except BaseException:
        results.put((upload_id, "error", 0, traceback.format_exc()))


def edit(url: str, company_id: int, upload_id: str, edits: list[tuple[int, str, str]], barrier, results) -> None:
    """Wait for the other editor, then apply each (row_id, column, value) in its own transaction."""
    from bulk_upload_app.db import session_scope
    from bulk_upload_app.uploads import drafts

    engine = _engine(url)
    engine.connect().close()
    try:
        barrier.wait(60)
        for row_id, column, value in edits:
            with session_scope(engine) as session:
                drafts.edit_cell(session, company_id, upload_id, row_id, column, value)
        results.put(("ok", len(edits)))
    except BaseException:
        results.put(("error", traceback.format_exc()))


def purge(url: str, storage_dir: str, now_iso: str, barrier, results) -> None:
    """Wait for the other purges, then run one; put what it removed on `results`."""
    from datetime import datetime
    from pathlib import Path

    from bulk_upload_app.uploads import retention

    engine = _engine(url)
    engine.connect().close()
    try:
        barrier.wait(60)
        result = retention.purge(engine, Path(storage_dir), now=datetime.fromisoformat(now_iso))
        results.put(("ok", result.drafts_deleted, result.uploads_rows_purged, result.files_removed))
    except BaseException:
        results.put(("error", traceback.format_exc()))


def undo(url: str, company_id: int, upload_id: str, barrier, results) -> None:
    """Wait for the other undoers, then undo the upload; put (removed, kept emails, status) on `results`."""
    from bulk_upload_app.db import session_scope
    from bulk_upload_app.uploads import undo as undoing

    engine = _engine(url)
    engine.connect().close()
    try:
        barrier.wait(60)
        with session_scope(engine) as session:
            plan = undoing.undo(session, company_id, upload_id, actor="racer")
        results.put(("ok", plan.removed, sorted(k.email for k in plan.kept), plan.status))
    except BaseException:
        results.put(("error", traceback.format_exc()))


def deliver(url: str, smtp_url: str, barrier, results) -> None:
    """Wait for the other deliverers, then deliver the outbox; put how many it sent on `results`."""
    from bulk_upload_app.delivery import outbox
    from bulk_upload_app.settings import load_settings

    engine = _engine(url)
    engine.connect().close()
    settings = load_settings(
        {"BULK_UPLOAD_DEMO": "1", "BULK_UPLOAD_SMTP_URL": smtp_url, "BULK_UPLOAD_MAIL_FROM": "no-reply@example.com"}
    )
    try:
        barrier.wait(60)
        results.put(("ok", outbox.deliver_due(engine, settings=settings)))
    except BaseException:
        results.put(("error", traceback.format_exc()))


def main(argv: list[str]) -> int:
    """`python -m tests.support.concurrency_workers URL COMPANY UPLOAD CHUNK`: create, printing progress.

    The kill test runs this and SIGKILLs it halfway.
    """
    from bulk_upload_app.uploads import creating

    url, company_id, upload_id, chunk_size = argv[0], int(argv[1]), argv[2], int(argv[3])

    def progress(done: int, total: int) -> None:
        print(f"{done} {total} {time.monotonic():.3f}", flush=True)

    creating.create_users(_engine(url), company_id, upload_id, chunk_size=chunk_size, on_progress=progress)
    print("finished", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


def run_racers(target, arg_lists: list[tuple], timeout: float = 120) -> list:
    """Start one process per argument tuple; they start together at a barrier; their results."""
    barrier, results = _SPAWN.Barrier(len(arg_lists)), _SPAWN.Queue()
    processes = [_SPAWN.Process(target=target, args=(*args, barrier, results)) for args in arg_lists]
    [p.start() for p in processes]
    try:
        outcomes = [results.get(timeout=timeout) for _ in processes]
    finally:
        for p in processes:
            p.join(30)
            if p.is_alive():
                p.kill()
    return outcomes
