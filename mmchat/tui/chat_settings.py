"""A chat's own settings: what the settings dialog edits and the conversation row keeps.

None means "not set for this chat": the persona's value applies, else the user's settings
(temperature and top-p: else the model's default). No widgets here.
"""

from __future__ import annotations

from dataclasses import dataclass

from mmchat.config import Settings
from mmchat.personas import Persona
from mmchat.store import Conversation

# The ranges a person may type; the engine checks what reaches it again.
TEMPERATURE_RANGE = (0.0, 2.0)
TOP_P_RANGE = (0.0, 1.0)  # above 0
MAX_TOKENS_RANGE = (1, 65536)


@dataclass(frozen=True)
class ChatSettings:
    model: str | None = None  # the model the chat was last answered with (or chosen for it)
    system: str | None = None  # added after the persona's system prompt
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None

    @classmethod
    def of(cls, conv: Conversation) -> ChatSettings:
        return cls(conv.model, conv.system, conv.temperature, conv.top_p, conv.max_tokens)

    def columns(self) -> dict[str, str | float | int | None]:
        """The conversation columns these settings are saved in (the model apart)."""
        return {
            "system": self.system,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
        }


def defaults_for(settings: Settings, persona: Persona) -> dict[str, str]:
    """What applies to each number a chat leaves unset, in words (the dialog's placeholders)."""
    shown: dict[str, str] = {}
    for key, own, fallback in (
        ("temperature", persona.temperature, settings.temperature),
        ("top_p", persona.top_p, None),
        ("max_tokens", persona.max_tokens, settings.max_tokens),
    ):
        if own is not None:
            shown[key] = f"{own:g} (persona)"
        elif fallback is not None:
            shown[key] = f"{fallback:g} (settings)"
        else:
            shown[key] = "model default"
    return shown


class BadSetting(ValueError):
    """A value typed in the settings dialog; the message is one line naming the field."""


def parse_temperature(text: str) -> float | None:
    value = _number(text, "Temperature")
    low, high = TEMPERATURE_RANGE
    if value is not None and not low <= value <= high:
        raise BadSetting(f"Temperature must be between {low:g} and {high:g}")
    return value


def parse_top_p(text: str) -> float | None:
    value = _number(text, "Top-p")
    if value is not None and not TOP_P_RANGE[0] < value <= TOP_P_RANGE[1]:
        raise BadSetting("Top-p must be above 0 and at most 1")
    return value


def parse_max_tokens(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    low, high = MAX_TOKENS_RANGE
    try:
        value = int(text)
    except ValueError:
        raise BadSetting(f"Max tokens must be a whole number, not {text[:20]!r}") from None
    if not low <= value <= high:
        raise BadSetting(f"Max tokens must be between {low} and {high}")
    return value


def _number(text: str, field: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise BadSetting(f"{field} must be a number, not {text[:20]!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise BadSetting(f"{field} must be a finite number")
    return value
