"""Text uploads: strict decoding (UTF-8, UTF-16, or Windows-1252 only when it is clearly
Western European text - the mojibake guard), and refusing text that is not a table (HTML,
JSON, XML, binary)."""

from __future__ import annotations

import codecs
import json
import re

from bulk_upload_app.files.reading.limits import _WS
from bulk_upload_app.files.reading.problems import _n, _unsupported

_ENCODING_REASON = (
    "its text encoding isn't recognised (it is not UTF-8 or Windows-1252); "
    'in Excel use "Save As" and choose "CSV UTF-8"'
)


def _decode_text(data: bytes) -> tuple[str, str]:
    """Decode a text upload strictly. Never substitutes a character."""
    if data.startswith(codecs.BOM_UTF32_LE) and len(data) % 4 == 0 and data[2:4] == b"\0\0":
        raise _unsupported(_ENCODING_REASON + " (it is UTF-32)")
    if data.startswith(codecs.BOM_UTF8):
        try:
            text = data[3:].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _unsupported(_bad_utf8_reason(exc, 3)) from None
        encoding = "utf-8-sig"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise _unsupported("it says it is UTF-16 text but contains invalid characters") from None
        encoding = "utf-16"
    elif b"\0" in data:
        guess = _bomless_utf16(data)
        if guess is None:
            pos = data.index(b"\0")
            raise _unsupported(f"it contains binary data (a NUL byte at position {_n(pos)}), so it isn't a text file")
        text, encoding = guess
    else:
        try:
            text = data.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError:
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError:
                raise _unsupported(_ENCODING_REASON) from None
            if _looks_like_mojibake(text):
                raise _unsupported(_ENCODING_REASON) from None
            encoding = "cp1252"
    if "\0" in text:
        raise _unsupported("it contains binary data (a NUL character), so it isn't a text file")
    return text, encoding


def _bad_utf8_reason(exc: UnicodeDecodeError, offset: int) -> str:
    byte = exc.object[exc.start]
    return (
        f"it starts like UTF-8 text but isn't valid UTF-8 (byte 0x{byte:02X} at position {_n(exc.start + offset)}); "
        'in Excel use "Save As" and choose "CSV UTF-8"'
    )


def _bomless_utf16(data: bytes) -> tuple[str, str] | None:
    """UTF-16 without a BOM shows as a NUL in every other byte; decode it only when that is clear."""
    sample = data[: 64 * 1024]
    sample = sample[: len(sample) - len(sample) % 2]
    if len(sample) < 4 or len(data) % 2:
        return None
    pairs = len(sample) // 2
    even_nul = sample[0::2].count(0)
    odd_nul = sample[1::2].count(0)
    if odd_nul >= 0.3 * pairs and even_nul <= 0.02 * pairs:
        codec = "utf-16-le"
    elif even_nul >= 0.3 * pairs and odd_nul <= 0.02 * pairs:
        codec = "utf-16-be"
    else:
        return None
    try:
        text = data.decode(codec)
    except UnicodeDecodeError:
        return None
    if "\0" in text:
        return None
    return text, codec


# Characters that legitimately sit inside a Western word (apostrophes, middle dot, ordinals...).
_WORD_SYMBOLS = set("\u2019\u2018\u00b4`\u00b7\u00b0\u00ba\u00aa\u00b2\u00b3\u00b9")
_GLUED_SUPERSCRIPTS = set("\u00b9\u00bc\u00bd\u00be")
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f\s]+")


def _looks_like_mojibake(text: str) -> bool:
    """Is this 'Windows-1252' text really another encoding (Greek, Cyrillic, CJK, Mac Roman...)?

    Decoding as cp1252 never fails, so look at the words holding non-ASCII characters. In
    Western European text (French, Spanish, German, Portuguese, Nordic names) they are
    isolated accented letters inside ASCII words (Année, Descripción, Größe, Conceição). Text
    in another 8-bit or multibyte encoding read as cp1252 gives words made of runs of accented
    letters (Greek "Ëåùíéäáò", Cyrillic "Ïðèâåò"), symbols jammed between letters (Big5
    "´ºÂI", Mac Roman "Descripci—n", Polish "Za¿ó³æ") or capitals inside lowercase words (Mac
    Roman "JŸrgen"). If a fifth of those words look like that, refuse.
    """
    words = 0
    odd = 0
    size = len(text)
    last_start = -1
    for match in _NON_ASCII_RUN.finditer(text):
        start, end = match.span()
        lo = max(0, start - 40)
        while start > lo and not _is_separator(text[start - 1]):
            start -= 1
        if start == last_start:
            continue  # another run in the same word
        last_start = start
        hi = min(size, end + 40)
        while end < hi and not _is_separator(text[end]):
            end += 1
        token = text[start:end]
        words += 1
        if _odd_token(token):
            odd += 1
        if words >= 4000:
            break
    return words > 0 and odd >= max(1, 0.2 * words)


def _is_separator(ch: str) -> bool:
    return ch.isspace() or (ch < "\x80" and not ch.isalnum())


def _odd_token(token: str) -> bool:
    run = 0
    last = len(token) - 1
    for i, ch in enumerate(token):
        if ord(ch) < 0x80:
            run = 0
            continue
        run += 1
        if run >= 3:
            return True
        prev = token[i - 1] if i else ""
        if 0 < i < last and not ch.isalpha() and ch not in _WORD_SYMBOLS:
            return True
        if ch in _GLUED_SUPERSCRIPTS and prev.isalpha():
            return True  # "Gêœl¹" (Polish ą); "m²" stays fine
        if ch.isupper() and prev.isalpha() and i < last and token[i + 1].islower():
            return True  # "JŸrgen", "MŸller" (Mac Roman ü)
    return False


_CONTROL = re.compile(r"[\x01-\x08\x0e-\x1f\x7f]")


def _reject_markup_and_binary_text(text: str) -> None:
    head = text[:4096].lstrip(_WS + "\ufeff").lower()
    if head.startswith(("<!doctype html", "<html")) or ("<html" in head[:1024] and "<table" in head):
        raise _unsupported("it is a web page (HTML), not a spreadsheet; open it in Excel and save it as .xlsx")
    if head[:1] in ("{", "[") and len(text) <= 64 * 1024 * 1024:
        try:
            json.loads(text)
        except ValueError:
            pass
        else:
            raise _unsupported("it is a JSON file, not a spreadsheet")
    if head.startswith("<?xml") or head.startswith("<workbook"):
        if "urn:schemas-microsoft-com:office:spreadsheet" in text[:8192]:
            raise _unsupported(
                "it is an Excel 2003 XML spreadsheet, an old format; open it in Excel and save it as .xlsx"
            )
        raise _unsupported("it is an XML file, not a spreadsheet")
    sample = text[:65536]
    controls = len(_CONTROL.findall(sample))
    if controls >= 8 and controls > 0.05 * len(sample):
        raise _unsupported("it contains binary data, so it isn't a text file")
