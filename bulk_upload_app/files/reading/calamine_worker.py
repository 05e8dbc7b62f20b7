"""The calamine child: python-calamine opens a workbook here, in a process of its own.

python-calamine is fast and right about dates, 1904 workbooks, formulas' cached values,
_xHHHH_ escapes and ODS repeats - but it trusts the file. Fuzzing found 5 KB .xls and .xlsx
files that make it abort the whole process (a Rust allocation of 96-150 GB taken from a
record count), panic, or loop forever (an ODS table without its end tag). Such a file
would take the web worker down with it. So calamine runs in a short-lived child process
with memory and CPU limits; the child turns cells into text and sends back text columns.
The parent's side (starting it, limits, timeout, reading its answer) is `calamine.py`.

Run as `python -m bulk_upload_app.files.reading.calamine_worker FMT MEMORY CPU MAX_CELLS LIB_DIR`:
the workbook's bytes on stdin; on stdout one `marshal`led dict, either
`{"sheets": [(name, visible worksheet?, text columns or None), ...]}` or
`{"error": "password" | "memory" | "too_large" | "damaged", ...}`. A crash, a kill or a
limit hit leaves stdout without that dict and the parent judges by the exit status.

This module must stay cheap to start: standard library only at import time (python-calamine
is imported after the limits are set), and nothing from this package, whose `__init__`
imports nothing either. The parent imports the cell-to-text functions from here, so there
is one definition of how a cell becomes text.
"""

import datetime
import gc
import io
import marshal
import os
import sys
import tempfile
from decimal import Decimal


def _fmt_float(value):
    """Like Excel: at most 15 significant digits, integers without ".0", never exponent form."""
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = f"{value:.15g}"
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    if text in ("-0", "-0.0"):
        return "0"
    return text


def _fmt_duration(value):
    """A duration as Excel shows it with [h]:mm:ss (255:10:10), not as a date in 1900."""
    total = value.total_seconds()
    sign = "-" if total < 0 else ""
    total = abs(total)
    micro = round((total - int(total)) * 1_000_000)
    hours, rest = divmod(int(total), 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{sign}{hours}:{minutes:02d}:{secs:02d}"
    if micro:
        text += f".{micro:06d}".rstrip("0")
    return text


def _cell_text(value):
    kind = value.__class__
    if kind is str:
        return value
    if kind is float:
        return _fmt_float(value)
    if kind is bool:
        return "TRUE" if value else "FALSE"
    if kind is int:
        return str(value)
    if kind is datetime.datetime:
        if value.microsecond:
            return value.isoformat(sep=" ")
        if value.hour == value.minute == value.second == 0:
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if kind is datetime.date:
        return value.isoformat()
    if kind is datetime.time:
        return value.isoformat()
    if kind is datetime.timedelta:
        return _fmt_duration(value)
    if value is None:
        return ""
    return str(value)


def _text_columns(rows):
    """Rows of calamine values -> columns of text (a column at a time: fast for floats)."""
    if not rows:
        return []
    width = max(map(len, rows))
    if min(map(len, rows)) != width:
        rows = [r if len(r) == width else list(r) + [""] * (width - len(r)) for r in rows]
    return [
        [
            v
            if v.__class__ is str
            else str(int(v))
            if v.__class__ is float and v.is_integer() and -1e15 < v < 1e15
            else _cell_text(v)
            for v in col
        ]
        for col in zip(*rows)
    ]


def _open(pc, data, fmt):
    try:
        return pc.CalamineWorkbook.from_object(io.BytesIO(data))
    except pc.PasswordError:
        raise
    except pc.CalamineError:
        # The in-memory open tries each format and reports only "Cannot detect file format",
        # hiding e.g. an encrypted .xls; a file with the right extension gives the real error.
        with tempfile.NamedTemporaryFile(suffix="." + fmt) as tmp:
            tmp.write(data)
            tmp.flush()
            return pc.CalamineWorkbook.from_path(tmp.name)


def _read_all(pc, data, fmt, max_cells):
    book = _open(pc, data, fmt)
    sheets = []
    for meta in book.sheets_metadata:
        visible = meta.visible == pc.SheetVisibleEnum.Visible and meta.typ == pc.SheetTypeEnum.WorkSheet
        columns = None
        if visible:
            sheet = book.get_sheet_by_name(meta.name)
            end = sheet.end
            columns = []
            if end is not None:
                rows, cols = end[0] + 1, end[1] + 1
                if rows * cols > max_cells or rows > 1_048_576 or cols > 16_384:
                    return {"error": "too_large", "sheet": meta.name, "rows": rows, "cols": cols}
                columns = _text_columns(sheet.to_python(skip_empty_area=False))
        sheets.append((meta.name, visible, columns))
    return {"sheets": sheets}


def _main(fmt, memory, cpu_seconds, max_cells, lib_dir):
    gc.disable()  # a short-lived process building millions of small objects
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    except (ImportError, ValueError, OSError):
        pass
    if lib_dir and lib_dir not in sys.path:
        sys.path.insert(0, lib_dir)
    import python_calamine as pc

    data = sys.stdin.buffer.read()
    try:
        out = _read_all(pc, data, fmt, max_cells)
    except pc.PasswordError:
        out = {"error": "password"}
    except MemoryError:
        out = {"error": "memory"}
    except BaseException as exc:  # CalamineError, a Rust panic (PanicException), anything
        out = {"error": "damaged", "detail": f"{type(exc).__name__}: {exc}"[:500]}
    sys.stdout.buffer.write(marshal.dumps(out))
    sys.stdout.flush()
    os._exit(0)  # skip freeing millions of objects one by one


def main() -> None:
    fmt, memory, cpu_seconds, max_cells, lib_dir = sys.argv[1:6]
    _main(fmt, int(memory), int(cpu_seconds), int(max_cells), lib_dir)


if __name__ == "__main__":
    main()
