"""The `mmchat` command: the TUI with no subcommand, and scriptable subcommands."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from mmchat.commands import (
    ask,
    doctor,
    history,
    models,
    personas,
    plugins,
    setup,
    tools,
    train,
)
from mmchat.commands.common import DbOption, NoPluginsOption, fail

app = typer.Typer(
    name="mmchat",
    help="A local multimodal chat assistant for the terminal.",
    invoke_without_command=True,
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("ask")(ask.ask)
app.command("models")(models.models)
app.command("doctor")(doctor.doctor)
app.command("setup")(setup.setup)
app.command("train-fusion")(train.train_fusion)
app.add_typer(history.app, name="history")
app.add_typer(personas.app, name="personas")
app.command("plugins")(plugins.plugins)
app.command("tools")(tools.tools)
app.command("export")(history.export)  # the same as `history export`, for short


@app.callback()
def launch(
    ctx: typer.Context,
    model: Annotated[
        str | None, typer.Option(help="Model name, folder, .gguf, hub id or plugin:name.")
    ] = None,
    persona: Annotated[str | None, typer.Option(help="Persona for new conversations.")] = None,
    db: DbOption = None,
    no_plugins: NoPluginsOption = False,
) -> None:
    """Open the chat TUI (with no subcommand)."""
    if no_plugins:
        # Written before a subcommand, the flag must still reach it (and the engine process,
        # which inherits the environment): load_plugins honours MMCHAT_NO_PLUGINS everywhere.
        os.environ["MMCHAT_NO_PLUGINS"] = "1"
    if ctx.invoked_subcommand is not None:
        return
    try:
        from mmchat.tui.launch import run_tui
    except ImportError as exc:
        fail(f"the TUI is not available: {exc}")
    run_tui(model=model, persona=persona, db=Path(db) if db else None, plugins=not no_plugins)


def _add_plugin_commands() -> None:
    """Plugins may add subcommands; a plugin that fails here is skipped, not fatal."""
    if "--no-plugins" in sys.argv:
        return
    from mmchat.commands.common import warn
    from mmchat.commands.plugin_commands import add_commands
    from mmchat.config import config_dir
    from mmchat.plugin_manager import load_plugins

    manager = load_plugins(local_dir=config_dir() / "plugins")
    loaded = len(manager.problems)  # load failures: reported by the command that uses plugins
    add_commands(manager, app)
    for problem in manager.problems[loaded:]:
        warn(f"plugin {problem.plugin} disabled ({problem.where}): {problem.message}")


def main() -> None:
    _add_plugin_commands()
    app()


if __name__ == "__main__":
    main()
