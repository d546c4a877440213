"""Messages the background workers post to the app (post_message is thread-safe).

They do not bubble: each goes to the one screen or app that started the work.
"""

from __future__ import annotations

from textual.message import Message

from mmchat.engine.base import ModelInfo
from mmchat.store import Message as StoredMessage


class AnswerChunk(Message):
    """A coalesced piece of the streaming answer."""

    bubble = False

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class AnswerStats(Message):
    bubble = False

    def __init__(self, tokens_per_second: float) -> None:
        super().__init__()
        self.tokens_per_second = tokens_per_second


class AnswerTool(Message):
    """A tool call or its result, one line for the answer's dim tools block."""

    bubble = False

    def __init__(self, line: str) -> None:
        super().__init__()
        self.line = line


class AnswerNotice(Message):
    bubble = False

    def __init__(self, text: str, severity: str = "warning") -> None:
        super().__init__()
        self.text = text
        self.severity = severity


class AnswerDone(Message):
    """The turn ended (complete, stopped or failed); `message` is the saved answer or None."""

    bubble = False

    def __init__(self, message: StoredMessage | None, error: str | None = None) -> None:
        super().__init__()
        self.message = message
        self.error = error


class LoadProgress(Message):
    bubble = False

    def __init__(self, stage: str, fraction: float | None) -> None:
        super().__init__()
        self.stage = stage
        self.fraction = fraction


class ModelReady(Message):
    bubble = False

    def __init__(self, name: str, info: ModelInfo, engine: object) -> None:
        super().__init__()
        self.name = name
        self.info = info
        self.engine = engine


class ModelFailed(Message):
    bubble = False

    def __init__(self, name: str, error: str, cancelled: bool = False) -> None:
        super().__init__()
        self.name = name
        self.error = error
        self.cancelled = cancelled
