"""`mmchat personas new`: a persona plugin package, ready to `pip install -e` and to test.

The files are templates beside this module ($name placeholders, string.Template), so the
skeleton is plain text that can be read and changed without touching Python code.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from string import Template

from mmchat.personas import NAME_PATTERN

# template file -> where it goes in the package folder ($module is the import name)
FILES = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "module.py.tmpl": "$module/__init__.py",
    "test_persona.py.tmpl": "tests/test_$module.py",
}


class TemplateError(Exception):
    """The package cannot be written; the message names the cause."""


def names(persona: str) -> dict[str, str]:
    if not NAME_PATTERN.fullmatch(persona) or not re.match(r"[A-Za-z]", persona):
        raise TemplateError(
            f"bad persona name {persona!r:.70}: start with a letter; then letters, digits, "
            "'.', '_' or '-'"
        )
    ident = re.sub(r"[^a-z0-9]+", "_", persona.lower()).strip("_")
    return {
        "name": persona,
        "dist": f"mmchat-persona-{ident.replace('_', '-')}",
        "module": f"mmchat_persona_{ident}",
        "title": persona.replace("-", " ").replace("_", " ").title(),
    }


def write_package(persona: str, directory: Path, *, force: bool = False) -> Path:
    """Write the package folder under `directory`; refuse to overwrite unless `force`."""
    values = names(persona)
    folder = directory / values["dist"]
    if folder.exists() and not force:
        raise TemplateError(f"{folder} already exists (use --force to overwrite its files)")
    templates = resources.files(__package__)
    try:
        for template, target in FILES.items():
            text = Template(templates.joinpath(template).read_text(encoding="utf-8"))
            path = folder / Template(target).substitute(values)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text.substitute(values), encoding="utf-8")
    except OSError as exc:
        raise TemplateError(f"cannot write {folder}: {exc.strerror or exc}") from None
    return folder
