"""OLE compound files (.xls, or a password-protected OOXML): which streams it holds."""

from __future__ import annotations

import struct


def _ole_stream_names(data: bytes) -> set[str]:
    """Names of interesting streams in a compound file (directory entries are 128-byte aligned)."""
    found = set()
    for name in ("EncryptionInfo", "EncryptedPackage", "Workbook", "Book", "WordDocument", "PowerPoint Document"):
        pattern = name.encode("utf-16-le") + b"\0\0"
        pos = data.find(pattern)
        while pos != -1:
            if pos % 128 == 0 and pos + 66 <= len(data) and struct.unpack_from("<H", data, pos + 64)[0] == len(pattern):
                found.add(name)
                break
            pos = data.find(pattern, pos + 1)
    return found
