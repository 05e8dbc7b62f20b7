"""How long the calamine child takes for a one-cell workbook: `python -m scripts.calamine_child_start [N]`.

From the checkout's root (`-m` puts it first on sys.path, so its bulk_upload_app is the one
timed). Starts the reader's `_Worker` N times on a tiny xlsx and prints the median and minimum
wall time (spawn -> answer) and the child's median CPU time (user + system, less sensitive to
a busy machine). The child's start is most of it: interpreter, site, the package chain that
`python -m` imports, python-calamine.
"""

from __future__ import annotations

import io
import resource
import statistics
import sys
import time

import xlsxwriter

from bulk_upload_app.files.reading.calamine import _Worker


def tiny_xlsx() -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out)
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["firstname", "email"])
    sheet.write_row(1, 0, ["Ann", "a@x"])
    book.close()
    return out.getvalue()


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    data = tiny_xlsx()
    _Worker(data, "xlsx").result()  # warm the page cache and the .pyc files
    wall, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        sheets = _Worker(data, "xlsx").result()
        wall.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    assert sheets[0][2] == [["firstname", "Ann"], ["email", "a@x"]], sheets
    print(
        f"{runs} runs: wall median {statistics.median(wall) * 1000:.1f} ms, min {min(wall) * 1000:.1f} ms; "
        f"child CPU median {statistics.median(cpu) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
