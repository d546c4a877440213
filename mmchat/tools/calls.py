"""The model's tool calls, found in the text it writes.

Two shapes are read: Qwen2.5 / Hermes templates ask for
`<tool_call>{"name": ..., "arguments": {...}}</tool_call>` (one block per call, prose may come
first), and Llama 3.x's answer with the call alone as JSON, `{"name": ..., "parameters": {...}}`.
While the answer streams, CallFilter holds back what may be a call so that the person sees only
the prose, and the call is shown as a call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

OPEN, CLOSE = "<tool_call>", "</tool_call>"
_BLOCK = re.compile(re.escape(OPEN) + r"(.*?)(?:" + re.escape(CLOSE) + r"|\Z)", re.DOTALL)


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    problem: str = ""  # set when the call could not be read; sent back to the model

    def as_template(self) -> dict[str, Any]:
        """The call as chat templates take it in an assistant message's `tool_calls`."""
        return {"type": "function", "function": {"name": self.name, "arguments": self.arguments}}


def parse_calls(text: str, known: Collection[str] = ()) -> list[ToolCall]:
    """The calls in `text` (the part of an answer from where a call may start).

    Tagged blocks are calls whatever they hold (a broken one comes back with its problem, for
    the model to mend); bare JSON counts only when it names a tool in `known`, so an answer
    that is JSON for the person stays an answer.
    """
    if OPEN in text:
        return [_read(match.group(1)) for match in _BLOCK.finditer(text)]
    stripped = text.strip()
    if not stripped.startswith("{"):
        return []
    calls = [_read(part) for part in _json_objects(stripped)]
    names = set(known) | set(bare_names(known))
    if calls and all(not c.problem and c.name in names for c in calls):
        return calls
    return []


def bare_names(qualified: Collection[str]) -> dict[str, str]:
    """ "add" for "calc.add" where no other tool ends so: small models drop the server's name."""
    ends: dict[str, list[str]] = {}
    for name in qualified:
        ends.setdefault(name.rsplit(".", 1)[-1], []).append(name)
    return {end: names[0] for end, names in ends.items() if len(names) == 1 and end != names[0]}


def _json_objects(text: str) -> list[str]:
    """One JSON object, or several one after another, apart by ';' (Llama 3.2 writes them so)
    or new lines (small Qwen models do); the whole text when it is not that."""
    decoder = json.JSONDecoder()
    parts: list[str] = []
    at = 0
    while at < len(text):
        try:
            _, end = decoder.raw_decode(text, at)
        except ValueError:
            return [text]
        parts.append(text[at:end])
        at = end
        while at < len(text) and (text[at].isspace() or text[at] == ";"):
            at += 1
    return parts


def _read(body: str) -> ToolCall:
    try:
        data = json.loads(body.strip())
    except ValueError:
        return ToolCall("", problem="the tool call is not valid JSON")
    if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not data["name"]:
        return ToolCall("", problem='the tool call needs "name" and "arguments"')
    arguments = data.get("arguments", data.get("parameters", {}))
    if isinstance(arguments, str):  # some models send the arguments as a JSON string
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except ValueError:
            return ToolCall(data["name"], problem="the arguments are not valid JSON")
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        return ToolCall(data["name"], problem="the arguments must be a JSON object")
    return ToolCall(data["name"], arguments)


class CallFilter:
    """Splits a streamed answer into prose to show now and a tail that may be a call."""

    def __init__(self) -> None:
        self.text = ""
        self.shown = 0  # how much of `text` has been let through
        self.in_call = False

    def feed(self, chunk: str) -> str:
        """What of the answer so far can be shown: never a call, nor what may start one."""
        self.text += chunk
        if self.in_call:
            return ""
        if self.shown == 0 and self.text.lstrip()[:1] in ("", "{"):
            return ""  # nothing yet, or bare JSON that may be a call: wait for the end
        start = self.text.find(OPEN, self.shown)
        if start >= 0:
            self.in_call = True
            end = start
        else:
            end = len(self.text) - _partial_open(self.text)
        shown, self.shown = self.text[self.shown : end], max(self.shown, end)
        return shown

    def finish(self, known: Collection[str]) -> tuple[list[ToolCall], str]:
        """At the end of the answer: its calls, and the held text to show when there were none."""
        rest = self.text[self.shown :]
        calls = parse_calls(rest, known)
        self.shown = len(self.text)
        return calls, ("" if calls else rest)


def _partial_open(text: str) -> int:
    """The length of the end of `text` that could be the start of `<tool_call>`."""
    for size in range(min(len(OPEN) - 1, len(text)), 0, -1):
        if OPEN.startswith(text[-size:]):
            return size
    return 0
