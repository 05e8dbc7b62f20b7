"""The reader: the format from the content, then the path for it (text, zip workbook, OLE
workbook), and every path's frame of strings assembled into a `RawTable` the same way
(header row, blank rows, widths, limits).
"""

from __future__ import annotations

import functools
import zipfile
from pathlib import PurePosixPath

import polars as pl

from bulk_upload_app.errors import ErrorCode, FileProblem
from bulk_upload_app.files.reading.calamine import _frame_from_columns, _Worker
from bulk_upload_app.files.reading.decoding import _decode_text, _reject_markup_and_binary_text
from bulk_upload_app.files.reading.delimited import _find_delimiter, _frame_from_text, _text_has_columns
from bulk_upload_app.files.reading.limits import _ODS_CONTENT_LIMIT, _WS, RawTable, ReadLimits
from bulk_upload_app.files.reading.ole import _ole_stream_names
from bulk_upload_app.files.reading.problems import _CallerError, _n, _size, _too_large, _unsupported, col_letter
from bulk_upload_app.files.reading.sheet_scans import (
    _check_extent,
    _check_ods_content,
    _ExactXlsxScan,
    _row_aligned,
    _XlsxSheetScan,
)
from bulk_upload_app.files.reading.zips import _inflate_entry, _open_zip, _xlsx_sheet_parts, _zip_read_small

_HEADER_SEARCH_ROWS = 30
_HEADER_JUNK = "\ufeff\u200b\u200c\u200d\u2060"  # BOM / zero-width characters in titles

_SPREADSHEET_EXTS = {".xlsx", ".xlsm", ".xls", ".ods", ".xlsb", ".xltx", ".xltm"}
_DELIMITER_NAMES = {",": "commas (,)", ";": "semicolons (;)", "\t": "tabs", "|": "vertical bars (|)"}
_FORMAT_NAMES = {
    "xlsx": "an Excel workbook (.xlsx)",
    "xls": "an Excel 97-2003 workbook (.xls)",
    "ods": "an OpenDocument spreadsheet (.ods)",
    "csv": "a CSV text file",
    "tsv": "a tab-separated text file",
}


def _normalise_header_cell(value: str) -> str:
    return " ".join(value.strip(_HEADER_JUNK).split()).strip(_HEADER_JUNK)


