"""Untrusted text made safe to show in a terminal.

Model output, file names, document titles, plugin strings and exception text can carry escape
sequences (OSC 52 clipboard writes, OSC 8 links, colour codes) that Textual and print() pass to
the terminal unchanged. Everything shown goes through `strip_control` first: C0 and C1 control
characters (except newline and tab), DEL, and the bidirectional overrides that can disguise text.
"""

from __future__ import annotations

import json
import re
from typing import Any

_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 (keeping \t and \n), DEL, C1
    "\u202a-\u202e\u2066-\u2069"  # bidi embeddings, overrides and isolates
    "\u200e\u200f\u061c]"  # direction marks
)


def strip_control(text: str) -> str:
    """Remove control characters, keeping newline and tab; \\r\\n becomes \\n."""
    return _CONTROL.sub("", text.replace("\r\n", "\n"))


def one_line(text: str, limit: int = 300) -> str:
    """A single safe line, for errors and titles."""
    flat = " ".join(strip_control(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def json_for_terminal(value: Any, indent: int | None = None) -> str:
    """JSON with every control character escaped as \\uXXXX: the same data, safe to print.

    json.dumps escapes C0 but passes DEL, C1 (8-bit CSI, OSC) and bidi overrides through when
    ensure_ascii is off; outside strings JSON text is plain ASCII, so escaping them is lossless.
    """
    text = json.dumps(value, ensure_ascii=False, indent=indent)
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def citation_line(cite: dict[str, Any]) -> str:
    """One cited source, as the CLI and the TUI show it: "[1] Title, Section (path)"."""
    where = f", {cite['location']}" if cite.get("location") else ""
    title = cite.get("title") or cite["source"]
    return one_line(f"[{cite['n']}] {title}{where} ({cite['source']})")
