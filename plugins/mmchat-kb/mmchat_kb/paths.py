"""Where knowledge bases live (kb/NAME/ in mmchat's data dir) and which names are allowed."""

from __future__ import annotations

import os
import re
from pathlib import Path

from mmchat.hooks import plugin_data_dir

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class KBError(Exception):
    """A knowledge-base operation cannot go on; the message is one line for the person."""


def kb_root() -> Path:
    return plugin_data_dir("kb")


def check_name(name: str) -> str:
    if not _NAME.match(name) or ".." in name:
        raise KBError(
            f"{name!r} is not a usable knowledge-base name: use letters, digits, '-', '_' "
            "or '.', at most 64 characters"
        )
    return name


def kb_dir(name: str) -> Path:
    return kb_root() / check_name(name)


def db_path(name: str) -> Path:
    return kb_dir(name) / "index.sqlite"


def path_key(path: Path | str) -> str:
    """A file's path as stored and shown: bytes that are not UTF-8 (a Latin-1 file name) become
    backslash escapes, since SQLite text and the terminal need valid UTF-8."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_text(text: str) -> str:
    """Lone surrogates (from a broken PDF text map) cannot be stored: U+FFFD in their place."""
    return _SURROGATE.sub("\ufffd", text)
