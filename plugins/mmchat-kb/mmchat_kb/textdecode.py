"""Bytes to text for files of unknown encoding; binary files are refused, not mangled."""

from __future__ import annotations

import codecs

from mmchat_kb.blocks import ExtractError

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_LATIN_LOOKALIKES = (
    "cp1250",
    "cp1252",
    "cp1254",
    "cp1257",
    "cp77",
    "cp85",
    "iso8859",
    "latin",
    "mac_",
)


def decode_text(data: bytes) -> str:
    """Decode with a BOM's encoding, else UTF-8, else charset detection; refuse binary data."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _checked(data.decode(encoding, errors="replace"))
    if b"\x00" in data[:8192]:
        raise ExtractError("looks like a binary file, not text")
    try:
        return _checked(data.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes  # only for the rare non-UTF-8 file

    best = from_bytes(data[:1_000_000]).best()
    if best is None:
        raise ExtractError("looks like a binary file, not text (no text encoding fits)")
    detected = data.decode(best.encoding, errors="replace")
    if best.encoding.startswith(_LATIN_LOOKALIKES):
        # Detection cannot tell Latin code pages apart on short texts (it calls French cp1250).
        # The right one turns accented bytes into letters, the wrong one into symbols (¿ ³ ¹);
        # on a tie, Windows-1252, the commonest.
        try:
            western = data.decode("cp1252")
        except UnicodeDecodeError:
            western = ""
        if western and _odd_symbols(western) <= _odd_symbols(detected):
            return _checked(western)
    return _checked(detected)


def _odd_symbols(text: str) -> int:
    return sum(1 for c in text if ord(c) > 127 and not c.isalpha())


def _checked(text: str) -> str:
    sample = text[:20000]
    if sample:
        odd = sum(1 for c in sample if c < " " and c not in "\n\r\t\f") + sample.count("\ufffd")
        if odd / len(sample) > 0.05:
            raise ExtractError("looks like a binary file, not text")
    if not text.strip():
        raise ExtractError("is empty")
    return text
