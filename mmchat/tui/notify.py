"""One-line notifications of untrusted text (exception text, names): never markup."""

from __future__ import annotations

from textual.widget import Widget

from mmchat.text import one_line


def fail(node: Widget, exc: BaseException | str) -> None:
    text = exc if isinstance(exc, str) else (str(exc) or type(exc).__name__)
    node.notify(one_line(text), severity="error", markup=False, timeout=8)


def warn(node: Widget, text: str) -> None:
    node.notify(one_line(text), severity="warning", markup=False)
