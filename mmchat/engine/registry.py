"""Model specs: what a name on the command line means, before anything heavy is imported."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mmchat.engine.assets import SMOLLM2_GGUF, AssetMissing
from mmchat.engine.parted import QWEN_CODER

SpecKind = Literal["default", "fusion", "gguf", "folder", "hub", "plugin", "server"]

DEFAULT_NAME = "default"
# Short names for the packaged models; anything else is a path or a hub id.
ALIASES = {
    "default": "default",
    "mmchat-default": "default",
    "smollm2": "smollm2",
    "smollm2-135m": "smollm2",
    "qwen2.5-coder": "qwen2.5-coder",
    "qwen2.5-coder-0.5b": "qwen2.5-coder",
    "qwen2.5-coder-0.5b-instruct": "qwen2.5-coder",
}
PACKAGED_GGUF = {
    "smollm2": "SmolLM2-135M-Instruct, text only",
    "qwen2.5-coder": "Qwen2.5-Coder-0.5B-Instruct (Q4_K_M), text and code",
}

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# "prefix:rest": a model backend a plugin registered with `register_engines`.
ENGINE_PREFIX = re.compile(r"[A-Za-z0-9][\w.-]{0,63}")
_PLUGIN_MODEL = re.compile(r"^([A-Za-z0-9][\w.-]{0,63}):(.*)$", re.DOTALL)


@dataclass(frozen=True)
class ModelSpec:
    name: str  # what the person typed, normalised
    kind: SpecKind
    location: str  # folder, file or hub id
    vision: bool = False
    description: str = ""
    plugin: str = ""  # kind "plugin": the plugin that registered the name's prefix
    server: str = ""  # kind "server": the [servers.NAME] in settings; location is the model


class UnknownModel(Exception):
    """The name is neither a known alias, an existing path, nor a hub id."""


def resolve(
    name: str | None,
    engines: Mapping[str, str] | None = None,
    servers: Mapping[str, str] | None = None,
) -> ModelSpec:
    """What `name` means; `engines` maps the plugin engine prefixes to their plugins, `servers`
    the model servers named in settings to their default models ("": the server's own).

    A server and a plugin prefix with the same name: the server wins (settings are the person's
    own choice; `mmchat models` says which plugin engine it hides)."""
    name = (name or DEFAULT_NAME).strip()
    engines = engines or {}
    servers = servers or {}
    plugin_model = _PLUGIN_MODEL.match(name)
    alias = ALIASES.get(name.lower())
    if alias == "default":
        return ModelSpec(
            "default",
            "default",
            "mmchat/assets/fusion-default",
            vision=True,
            description="SmolLM2-135M-Instruct + ViT-S/14 encoder, cross-attention fusion",
        )
    if alias in PACKAGED_GGUF:
        return ModelSpec(alias, "gguf", f"packaged:{alias}", description=PACKAGED_GGUF[alias])
    if name in servers:
        return _server_spec(name, servers[name])
    if plugin_model is not None and plugin_model.group(1) in servers:
        server, model = plugin_model.groups()
        return _server_spec(server, model.strip() or servers[server])
    if plugin_model is not None and plugin_model.group(1) in engines:
        prefix, rest = plugin_model.groups()
        owner = engines[prefix]
        return ModelSpec(name, "plugin", rest, description=f"plugin {owner}", plugin=owner)
    path = Path(os.path.expanduser(name))
    if path.is_file() and path.suffix.lower() == ".gguf":
        return ModelSpec(str(path.resolve()), "gguf", str(path.resolve()))
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise UnknownModel(f"{path} is a folder but has no config.json: not a model folder")
        if _is_fusion_folder(path):
            return ModelSpec(str(path.resolve()), "fusion", str(path.resolve()), vision=True)
        return ModelSpec(str(path.resolve()), "folder", str(path.resolve()))
    if path.suffix.lower() == ".gguf" or name.startswith((".", "/", "~")):
        raise UnknownModel(f"no model file or folder at {path}")
    if plugin_model is not None:
        known = ", ".join(f"{p}: from {engines[p]}" for p in sorted(engines)) or "none"
        named = f"; servers in settings: {', '.join(sorted(servers))}" if servers else ""
        raise UnknownModel(
            f"unknown model {name!r}: no plugin registers the engine prefix "
            f"'{plugin_model.group(1)}:' (plugin engines: {known}{named}; see mmchat models)"
        )
    if _HUB_ID.match(name):
        return ModelSpec(name, "hub", name)
    known = ", ".join(sorted(set(ALIASES)))
    raise UnknownModel(
        f"unknown model {name!r}: use one of {known}, a local folder, a .gguf file, "
        "or a Hugging Face id like org/name"
    )


def _server_spec(server: str, model: str) -> ModelSpec:
    return ModelSpec(
        f"{server}:{model}" if model else server,
        "server",
        model,
        vision=True,  # the server decides; one without vision answers an image with an error
        description=f"model server {server}",
        server=server,
    )


def _is_fusion_folder(path: Path) -> bool:
    """A folder written by `mmchat train-fusion`: only the fusion layers, not a whole model."""
    try:
        return bool(
            json.loads((path / "config.json").read_text()).get("model_type") == "mmchat-fusion"
        )
    except (OSError, ValueError, AttributeError):
        return False


def default_installed() -> tuple[bool, str]:
    """Whether the packaged default weights are installed, and where or how to install them."""
    try:
        return True, str(SMOLLM2_GGUF.locate())
    except AssetMissing as exc:
        return False, str(exc)


def installed(spec: ModelSpec) -> tuple[bool, str]:
    """Whether a packaged model's weights are here, and where, or the command installing them.
    Anything else counts as installed: its own load says what is wrong."""
    if spec.location == f"packaged:{QWEN_CODER.alias}":
        try:
            return True, str(QWEN_CODER.locate())
        except AssetMissing as exc:
            return False, str(exc)
    if spec.kind == "default" or spec.location == "packaged:smollm2":
        return default_installed()
    return True, spec.location


def setup_command(spec: ModelSpec) -> str:
    """The command that installs a packaged model's weights."""
    if spec.location == f"packaged:{QWEN_CODER.alias}":
        return QWEN_CODER.setup_hint
    return "mmchat setup"
