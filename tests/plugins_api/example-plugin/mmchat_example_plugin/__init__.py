"""An example mmchat plugin: a persona, a command, a model backend, a knowledge source, a prompt
rewrite and an after-turn note."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import typer

from mmchat.hooks import (
    EngineFactory,
    FinishedTurn,
    Passage,
    Persona,
    PromptContext,
    hookimpl,
)
from mmchat_example_plugin import faq
from mmchat_example_plugin.echo_engine import make_engine

PIRATE = Persona(
    name="pirate",
    description="Answers like a pirate of {ship}",
    system_prompt="You are a pirate on the ship {ship}. Always answer like a pirate, briefly.",
    greeting="Ahoy from the {ship}!",
    temperature=0.0,
    max_tokens=48,
    variables={"ship": "Black Pearl"},
)

EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


@hookimpl
def register_personas(register: Callable[[Persona], None]) -> None:
    register(PIRATE)


@hookimpl
def register_engines(register: Callable[[str, EngineFactory], None]) -> None:
    register("example", make_engine)  # --model example:echo


@hookimpl
def mmchat_retrieve(query: str, persona: Persona) -> list[Passage] | None:
    """For personas with knowledge_bases = ["example-faq"]: the FAQ's answers to the message."""
    if faq.NAME not in persona.knowledge_bases:
        return None
    return faq.search(query, k=3)


@hookimpl
def register_commands(cli: typer.Typer) -> None:
    @cli.command(name="example-greet")
    def greet(name: str, shout: bool = False) -> None:
        """Say hello from the example plugin."""
        text = f"Ahoy, {name}!"
        typer.echo(text.upper() if shout else text)


@hookimpl
def mmchat_before_prompt(context: PromptContext) -> None:
    """For the pirate only: e-mail addresses never reach the model."""
    if context.persona.name == "pirate":
        context.user_text = EMAIL.sub("[email]", context.user_text)


@hookimpl
def mmchat_turn_finished(turn: FinishedTurn) -> dict[str, Any] | None:
    if turn.persona.name != "pirate":
        return None
    return {"example": {"answer_words": len(turn.answer.split()), "status": turn.status}}
