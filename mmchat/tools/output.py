"""A tool's result is untrusted text: control characters out, size capped, the cut marked.

Control-token strings (`<|im_start|>`...) are made plain by the engine, like every message's
text (mmchat.engine.markers), since only the engine knows its tokenizer's markers.
"""

from __future__ import annotations

import json
from typing import Any

from mmchat.text import one_line, strip_control

MAX_RESULT_BYTES = 8192


def clean_result(text: str, limit: int = MAX_RESULT_BYTES) -> str:
    """`text` without control characters, at most `limit` bytes of UTF-8, the cut marked."""
    clean = strip_control(text)
    data = clean.encode("utf-8")
    if len(data) <= limit:
        return clean
    kept = data[:limit].decode("utf-8", errors="ignore")
    return f"{kept}\n[cut: the result was {len(data):,} bytes; only the first {limit:,} are kept]"


def call_line(name: str, arguments: dict[str, Any]) -> str:
    """A tool call as one line for the transcript: `tool calc.add {"a": 2}`."""
    return one_line(f"tool {name} {json.dumps(arguments, ensure_ascii=False)}", 300)


def result_line(result: str) -> str:
    """A tool's result as one line for the transcript (the model is given all of it)."""
    return one_line(f"→ {result}", 300)


def transcript_lines(meta: dict[str, Any]) -> list[str]:
    """A saved answer's tool calls and results (its meta's "tool_calls"), as shown."""
    lines: list[str] = []
    for call in meta.get("tool_calls") or []:
        if isinstance(call, dict):
            arguments = call.get("arguments")
            lines.append(
                call_line(str(call.get("name")), arguments if isinstance(arguments, dict) else {})
            )
            lines.append(result_line(str(call.get("result", ""))))
    return lines
