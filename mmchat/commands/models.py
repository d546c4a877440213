"""`mmchat models`: the models mmchat can run here, and which is the default."""

from __future__ import annotations

import typer

from mmchat.text import one_line


def models() -> None:
    """List known and installed models; the default is marked with *."""
    from mmchat.config import cache_dir, load_settings
    from mmchat.engine.registry import ALIASES, default_installed, resolve

    default = load_settings().model
    installed, where = default_installed()
    seen: set[str] = set()
    for alias in ALIASES.values():
        if alias in seen:
            continue
        seen.add(alias)
        spec = resolve(alias)
        mark = "*" if resolve(default).name == spec.name else " "
        state = "installed" if installed else "not installed"
        typer.echo(f"{mark} {spec.name:<24} {state:<14} {spec.description}")
    if not installed:
        typer.echo(f"  ({one_line(where)})")
    converted = cache_dir() / "models"
    if converted.is_dir():
        for folder in sorted(converted.iterdir()):
            if folder.name.startswith("gguf-") and (folder / ".complete").is_file():
                typer.echo(
                    f"  {str(folder):<24} converted GGUF (pass the .gguf path or this folder)"
                )
    for repo in _hub_cache():
        mark = "*" if default == repo else " "
        typer.echo(f"{mark} {repo:<24} {'in hub cache':<14} Hugging Face model")


def _hub_cache() -> list[str]:
    try:
        from huggingface_hub import scan_cache_dir

        return sorted(r.repo_id for r in scan_cache_dir().repos if r.repo_type == "model")
    except Exception:  # no cache yet, or an unreadable one: nothing to list
        return []
