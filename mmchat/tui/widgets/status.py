"""The status line: model, quantization, device, persona, speed and context fill; load progress
while loading."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import ProgressBar, Static

from mmchat.engine.base import ModelInfo
from mmchat.text import one_line


class StatusLine(Horizontal):
    def compose(self) -> ComposeResult:
        yield Static(id="status-text")
        yield ProgressBar(id="load-progress", show_eta=False, total=100)

    def on_mount(self) -> None:
        self.query_one(ProgressBar).display = False

    def show(
        self,
        *,
        model: str,
        state: str,
        info: ModelInfo | None,
        persona: str,
        stage: str = "",
        fraction: float | None = None,
        tokens_per_second: float | None = None,
        context: str = "",
        error: str = "",
    ) -> None:
        sep = Content.styled(" │ ", "dim")
        parts: list[Content | str] = [Content.styled(one_line(model or "no model", 50), "bold")]
        if state == "ready" and info is not None:
            parts += [
                sep,
                Content(one_line(info.quant, 20)),
                sep,
                Content(one_line(info.device, 20)),
            ]
            if not info.vision:
                parts += [sep, Content.styled("text only", "dim")]
        elif state == "loading":
            parts += [sep, Content.styled(one_line(stage or "loading", 40), "$accent")]
            parts += [Content.styled("  (esc cancels)", "dim")]
        elif state == "failed":
            parts += [sep, Content.styled("not loaded", "$error")]
            if error:
                parts += [Content.styled(f": {one_line(error, 80)}", "$error")]
        parts += [sep, Content("persona "), Content.styled(one_line(persona, 40), "bold")]
        if tokens_per_second:
            parts += [sep, Content(f"{tokens_per_second:.1f} tok/s")]
        if context:
            parts += [sep, Content(context)]
        self.query_one("#status-text", Static).update(Content.assemble(*parts))
        bar = self.query_one(ProgressBar)
        bar.display = state == "loading"
        if state == "loading":
            bar.update(total=100 if fraction is not None else None, progress=(fraction or 0) * 100)
