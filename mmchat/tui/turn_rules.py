"""When a turn may start, with which options, and how a draft image is listed: no widgets here."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from mmchat.chat import TurnOptions
from mmchat.config import Settings
from mmchat.images import CheckedImage
from mmchat.personas import Persona
from mmchat.store import Attachment
from mmchat.text import one_line
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


def turn_options(settings: Settings, persona: Persona, model: str) -> TurnOptions:
    """The persona's sampling settings where it has them, else the user's."""
    return TurnOptions(
        model=model,
        max_tokens=persona.max_tokens or settings.max_tokens,
        temperature=(
            persona.temperature if persona.temperature is not None else settings.temperature
        ),
        top_p=persona.top_p if persona.top_p is not None else settings.top_p,
        top_k=settings.top_k,
        repeat_penalty=settings.repeat_penalty,
        system=settings.system,
    )


def attachment_of(image: CheckedImage) -> Attachment:
    """How a draft image is listed before the store has saved it (same hash name)."""
    sha = hashlib.sha256(image.data).hexdigest()
    return Attachment(sha, image.name, image.mime, image.width, image.height)
