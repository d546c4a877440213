"""The engine protocol: requests in, a stream of small events out.

Events are plain dataclasses so that the same shapes travel over the worker process's pipe
(as JSON) and come back from an in-process engine. Nothing here imports torch.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

# "tool": a tool's result, answering the assistant message before it that holds the call.
Role = Literal["system", "user", "assistant", "tool"]
# "repetition": the answer fell into a loop (the same run three times) and was ended there.
FinishReason = Literal["stop", "length", "cancelled", "repetition"]


class EngineError(Exception):
    """A model could not be loaded or run; the message is one line for a person."""


def open_picture(blob: bytes) -> Any:
    """An attached picture's bytes as an RGB PIL image; a picture the checks refuse becomes an
    EngineError with their one-line reason (every engine that reads pictures opens them here)."""
    from mmchat.images import ImageRejected, open_image_bytes

    try:
        return open_image_bytes(blob)
    except ImageRejected as exc:
        raise EngineError(str(exc)) from None


@dataclass
class ChatMessage:
    role: Role
    content: str
    images: list[bytes] = field(default_factory=list)  # raw image files, checked by the engine
    # An assistant message's tool calls, as chat templates take them:
    # {"type": "function", "function": {"name": ..., "arguments": {...}}}
    tool_calls: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "content": self.content,
            "images": [base64.b64encode(b).decode("ascii") for b in self.images],
            "tool_calls": self.tool_calls,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChatMessage:
        images = [base64.b64decode(s) for s in data.get("images", [])]
        return cls(
            role=data["role"],
            content=data["content"],
            images=images,
            tool_calls=list(data.get("tool_calls") or []),
        )


@dataclass
class GenerationRequest:
    messages: list[ChatMessage]
    max_new_tokens: int = 512
    # Sampling: None takes the model's default (engine/sampling.py); temperature 0 is exact
    # greedy (argmax, no repetition penalty unless one is given).
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    repeat_penalty: float | None = None
    seed: int | None = None  # makes sampled answers reproducible
    # Tools the model may call, as chat templates take them (the OpenAI shape):
    # {"type": "function", "function": {"name", "description", "parameters"}}. An engine that
    # cannot offer them leaves Started.tools_offered False and answers without them.
    tools: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["messages"] = [m.to_json() for m in self.messages]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GenerationRequest:
        fields_ = {k: v for k, v in data.items() if k != "messages"}
        return cls(messages=[ChatMessage.from_json(m) for m in data["messages"]], **fields_)


@dataclass
class Started:
    prompt_tokens: int
    dropped_messages: int = 0  # oldest turns left out to fit the context window
    tools_offered: bool = False  # the request's tools reached the model (its template has them)
    type: str = "started"


@dataclass
class Delta:
    text: str
    type: str = "delta"


@dataclass
class Finished:
    reason: FinishReason
    completion_tokens: int
    seconds: float
    first_token_seconds: float | None = None
    type: str = "finished"

    @property
    def tokens_per_second(self) -> float:
        decode = self.seconds - (self.first_token_seconds or 0.0)
        return (
            (self.completion_tokens - 1) / decode
            if decode > 0 and self.completion_tokens > 1
            else 0.0
        )


@dataclass
class Failed:
    message: str
    type: str = "failed"


@dataclass
class Progress:
    stage: str
    fraction: float | None = None
    type: str = "progress"


Event = Started | Delta | Finished | Failed | Progress

_EVENT_TYPES: dict[str, type[Any]] = {
    "started": Started,
    "delta": Delta,
    "finished": Finished,
    "failed": Failed,
    "progress": Progress,
}


def event_to_json(event: Event) -> dict[str, Any]:
    return asdict(event)


def event_from_json(data: dict[str, Any]) -> Event:
    kind = _EVENT_TYPES.get(data.get("type", ""))
    if kind is None:
        raise EngineError(f"unknown event from the model process: {data.get('type')!r}")
    result: Event = kind(**{k: v for k, v in data.items() if k != "id"})
    return result


@dataclass
class ModelInfo:
    name: str
    device: str
    quant: str
    context_window: int
    vision: bool


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True)
class EngineOptions:
    """How the person asked for the model to run; a plugin's engine factory receives these."""

    quant: str = "auto"  # auto, none, int8, 4bit or 8bit: a backend may ignore what it lacks
    threads: int | None = None  # CPU threads to use; None: the backend's choice
    allow_pickle: bool = False


class Engine(Protocol):
    """What every backend does; the TUI and the chat turn see nothing else."""

    def load(self, progress: ProgressCallback | None = None) -> ModelInfo: ...

    def stream(self, request: GenerationRequest) -> Iterator[Event]: ...

    def cancel(self) -> None: ...

    def close(self) -> None: ...


# What a plugin registers with `register_engines`: factory("rest" of "prefix:rest", options).
EngineFactory = Callable[[str, EngineOptions], Engine]
