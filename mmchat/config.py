"""Settings and paths: the one module that knows where mmchat keeps things.

Nothing is written at import time. Paths come from platformdirs and can be moved with
environment variables: MMCHAT_HOME moves all three (a test seam and a portable install);
MMCHAT_DATA_DIR, MMCHAT_CONFIG_DIR and MMCHAT_CACHE_DIR move one each.
"""

from __future__ import annotations

import math
import os
import re
import stat
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

APP_NAME = "mmchat"


class ConfigError(Exception):
    """The settings file cannot be used; the message names the file and the cause."""


def _dir(kind: str, env: str) -> Path:
    if value := os.environ.get(env):
        return Path(value).expanduser()
    if home := os.environ.get("MMCHAT_HOME"):
        return Path(home).expanduser() / kind
    getter = {
        "data": platformdirs.user_data_dir,
        "config": platformdirs.user_config_dir,
        "cache": platformdirs.user_cache_dir,
    }[kind]
    return Path(getter(APP_NAME, appauthor=False))


def data_dir() -> Path:
    return _dir("data", "MMCHAT_DATA_DIR")


def config_dir() -> Path:
    return _dir("config", "MMCHAT_CONFIG_DIR")


def cache_dir() -> Path:
    return _dir("cache", "MMCHAT_CACHE_DIR")


def ensure_private_dir(path: Path) -> Path:
    """Create a directory readable by its owner alone (conversations are private)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def owned_dir_problem(path: Path) -> str | None:
    """Why files in `path` could have been put there by someone else, or None: a link, another
    user's folder, or one that others may write to."""
    try:
        status = path.lstat()
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if stat.S_ISLNK(status.st_mode):
        return "is a symbolic link"
    if not stat.S_ISDIR(status.st_mode):
        return "is not a folder"
    if status.st_uid != os.getuid():
        return "belongs to another user"
    if status.st_mode & 0o022:
        return f"others may write to it (mode {status.st_mode & 0o777:o})"
    return None


def ensure_owned_dir(path: Path) -> Path:
    """A folder whose contents only this user can have written: created 0700 if missing,
    refused (ConfigError) if it is a link, another user's, or writable by others."""
    ensure_private_dir(path)
    if (problem := owned_dir_problem(path)) is not None:
        raise ConfigError(f"{path} {problem}; not used")
    return path


def default_db_path() -> Path:
    if value := os.environ.get("MMCHAT_DB"):
        return Path(value).expanduser()
    return data_dir() / "mmchat.db"


def settings_path() -> Path:
    return config_dir() / "settings.toml"


@dataclass(frozen=True)
class Settings:
    """User settings: settings.toml in the config dir, then MMCHAT_* environment overrides."""

    model: str = "default"
    quant: str = "auto"
    # Sampling: None (unset) takes the model's own defaults; temperature 0 is exact greedy.
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    repeat_penalty: float | None = None
    max_tokens: int = 512
    persona: str = ""
    system: str = ""
    threads: int = 0  # 0: cores - 1 (at least 1), leaving a core to the UI
    servers: dict[str, ServerSettings] = field(default_factory=dict)  # [servers.NAME]
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ServerSettings:
    """An OpenAI-compatible model server, `[servers.NAME]` in settings.toml.

    The API key is never kept here: `api_key_env` names the environment variable that holds it
    (unset or empty: no key, as local servers need none)."""

    name: str
    base_url: str
    model: str = ""  # the model `--model NAME` means; empty: the one the server lists
    api_key_env: str = ""
    timeout: float = 60.0  # seconds without a byte from the server before the answer fails


# A server's name is what goes before ':' in `--model NAME:MODEL`, like a plugin engine prefix.
_SERVER_NAME = re.compile(r"[A-Za-z0-9][\w.-]{0,63}")
# The packaged models' short names (engine/registry.py's ALIASES; a test keeps the two equal):
# a server may not take one, or `--model default` would change meaning.
RESERVED_MODEL_NAMES = frozenset(
    {"default", "mmchat-default", "smollm2", "smollm2-135m"}
    | {"qwen2.5-coder", "qwen2.5-coder-0.5b", "qwen2.5-coder-0.5b-instruct"}
)
_SERVER_KEYS = {"base_url": str, "model": str, "api_key_env": str, "timeout": float}
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


_ENV = {
    "model": "MMCHAT_MODEL",
    "quant": "MMCHAT_QUANT",
    "temperature": "MMCHAT_TEMPERATURE",
    "top_p": "MMCHAT_TOP_P",
    "top_k": "MMCHAT_TOP_K",
    "repeat_penalty": "MMCHAT_REPEAT_PENALTY",
    "max_tokens": "MMCHAT_MAX_TOKENS",
    "persona": "MMCHAT_PERSONA",
    "system": "MMCHAT_SYSTEM",
    "threads": "MMCHAT_THREADS",
}


