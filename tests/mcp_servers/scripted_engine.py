"""A small real Engine that follows the protocol and calls tools on a script, for the turn's
plumbing: it answers each request from what the request holds, like a model would.

`script`: what each pass writes, in order; "{result}" is filled with the last tool result. A
request without tools on offer gets the last entry (the final answer).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from mmchat.engine.base import (
    Delta,
    Event,
    Finished,
    GenerationRequest,
    ModelInfo,
    ProgressCallback,
    Started,
)


def call(name: str, arguments: str = "{}") -> str:
    return f'<tool_call>\n{{"name": "{name}", "arguments": {arguments}}}\n</tool_call>'


class ScriptedEngine:
    def __init__(self, script: Sequence[str], *, takes_tools: bool = True) -> None:
        self.script = list(script)
        self.takes_tools = takes_tools
        self.requests: list[GenerationRequest] = []

    def load(self, progress: ProgressCallback | None = None) -> ModelInfo:
        return ModelInfo("scripted", "cpu", "none", 4096, False)

    def stream(self, request: GenerationRequest) -> Iterator[Event]:
        self.requests.append(request)
        offered = bool(request.tools) and self.takes_tools
        yield Started(prompt_tokens=10, tools_offered=offered)
        passes = sum(1 for m in request.messages if m.role == "assistant" and m.tool_calls)
        step = min(passes, len(self.script) - 1) if offered else len(self.script) - 1
        last = request.messages[-1]
        text = self.script[step].replace("{result}", last.content if last.role == "tool" else "")
        for start in range(0, len(text), 7):  # in small pieces, as a model streams
            yield Delta(text[start : start + 7])
        yield Finished("stop", max(1, len(text) // 4), 0.01)

    def cancel(self) -> None:
        pass

    def close(self) -> None:
        pass
