"""The chat settings dialog: model, system prompt, temperature, top-p and max tokens.

A blank number means "not set for this chat" (the placeholder says what applies then). A value
out of range is a one-line error under the fields; the dialog stays open with what was typed.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, Static, TextArea

from mmchat.text import one_line, strip_control
from mmchat.tui.chat_settings import (
    BadSetting,
    ChatSettings,
    parse_max_tokens,
    parse_temperature,
    parse_top_p,
)


def _text(value: float | int | None) -> str:
    return "" if value is None else f"{value:g}"


class ChatSettingsScreen(ModalScreen[ChatSettings | None]):
    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("ctrl+s", "save", "Save", priority=True),
    ]

    def __init__(
        self, current: ChatSettings, *, defaults: dict[str, str], models: list[str]
    ) -> None:
        """`defaults`: what applies to each number left blank, shown as its placeholder."""
        super().__init__(classes="dialog-screen")
        self.current = current
        self.defaults = defaults
        self.models = models

    def compose(self) -> ComposeResult:
        current = self.current
        with Vertical(classes="dialog wide", id="chat-settings"):
            yield Label("Chat settings", classes="dialog-title")
            yield Label("Model (loads when saved; Tab completes a known one)")
            yield Input(
                current.model or "",
                id="settings-model",
                suggester=SuggestFromList(self.models, case_sensitive=False),
            )
            yield Label("System prompt (after the persona's own instructions)")
            yield TextArea(current.system or "", id="settings-system", soft_wrap=True)
            with Horizontal(id="settings-numbers"):
                for field, title, value in (
                    ("temperature", "Temperature", current.temperature),
                    ("top_p", "Top-p", current.top_p),
                    ("max_tokens", "Max tokens", current.max_tokens),
                ):
                    with Vertical(classes="settings-number"):
                        yield Label(title)
                        yield Input(
                            _text(value),
                            id=f"settings-{field}",
                            placeholder=one_line(self.defaults.get(field, "default"), 30),
                        )
            yield Static("", id="settings-error")
            yield Label(Content.styled("Blank: the persona's or your default", "dim"))
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save (ctrl+s)", variant="primary", id="save")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#settings-system", TextArea).focus()

    def _value(self, field: str) -> str:
        return self.query_one(f"#settings-{field}", Input).value

    def read(self) -> ChatSettings:
        """The settings as typed; raises BadSetting naming the first wrong field."""
        system = strip_control(self.query_one("#settings-system", TextArea).text).strip()
        return ChatSettings(
            model=one_line(self._value("model"), 300) or None,
            system=system,
            temperature=parse_temperature(self._value("temperature")),
            top_p=parse_top_p(self._value("top_p")),
            max_tokens=parse_max_tokens(self._value("max_tokens")),
        )

    def action_save(self) -> None:
        try:
            settings = self.read()
        except BadSetting as exc:
            self.query_one("#settings-error", Static).update(
                Content.styled(one_line(str(exc), 120), "$error")
            )
            return
        self.dismiss(settings)

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_save()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.dismiss(None)
