"""Read an uploaded users file (CSV/TSV/TXT, XLSX, XLS, ODS) into a table of text.

`read_table` turns the raw upload into a `RawTable`: the header row's cells and one text
column per header cell, with the spreadsheet row number the admin sees next to every row.
It never guesses types: every value is text, exactly as the admin typed it (numbers that a
spreadsheet stored as numbers are rendered the way Excel shows them).

Anything wrong with the file as a whole becomes a `FileProblem`; no other exception escapes.

Safety, in the order it is applied:

1. The upload size (`ReadLimits.max_bytes`) before anything else.
2. The format from the content (magic bytes), never from the name.
3. For zip-based workbooks (xlsx, ods), before any parser sees them: the number of entries,
   the declared uncompressed total, the per-entry compression ratio, then every entry is
   inflated here in bounded chunks to check its real size and CRC against the declared ones
   (a lying header cannot smuggle a bigger stream past the limits), and the worksheet XML is
   scanned for the extent of its cells. python-calamine materialises a sheet as a dense
   rows x columns grid (32 bytes a cell): two cells at A1 and XFD1048576 in a 1.5 KB xlsx make
   it try to allocate 512 GB and abort the process; an ODS declaring repeated rows/cells does
   the same. So a sheet whose grid would be far larger than its real content is refused.
4. python-calamine itself runs in a child process with memory/CPU limits and a timeout
   (see `calamine_worker`): fuzzing found small corrupt .xls/.xlsx/.ods files that make it abort(),
   panic or loop forever. The child starts parsing while step 3 runs on the other core and is
   killed if step 3 refuses the file.
5. Rows, columns and cell length limits on the table read.

CSV/TSV text is decoded strictly (UTF-8, UTF-16, or Windows-1252 when it is clearly Western
European text, never with replacement characters) and parsed in-process: by polars when the
file has no quotes and plain LF/CRLF lines (most exports), else by Python's csv module.

The modules, in the order a file meets them:

- `api`: `read_table`, the entry point, and its promise (a table or a `FileProblem`).
- `limits`: `ReadLimits`, `RawTable` and the hard caps; `problems`: the reader's problems and
  the formatting of their messages.
- `reader`: picks the path from the content and assembles the `RawTable`.
- `decoding` (text encodings, the mojibake guard, markup/binary refusal) and `delimited`
  (the delimiter, CSV parsing) for text.
- `zips` (zip-bomb guards, verified inflation), `sheet_scans` (xlsx/ods extent pre-scans)
  and `ole` (.xls stream names) for workbooks, which `calamine` hands to the
  `calamine_worker` child process.

This `__init__` imports nothing until a name is used: the calamine child imports the package
on its way to `calamine_worker` (`python -m`) and must start without polars.
"""

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers know the name)

__all__ = ["RawTable", "ReadLimits", "read_table"]

if TYPE_CHECKING:
    from bulk_upload_app.files.reading.api import read_table
    from bulk_upload_app.files.reading.limits import RawTable, ReadLimits

_EXPORTS = {"RawTable": "limits", "ReadLimits": "limits", "read_table": "api"}


def __getattr__(name: str):
    """Import the public names on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
