"""`mmchat personas`: list and show personas, and start a persona plugin of your own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from mmchat.commands.common import NoPluginsOption, fail, warn
from mmchat.text import json_for_terminal, one_line, strip_control

app = typer.Typer(
    help="Personas: who the assistant is (from plugins and TOML files in the config dir).",
    no_args_is_help=True,
)


def load_catalog(no_plugins: bool) -> Any:
    """Plugins and personas as a session would see them; problems go to stderr, once each."""
    from mmchat.config import config_dir
    from mmchat.personas import collect_personas
    from mmchat.plugin_manager import load_plugins

    manager = load_plugins(enabled=not no_plugins, local_dir=config_dir() / "plugins")
    catalog = collect_personas(manager, config_dir() / "personas")
    for problem in manager.problems:
        warn(f"plugin {problem.plugin} disabled ({problem.where}): {problem.message}")
    for message in catalog.problems:
        warn(message)
    return catalog


@app.command("list")
def list_personas(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
    no_plugins: NoPluginsOption = False,
) -> None:
    """List personas; the default one is marked with *."""
    from mmchat.config import ConfigError, load_settings

    catalog = load_catalog(no_plugins)
    try:
        default = load_settings().persona or "assistant"
    except ConfigError as exc:
        warn(str(exc))
        default = "assistant"
    personas = sorted(catalog.personas.values(), key=lambda p: p.name)
    if as_json:
        rows = [
            {"name": p.name, "description": p.fill(p.description), "source": p.source}
            for p in personas
        ]
        typer.echo(json_for_terminal(rows))
        return
    for persona in personas:
        mark = "*" if persona.name == default else " "
        description, source = (
            one_line(persona.fill(persona.description), 80),
            one_line(persona.source),
        )
        typer.echo(f"{mark} {persona.name:<20} {description}  [{source}]")


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Persona name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    no_plugins: NoPluginsOption = False,
) -> None:
    """Show a persona: its prompts (with variables filled in), overrides and rules."""
    from mmchat.personas import PersonaError

    catalog = load_catalog(no_plugins)
    try:
        persona = catalog.get(name)
    except PersonaError as exc:
        fail(str(exc), 2)
    data: dict[str, Any] = {
        "name": persona.name,
        "description": persona.fill(persona.description),
        "source": persona.source,
        "model": persona.model,
        "temperature": persona.temperature,
        "top_p": persona.top_p,
        "max_tokens": persona.max_tokens,
        "knowledge_bases": list(persona.knowledge_bases),
        "variables": persona.variables,
        "escalation": persona.escalation,
        "greeting": persona.render_greeting(),
        "system_prompt": persona.render_system_prompt(),
    }
    if as_json:
        typer.echo(json_for_terminal(data))
        return
    for key, value in data.items():
        if key in {"greeting", "system_prompt"}:
            continue
        if value not in (None, "", [], {}):
            shown = (
                json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value
            )
            typer.echo(one_line(f"{key}: {shown}"))
    for key in ("greeting", "system_prompt"):
        if data[key]:
            typer.echo(f"\n{key}:\n{strip_control(data[key])}")


@app.command("new")
def new(
    name: Annotated[str, typer.Argument(help="Persona name, e.g. acme-support.")],
    directory: Annotated[
        Path, typer.Option("--dir", help="Where to create the package folder.")
    ] = Path("."),
    force: Annotated[bool, typer.Option(help="Overwrite files in an existing folder.")] = False,
) -> None:
    """Write a ready-to-install persona plugin package (pyproject, module, test)."""
    from mmchat.persona_template import TemplateError, write_package

    try:
        folder = write_package(name, directory, force=force)
    except TemplateError as exc:
        fail(str(exc), 2)
    typer.echo(f"created {folder}")
    typer.echo(f"install it: pip install -e {folder}")
    typer.echo(f"try it:     mmchat ask --persona {name} 'Hello'")