class _Reader:
    def __init__(self, data: bytes, filename: str, limits: ReadLimits, is_header):
        self.data = data
        self.filename = filename
        self.ext = PurePosixPath(filename.replace("\\", "/")).suffix.lower()
        self.limits = limits
        self.is_header = is_header
        self.notices: list[str] = []

    # -- entry --------------------------------------------------------------------------

    def read(self) -> RawTable:
        data, limits = self.data, self.limits
        if len(data) > limits.max_bytes:
            raise _too_large(f"it is {_size(len(data))}; the limit is {_size(limits.max_bytes)}")
        if not data:
            raise FileProblem(ErrorCode.EMPTY_FILE)
        if data[:4] == b"PK\x03\x04" or data[:4] == b"PK\x05\x06":
            return self._read_zip()
        if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
            return self._read_ole()
        self._reject_known_binary()
        return self._read_text()

    def _check_header_call(self, cells: list[str]) -> bool:
        if self.is_header is None:
            return False
        try:
            return bool(self.is_header(cells))
        except Exception as exc:
            raise _CallerError(exc) from exc

    def _name_mismatch_notice(self, fmt: str) -> None:
        expected = {
            ".xlsx": "xlsx",
            ".xlsm": "xlsx",
            ".xltx": "xlsx",
            ".xltm": "xlsx",
            ".xls": "xls",
            ".ods": "ods",
            ".csv": "csv",
            ".tsv": "tsv",
            ".txt": "csv",
        }.get(self.ext)
        same = expected == fmt or (expected in ("csv", "tsv") and fmt in ("csv", "tsv"))
        if expected is not None and not same:
            self.notices.append(f'The file is named "{self.filename}" but is {_FORMAT_NAMES[fmt]}; it was read as one.')

    # -- binary signatures ----------------------------------------------------------------

    def _reject_known_binary(self) -> None:
        head = self.data[:16]
        signatures = [
            (b"%PDF", "it is a PDF document, not a spreadsheet"),
            (b"\x89PNG", "it is an image, not a spreadsheet"),
            (b"GIF8", "it is an image, not a spreadsheet"),
            (b"\xff\xd8\xff", "it is an image, not a spreadsheet"),
            (b"\x1f\x8b", "it is a compressed (gzip) archive, not a spreadsheet"),
            (b"Rar!", "it is a RAR archive, not a spreadsheet"),
            (b"7z\xbc\xaf", "it is a 7-Zip archive, not a spreadsheet"),
            (b"{\\rtf", "it is a Rich Text (RTF) document, not a spreadsheet"),
        ]
        for magic, reason in signatures:
            if head.startswith(magic):
                raise _unsupported(reason)

    # -- zip: xlsx / ods ------------------------------------------------------------------

    def _read_zip(self) -> RawTable:
        zf, infos = _open_zip(self.data, self.limits)
        names = {info.filename for info in infos}
        lower = {n.lower(): n for n in names}
        if "mimetype" in names:
            mime = _zip_read_small(zf, self.data, zf.getinfo("mimetype"), 200).strip()
            if mime == b"application/vnd.oasis.opendocument.spreadsheet":
                return self._read_ods(zf, infos)
            if mime.startswith(b"application/vnd.oasis.opendocument.text"):
                raise _unsupported("it is an OpenDocument text document, not a spreadsheet")
            if mime.startswith(b"application/vnd.oasis.opendocument"):
                raise _unsupported("it is an OpenDocument file but not a spreadsheet (.ods)")
        if "xl/workbook.bin" in lower:
            raise _unsupported("it is an Excel Binary Workbook (.xlsb); save it as .xlsx instead")
        if any(n.startswith("xl/") for n in lower):
            return self._read_xlsx(zf, infos)
        if any(n.startswith("word/") for n in lower):
            raise _unsupported("it is a Word document, not a spreadsheet")
        if any(n.startswith("ppt/") for n in lower):
            raise _unsupported("it is a PowerPoint presentation, not a spreadsheet")
        if "index.xml" in lower or any(n.startswith("index/") for n in lower):
            raise _unsupported("it is an Apple Numbers file; export it from Numbers as CSV or Excel")
        raise _unsupported("it is a ZIP archive, not a spreadsheet")

    def _read_xlsx(self, zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> RawTable:
        # The cheap checks on the zip's directory are done. calamine now parses in its
        # sandboxed child while this process verifies every stream and measures the sheets;
        # if anything is wrong the child is killed before its result is used.
        worker = _Worker(self.data, "xlsx")
        try:
            errors_by_sheet = self._check_xlsx_parts(zf, infos)
        except BaseException:
            worker.cancel()
            raise
        self._name_mismatch_notice("xlsx")
        return self._read_workbook(worker, errors_by_sheet)

    def _check_xlsx_parts(self, zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> dict:
        sheet_parts = _xlsx_sheet_parts(zf, self.data)
        known = {info.filename for info in infos}
        part_names = set(sheet_parts.values())
        if not part_names or not part_names <= known:
            # Could not map sheets to parts: scan every XML part that is not obviously metadata.
            part_names = {
                n
                for n in known
                if n.lower().endswith(".xml")
                and n.lower().startswith("xl/")
                and not n.lower().startswith(("xl/theme/", "xl/styles", "xl/sharedstrings"))
            }
        scans: dict[str, _XlsxSheetScan] = {}
        for info in infos:
            if info.filename not in part_names:
                for _ in _inflate_entry(self.data, info, self.limits):
                    pass
                continue
            scan = _XlsxSheetScan()
            for buf, end in _row_aligned(_inflate_entry(self.data, info, self.limits)):
                scan.feed(buf, end)
            label = _sheet_label(info.filename, sheet_parts)
            if scan.canonical:
                scan.check(self.limits, label, functools.partial(_inflate_entry, self.data, info, self.limits))
            else:
                exact = _ExactXlsxScan()
                for chunk in _inflate_entry(self.data, info, self.limits):
                    exact.feed(chunk)
                exact.close()
                _check_extent(label, exact.n_cells, exact.max_row + 1, exact.max_col + 1, self.limits)
            scans[info.filename] = scan
        return {
            name: scans[part].error_cells
            for name, part in sheet_parts.items()
            if part in scans and scans[part].error_cells
        }

    def _read_ods(self, zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> RawTable:
        if "META-INF/manifest.xml" in {i.filename for i in infos}:
            manifest = b"".join(_inflate_entry(self.data, zf.getinfo("META-INF/manifest.xml"), self.limits))
            if b"encryption-data" in manifest:
                raise _unsupported("the spreadsheet is password-protected")
        worker = _Worker(self.data, "ods")  # parses while the streams are verified here
        try:
            content = None
            for info in infos:
                if info.filename == "content.xml":
                    # The ODS checks need the whole XML in memory: cap it, so a file under the zip
                    # guards can't cost a gigabyte (a 500 MB content.xml peaked at 1,070 MB).
                    parts, size = [], 0
                    for chunk in _inflate_entry(self.data, info, self.limits):
                        size += len(chunk)
                        if size > _ODS_CONTENT_LIMIT:
                            raise FileProblem(
                                ErrorCode.FILE_TOO_LARGE,
                                reason=(
                                    f"its sheet data is over {_ODS_CONTENT_LIMIT // 2**20} MB, the most we read from an "
                                    "OpenDocument file; save it as .xlsx or .csv"
                                ),
                            )
                        parts.append(chunk)
                    content = b"".join(parts)
                    del parts
                else:
                    for _ in _inflate_entry(self.data, info, self.limits):
                        pass
            if content is None:
                raise _unsupported("the OpenDocument spreadsheet is damaged (it has no content)")
            _check_ods_content(content, self.limits)
            del content
        except BaseException:
            worker.cancel()
            raise
        self._name_mismatch_notice("ods")
        return self._read_workbook(worker, {})

    # -- OLE: xls, or a password-protected OOXML ------------------------------------------

    def _read_ole(self) -> RawTable:
        streams = _ole_stream_names(self.data)
        if "EncryptionInfo" in streams or "EncryptedPackage" in streams:
            raise _unsupported("the workbook is password-protected")
        if "WordDocument" in streams:
            raise _unsupported("it is a Word document, not a spreadsheet")
        if "PowerPoint Document" in streams:
            raise _unsupported("it is a PowerPoint presentation, not a spreadsheet")
        self._name_mismatch_notice("xls")
        return self._read_workbook(_Worker(self.data, "xls"), {})

    # -- workbooks (via python-calamine) ----------------------------------------------------

    def _read_workbook(self, worker: _Worker, error_cells: dict[str, dict[tuple[int, int], str]]) -> RawTable:
        sheets = worker.result()
        chosen: tuple[str, pl.DataFrame] | None = None
        first_nonempty: tuple[str, pl.DataFrame] | None = None
        matched = False
        for name, visible, columns in sheets:
            if not visible or not columns:
                continue
            for (r, c), text in (error_cells.get(name) or {}).items():
                if c < len(columns) and r < len(columns[c]) and columns[c][r] == "":
                    columns[c][r] = text
            frame = _frame_from_columns(columns)
            nonblank = frame.filter(pl.any_horizontal(pl.col(c).str.strip_chars(_WS) != "" for c in frame.columns[:-1]))
            if nonblank.height == 0:
                continue
            if first_nonempty is None:
                first_nonempty = (name, frame)
            if self.is_header is None:
                chosen = first_nonempty
                break
            if self._frame_has_header(nonblank.head(_HEADER_SEARCH_ROWS)):
                chosen = (name, frame)
                matched = True
                break
        if chosen is None:
            chosen = first_nonempty
        if chosen is None:
            raise FileProblem(ErrorCode.EMPTY_FILE)
        name, frame = chosen
        if len(sheets) > 1:
            if matched:
                why = "the first sheet with the template's column titles"
            elif self.is_header is not None:
                why = "the first sheet with data; no sheet has the template's column titles"
            else:
                why = "the first sheet with data"
            self.notices.append(f'Read the sheet "{name}" ({why}).')
        return self._assemble(frame, worker.fmt, sheet_name=name, encoding=None, delimiter=None)

    def _frame_has_header(self, head: pl.DataFrame) -> bool:
        for row in head.select(pl.exclude("row")).rows():
            cells = [v.strip(_WS) for v in row]
            while cells and not cells[-1]:
                cells.pop()
            if self._check_header_call([_normalise_header_cell(c) for c in cells]):
                return True
        return False

    # -- text -------------------------------------------------------------------------------

    def _read_text(self) -> RawTable:
        text, encoding = _decode_text(self.data)
        if encoding == "cp1252":
            self.notices.append("The file is encoded as Windows-1252; it was converted.")
        elif encoding.startswith("utf-16"):
            self.notices.append("The file is encoded as UTF-16; it was converted.")
        if not text.strip(_WS):
            raise FileProblem(ErrorCode.EMPTY_FILE)
        _reject_markup_and_binary_text(text)
        decoded = text
        text, delimiter = _find_delimiter(text, self.ext)
        fmt = "tsv" if delimiter == "\t" else "csv"
        if self.ext in _SPREADSHEET_EXTS:
            # A "spreadsheet" that is really text: fine if it holds a table (web apps often
            # export CSV/TSV with an .xls name), not if it is one line of prose.
            if not _text_has_columns(text, delimiter):
                raise _unsupported(f'it is named "{self.filename}" but is not a spreadsheet (it contains plain text)')
            self.notices.append(f'The file is named "{self.filename}" but is {_FORMAT_NAMES[fmt]}; it was read as one.')
        else:
            expected = "\t" if self.ext == ".tsv" else ","
            if (delimiter != expected and self.ext != ".txt") or (self.ext == ".txt" and delimiter != "\t"):
                self.notices.append(f"The values are separated by {_DELIMITER_NAMES.get(delimiter, repr(delimiter))}.")
        same_bytes = encoding == "utf-8" and text is decoded
        frame = _frame_from_text(text, delimiter, self.limits, self.data if same_bytes else None)
        return self._assemble(frame, fmt, sheet_name=None, encoding=encoding, delimiter=delimiter)

    # -- common: frame of raw strings -> RawTable -------------------------------------------------

    def _assemble(self, frame: pl.DataFrame, fmt: str, *, sheet_name, encoding, delimiter) -> RawTable:
        limits = self.limits
        cols = [c for c in frame.columns if c != "row"]
        if not cols or frame.height == 0:
            raise FileProblem(ErrorCode.EMPTY_FILE)
        frame = frame.with_columns(pl.col(c).fill_null("").str.strip_chars(_WS) for c in cols)

        too_long = frame.filter(pl.any_horizontal(pl.col(c).str.len_chars() > limits.max_cell_chars for c in cols))
        if too_long.height:
            first = too_long.row(0, named=True)
            for i, c in enumerate(cols):
                if len(first[c]) > limits.max_cell_chars:
                    raise _too_large(
                        f"cell {col_letter(i)}{first['row']} has {_n(len(first[c]))} characters; "
                        f"a cell can hold at most {_n(limits.max_cell_chars)}"
                    )

        width = pl.max_horizontal(
            pl.when(pl.col(c) != "").then(pl.lit(i + 1, pl.Int64)).otherwise(pl.lit(0, pl.Int64))
            for i, c in enumerate(cols)
        )
        first_col = pl.min_horizontal(pl.when(pl.col(c) != "").then(pl.lit(i, pl.Int64)) for i, c in enumerate(cols))
        frame = frame.with_columns(_w=width, _f=first_col).filter(pl.col("_w") > 0)
        if frame.height == 0:
            raise FileProblem(ErrorCode.EMPTY_FILE)
        stats = frame.select(pl.col("_w").max().alias("w"), pl.col("_f").min().alias("f")).row(0)
        max_width, lead = int(stats[0]), int(stats[1])
        if max_width - lead > limits.max_columns:
            raise _too_large(f"it has {_n(max_width - lead)} columns; the limit is {_n(limits.max_columns)}")

        # The header: among the first non-blank rows, the first that looks like the titles.
        candidates = frame.head(_HEADER_SEARCH_ROWS).select(*cols, "row", "_w").rows()
        pick = 0
        if self.is_header is not None:
            for i, cand in enumerate(candidates):
                cells = [_normalise_header_cell(v) for v in cand[lead : cand[-1]]]
                if self._check_header_call(cells):
                    pick = i
                    break
        header_vals = candidates[pick]
        header_row, header_w = int(header_vals[-2]), int(header_vals[-1])
        header = [_normalise_header_cell(v) for v in header_vals[lead:header_w]]
        if pick:
            skipped = [int(c[-2]) for c in candidates[:pick]]
            span = f"{skipped[0]}" if len(skipped) == 1 else f"{skipped[0]}–{skipped[-1]}"
            noun = "Row" if len(skipped) == 1 else "Rows"
            verb = "was" if len(skipped) == 1 else "were"
            self.notices.append(f"{noun} {span} above the column titles {verb} ignored.")

        body = frame.filter(pl.col("row") > header_row)
        if body.height > limits.max_rows:
            raise _too_large(f"it has {_n(body.height)} rows; the limit is {_n(limits.max_rows)}")
        if body.height == 0:
            raise FileProblem(ErrorCode.NO_DATA_ROWS)
        extra = body.filter(pl.col("_w") > header_w).select("row", pl.col("_w") - lead)
        extra_values = {int(r): int(w) for r, w in extra.iter_rows()}
        out = body.select(
            *(pl.col(cols[lead + j]).alias(f"c{j}") for j in range(len(header))),
            pl.col("row").cast(pl.Int64),
        )
        return RawTable(
            header=header,
            data=out,
            header_row=header_row,
            extra_values=extra_values,
            file_format=fmt,
            sheet_name=sheet_name,
            encoding=encoding,
            delimiter=delimiter,
            notices=self.notices,
        )


def _sheet_label(part: str, sheet_parts: dict[str, str]) -> str:
    for name, p in sheet_parts.items():
        if p == part:
            return f'the sheet "{name}"'
    return "a sheet"
