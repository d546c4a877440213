"""A tool's result is untrusted text: control characters out, size capped, the cut marked.

Control-token strings (`<|im_start|>`...) are made plain by the engine, like every message's
text (mmchat.engine.markers), since only the engine knows its tokenizer's markers.
"""

from __future__ import annotations

from mmchat.text import strip_control

MAX_RESULT_BYTES = 8192


def clean_result(text: str, limit: int = MAX_RESULT_BYTES) -> str:
    """`text` without control characters, at most `limit` bytes of UTF-8, the cut marked."""
    clean = strip_control(text)
    data = clean.encode("utf-8")
    if len(data) <= limit:
        return clean
    kept = data[:limit].decode("utf-8", errors="ignore")
    return f"{kept}\n[cut: the result was {len(data):,} bytes; only the first {limit:,} are kept]"
