"""Zip containers (xlsx, ods): the directory's limits, then every entry inflated here in bounded
chunks with its real size and CRC checked (zip-bomb guards), and the small XML parts read
safely (xlsx's sheet-to-part map)."""

from __future__ import annotations

import io
import re
import struct
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import PurePosixPath

from bulk_upload_app.files.reading.limits import ReadLimits
from bulk_upload_app.files.reading.problems import _n, _size, _too_large, _unsupported

_RATIO_MIN_BYTES = 1024 * 1024  # the compression-ratio guard applies to entries bigger than this
_CHUNK = 8 * 1024 * 1024


def _open_zip(data: bytes, limits: ReadLimits) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
    declared = _eocd_entry_count(data)
    if declared is not None and declared > limits.max_zip_entries:
        raise _too_large(
            f"the workbook contains {_n(declared)} internal files; the limit is {_n(limits.max_zip_entries)}"
        )
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        ValueError,
        EOFError,
        OSError,
        struct.error,
        IndexError,
        KeyError,
        NotImplementedError,
        UnicodeDecodeError,
    ):
        raise _unsupported(
            "it looks like an Excel or OpenDocument file but is damaged (it can't be unzipped)"
        ) from None
    if len(infos) > limits.max_zip_entries:
        raise _too_large(
            f"the workbook contains {_n(len(infos))} internal files; the limit is {_n(limits.max_zip_entries)}"
        )
    total = sum(info.file_size for info in infos)
    if total > limits.max_uncompressed_bytes:
        raise _too_large(
            f"it would expand to {_size(total)} when opened; the limit is {_size(limits.max_uncompressed_bytes)}"
        )
    for info in infos:
        if info.flag_bits & 0x1:
            raise _unsupported("the workbook is password-protected")
        if info.file_size > _RATIO_MIN_BYTES and info.file_size > limits.max_compression_ratio * max(
            info.compress_size, 1
        ):
            ratio = info.file_size // max(info.compress_size, 1)
            raise _too_large(
                f"part of it expands {_n(ratio)}-fold when opened (the limit is {_n(limits.max_compression_ratio)}-fold), "
                "which is how zip bombs work"
            )
    return zf, infos


def _eocd_entry_count(data: bytes) -> int | None:
    pos = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if pos < 0 or pos + 22 > len(data):
        return None
    total = struct.unpack_from("<H", data, pos + 10)[0]
    return None if total == 0xFFFF else total


def _inflate_entry(data: bytes, info: zipfile.ZipInfo, limits: ReadLimits) -> Iterator[bytes]:
    """Yield an entry's bytes, inflated here in bounded chunks, verifying size and CRC.

    Zip headers declare sizes the archive does not have to honour; the parsers downstream
    trust the stream. Reading it here first (bounded by the declared size) is what makes the
    declared-size limits real.
    """
    damaged = _unsupported("it looks like an Excel or OpenDocument file but is damaged (a part of it is corrupt)")
    off = info.header_offset
    if data[off : off + 4] != b"PK\x03\x04":
        raise damaged
    name_len, extra_len = struct.unpack_from("<HH", data, off + 26)
    start = off + 30 + name_len + extra_len
    comp = memoryview(data)[start : start + info.compress_size]
    if len(comp) != info.compress_size:
        raise damaged
    crc = 0
    produced = 0
    if info.compress_type == zipfile.ZIP_STORED:
        if info.compress_size != info.file_size:
            raise damaged
        for pos in range(0, len(comp), _CHUNK):
            chunk = bytes(comp[pos : pos + _CHUNK])
            crc = zlib.crc32(chunk, crc)
            produced += len(chunk)
            yield chunk
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        inflater = zlib.decompressobj(-15)
        pos = 0
        src: bytes | memoryview
        while not inflater.eof:
            if inflater.unconsumed_tail:
                src = inflater.unconsumed_tail
            elif pos < len(comp):
                src = comp[pos : pos + _CHUNK]
                pos += len(src)
            else:
                raise damaged  # the stream ends before its end marker
            try:
                out = inflater.decompress(src, _CHUNK)
            except zlib.error:
                raise damaged from None
            produced += len(out)
            if produced > info.file_size:
                raise _too_large(
                    f"part of it is larger than it declares ({info.filename}), which is how zip bombs work"
                )
            if out:
                crc = zlib.crc32(out, crc)
                yield out
    else:
        raise _unsupported("it uses a compression method Excel does not use, so it can't be read safely")
    if produced != info.file_size or (crc & 0xFFFFFFFF) != info.CRC:
        raise damaged


def _zip_read_small(zf: zipfile.ZipFile, data: bytes, info: zipfile.ZipInfo, cap: int) -> bytes:
    if info.file_size > cap:
        return b""
    return b"".join(_inflate_entry(data, info, ReadLimits()))


_DTD = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)


def _small_xml(zf: zipfile.ZipFile, data: bytes, name: str) -> ET.Element | None:
    try:
        info = zf.getinfo(name)
    except KeyError:
        return None
    if info.file_size > 16 * 1024 * 1024:
        return None
    raw = b"".join(_inflate_entry(data, info, ReadLimits()))
    if _DTD.search(raw):
        raise _unsupported("the workbook contains XML declarations that Excel never writes")
    try:
        return ET.fromstring(raw)
    except (ET.ParseError, LookupError, ValueError):  # LookupError: an unknown declared encoding
        return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xlsx_sheet_parts(zf: zipfile.ZipFile, data: bytes) -> dict[str, str]:
    """Sheet name -> zip part of its XML, from xl/workbook.xml and its relationships."""
    names = {n.lower(): n for n in zf.namelist()}
    wb_name = names.get("xl/workbook.xml")
    if wb_name is None:
        return {}
    workbook = _small_xml(zf, data, wb_name)
    rels = _small_xml(zf, data, names.get("xl/_rels/workbook.xml.rels", "xl/_rels/workbook.xml.rels"))
    if workbook is None or rels is None:
        return {}
    targets = {}
    for rel in rels.iter():
        if _local(rel.tag) == "Relationship":
            target = rel.get("Target", "")
            if target.startswith("/"):
                path = target.lstrip("/")
            else:
                path = str(PurePosixPath("xl") / target)
            parts: list[str] = []
            for seg in path.split("/"):
                if seg == "..":
                    if parts:
                        parts.pop()
                elif seg and seg != ".":
                    parts.append(seg)
            resolved = "/".join(parts)
            targets[rel.get("Id")] = names.get(resolved.lower(), resolved)
    sheets = {}
    for el in workbook.iter():
        if _local(el.tag) == "sheet":
            rid = next((v for k, v in el.attrib.items() if _local(k) == "id" and k.startswith("{")), None)
            name = el.get("name")
            if name is not None and rid in targets:
                sheets[name] = targets[rid]
    return sheets
