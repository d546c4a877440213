"""Pick one item from a filtered list (personas, models); optionally accept what was typed."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from mmchat.text import one_line


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    detail: str = ""


class PickerScreen(ModalScreen[str | None]):
    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("down", "focus_list", "List", show=False),
    ]

    def __init__(
        self, title: str, choices: list[Choice], *, current: str = "", accept_typed: str = ""
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.choices = choices
        self.current = current
        self.accept_typed = accept_typed  # hint shown when typed text may be used as is

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(Content(one_line(self.title_text, 100)), classes="dialog-title")
            yield Input(placeholder=self.accept_typed or "Filter", id="picker-filter")
            yield OptionList(id="picker-options")

    def on_mount(self) -> None:
        self._fill("")

    def _fill(self, query: str) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        query = query.lower()
        for choice in self.choices:
            if query and query not in f"{choice.label} {choice.detail}".lower():
                continue
            mark = "● " if choice.value == self.current else "  "
            prompt = Content.assemble(mark, Content.styled(one_line(choice.label, 60), "bold"))
            if choice.detail:
                prompt = Content.assemble(
                    prompt, Content.styled(f"  {one_line(choice.detail, 90)}", "dim")
                )
            options.add_option(Option(prompt, id=choice.value))
        if options.option_count:
            options.highlighted = 0

    @on(Input.Changed)
    def _filter(self, event: Input.Changed) -> None:
        self._fill(event.value)

    @on(Input.Submitted)
    def _typed(self, event: Input.Submitted) -> None:
        options = self.query_one(OptionList)
        typed = event.value.strip()
        if self.accept_typed and typed and not any(c.value == typed for c in self.choices):
            self.dismiss(typed)
        elif options.highlighted is not None:
            self.dismiss(options.get_option_at_index(options.highlighted).id)

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_focus_list(self) -> None:
        self.query_one(OptionList).focus()