_SAMPLING_RULES: dict[str, tuple[Callable[[float], bool], str]] = {
    "temperature": (lambda v: v >= 0, "0 or more (0 = greedy)"),
    "top_p": (lambda v: 0 < v <= 1, "more than 0 and at most 1"),
    "top_k": (lambda v: v >= 0, "0 (off) or more"),
    "repeat_penalty": (lambda v: v > 0, "more than 0 (1 = off)"),
}


def sampling_problem(name: str, value: object) -> str | None:
    """Why `value` cannot be the sampling setting `name` (temperature, top_p, top_k,
    repeat_penalty), as "must be ..., got ...", or None; None itself is fine (the model's
    default). Flags, settings and personas all check with it."""
    if value is None:
        return None
    accepts, rule = _SAMPLING_RULES[name]
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)  # an infinite temperature would pass its rule
        or not accepts(value)
    ):
        return f"must be {rule}, got {value!r}"
    return None


def _coerce(name: str, value: Any, source: str) -> Any:
    kind = str({f.name: f.type for f in fields(Settings)}[name])
    optional = kind.endswith(" | None")
    kind = kind.removesuffix(" | None")
    if optional and value == "":
        return None  # an empty variable: unset, the model's default
    wrong = f"{source}: '{name}' must be {'an' if kind == 'int' else 'a'} {kind}, got {value!r}"
    if kind in ("float", "int") and (
        isinstance(value, bool) or kind == "int" and isinstance(value, float)
    ):
        raise ConfigError(wrong)
    try:
        if kind == "float":
            result: Any = float(value)
        elif kind == "int":
            result = int(value)
        else:
            return str(value)
    except (TypeError, ValueError):
        raise ConfigError(wrong) from None
    if name in _SAMPLING_RULES and (problem := sampling_problem(name, result)):
        raise ConfigError(f"{source}: '{name}' {problem}")
    return result


def load_settings(path: Path | None = None) -> Settings:
    path = path or settings_path()
    settings = Settings()
    if path.is_file():
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc}); fix or delete it") from None
        known = {f.name for f in fields(Settings)} - {"extra", "servers"}
        values = {k: _coerce(k, v, str(path)) for k, v in raw.items() if k in known}
        extra = {k: v for k, v in raw.items() if k not in known and k != "servers"}
        servers = _servers(raw.get("servers", {}), str(path))
        settings = replace(settings, **values, servers=servers, extra=extra)
    overrides = {
        name: _coerce(name, os.environ[env], env) for name, env in _ENV.items() if env in os.environ
    }
    return replace(settings, **overrides)


def _servers(raw: object, source: str) -> dict[str, ServerSettings]:
    """The `[servers.NAME]` tables, checked: a ConfigError names the server and the key."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: 'servers' must be tables like [servers.NAME]")
    servers: dict[str, ServerSettings] = {}
    for name, table in raw.items():
        where = f"{source}: [servers.{name}]"
        if not _SERVER_NAME.fullmatch(name):
            raise ConfigError(
                f"{where}: a server name is letters, digits, '.', '_' or '-' (at most 64)"
            )
        if name.lower() in RESERVED_MODEL_NAMES:
            raise ConfigError(f"{where}: '{name}' is a packaged model's name; pick another")
        if not isinstance(table, dict):
            raise ConfigError(f"{where} must be a table (base_url = ..., model = ...)")
        if "api_key" in table:  # not echoed: the value is a secret
            raise ConfigError(
                f"{where}: a key is never kept in settings; put it in an environment variable "
                "and name that variable in 'api_key_env'"
            )
        if unknown := sorted(set(table) - set(_SERVER_KEYS)):
            raise ConfigError(
                f"{where}: unknown key '{unknown[0]}' (known: {', '.join(_SERVER_KEYS)})"
            )
        for key, kind in _SERVER_KEYS.items():
            value = table.get(key)
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if value is not None and not (isinstance(value, str) if kind is str else number):
                raise ConfigError(
                    f"{where}: '{key}' must be {'a string' if kind is str else 'a number'}, "
                    f"got {value!r}"
                )
        base_url = str(table.get("base_url", "")).strip()
        if not re.match(r"https?://[^/\s]+", base_url):
            raise ConfigError(
                f"{where}: 'base_url' must be an http:// or https:// URL like "
                f"http://localhost:8080/v1, got {base_url!r}"
            )
        key_env = str(table.get("api_key_env", "")).strip()
        if key_env and not _ENV_NAME.fullmatch(key_env):
            raise ConfigError(
                f"{where}: 'api_key_env' is the NAME of an environment variable holding the "
                "key (like OPENAI_API_KEY), never the key itself"
            )
        timeout = float(table.get("timeout", 60.0))
        if not (math.isfinite(timeout) and timeout > 0):
            raise ConfigError(f"{where}: 'timeout' must be more than 0 seconds, got {timeout!r}")
        servers[name] = ServerSettings(
            name=name,
            base_url=base_url.rstrip("/"),
            model=str(table.get("model", "")).strip(),
            api_key_env=key_env,
            timeout=timeout,
        )
    return servers


def engine_threads(settings: Settings) -> int:
    if settings.threads > 0:
        return settings.threads
    return max(1, (os.cpu_count() or 2) - 1)
