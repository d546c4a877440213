"""When a turn may start, with which options, and how a draft image is listed: no widgets here."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from mmchat.chat import TurnOptions
from mmchat.config import Settings
from mmchat.images import CheckedImage
from mmchat.personas import Persona
from mmchat.store import Attachment
from mmchat.text import one_line
from mmchat.tui.chat_settings import ChatSettings
from mmchat.tui.model_host import ModelHost


@dataclass(frozen=True)
class Refusal:
    text: str
    severity: Literal["warning", "error"]


def refusal(host: ModelHost, images: Sequence[CheckedImage], streaming: bool) -> Refusal | None:
    """Why a turn cannot start now (None: it can)."""
    if streaming:
        return Refusal("Wait for the answer, or press Esc to stop it", "warning")
    if host.state == "loading":
        return Refusal(f"{one_line(host.name, 40)} is still loading…", "warning")
    if not host.ready:
        return Refusal(
            f"no model is loaded ({host.error or 'none chosen'}); pick one with ctrl+l", "error"
        )
    if images and host.info is not None and not host.info.vision:
        return Refusal(
            f"{host.name} is text-only and cannot read images: remove the attachment "
            "or pick a vision model (ctrl+l)",
            "error",
        )
    return None


def turn_options(
    settings: Settings, persona: Persona, model: str, chat: ChatSettings
) -> TurnOptions:
    """The chat's own settings where it has them, else the persona's, else the user's; a
    value none of them sets stays TurnOptions' default (the model's, for sampling)."""
    chosen: dict[str, Any] = {
        "max_tokens": chat.max_tokens or persona.max_tokens or settings.max_tokens,
        "temperature": _first(chat.temperature, persona.temperature, settings.temperature),
        "top_p": _first(chat.top_p, persona.top_p, settings.top_p),
        "top_k": settings.top_k,
        "repeat_penalty": settings.repeat_penalty,
    }
    system = chat.system if chat.system is not None else settings.system
    return TurnOptions(
        model=model,
        system=system,
        **{key: value for key, value in chosen.items() if value is not None},
    )


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)


def attachment_of(image: CheckedImage) -> Attachment:
    """How a draft image is listed before the store has saved it (same hash name)."""
    sha = hashlib.sha256(image.data).hexdigest()
    return Attachment(sha, image.name, image.mime, image.width, image.height)
