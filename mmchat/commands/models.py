"""`mmchat models`: the models mmchat can run here, and which is the default."""

from __future__ import annotations

import typer

from mmchat.commands.common import NoPluginsOption, warn
from mmchat.text import one_line


def models(no_plugins: NoPluginsOption = False) -> None:
    """List known and installed models, model servers and plugin engines; the default is
    marked with *."""
    from mmchat.config import cache_dir, config_dir, load_settings
    from mmchat.engine.plugin import describe, plugin_engines
    from mmchat.engine.registry import ALIASES, UnknownModel, installed, resolve
    from mmchat.plugin_manager import load_plugins

    manager = load_plugins(enabled=not no_plugins, local_dir=config_dir() / "plugins")
    engines = plugin_engines(manager)
    for problem in manager.problems:
        warn(f"plugin {problem.plugin} disabled ({problem.where}): {problem.message}")
    settings = load_settings()
    default = settings.model
    servers = {name: server.model for name, server in settings.servers.items()}
    try:
        owners = {p: owner for p, (owner, _) in engines.items()}
        default_name = resolve(default, owners, servers).name
    except UnknownModel as exc:
        default_name = default
        warn(f"the default model in settings is not usable: {exc}")
    hints: list[str] = []
    for alias in dict.fromkeys(ALIASES.values()):
        spec = resolve(alias)
        mark = "*" if default_name == spec.name else " "
        here, where = installed(spec)
        state = "installed" if here else "not installed"
        typer.echo(f"{mark} {spec.name:<24} {state:<14} {spec.description}")
        if not here and where not in hints:
            hints.append(where)
            typer.echo(f"  ({one_line(where)})")
    for name, server in settings.servers.items():
        shown = f"{name}:{server.model}" if server.model else f"{name}:<model>"
        mark = "*" if default_name == name or default_name.startswith(f"{name}:") else " "
        key = f", key from ${server.api_key_env}" if server.api_key_env else ""
        about = one_line(f"{server.base_url}{key}", 100)
        typer.echo(f"{mark} {one_line(shown, 60):<24} {'model server':<14} {about}")
        if name in engines:
            warn(
                f"server {name} in settings hides the engine prefix '{name}:' of plugin "
                f"{engines[name][0]}"
            )
    for prefix, (plugin, factory) in engines.items():
        if prefix in settings.servers:
            continue
        mark = "*" if default_name.startswith(f"{prefix}:") else " "
        about = one_line(" - ".join(filter(None, [f"plugin {plugin}", describe(factory)])), 100)
        typer.echo(f"{mark} {one_line(prefix, 60) + ':<name>':<24} {'plugin engine':<14} {about}")
    converted = cache_dir() / "models"
    if converted.is_dir():
        for folder in sorted(converted.iterdir()):
            if folder.name.startswith("gguf-") and (folder / ".complete").is_file():
                shown = one_line(str(folder))
                typer.echo(f"  {shown:<24} converted GGUF (pass the .gguf path or this folder)")
    for repo in _hub_cache():
        mark = "*" if default == repo else " "
        typer.echo(f"{mark} {one_line(repo):<24} {'in hub cache':<14} Hugging Face model")


def _hub_cache() -> list[str]:
    try:
        from huggingface_hub import scan_cache_dir

        return sorted(r.repo_id for r in scan_cache_dir().repos if r.repo_type == "model")
    except Exception:  # no cache yet, or an unreadable one: nothing to list
        return []
