"""Writing a file the person named: a new private file, never through a symbolic link."""

from __future__ import annotations

import errno
import os
from pathlib import Path


class WriteRefused(Exception):
    """The file was not written; the message is one line for a person."""


def write_private(path: Path, text: str | bytes, *, force: bool = False) -> None:
    """Write `text` (or bytes: an image) to `path` as 0600.

    An existing file is replaced only with `force`; a symbolic link is never followed, even
    with it (a link planted where an export goes would otherwise overwrite its target).
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    flags |= os.O_TRUNC if force else os.O_EXCL
    if path.is_symlink():
        raise WriteRefused(f"{path} is a symbolic link; not followed (name a new file)")
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise WriteRefused(f"{path} exists; pass --force to replace it") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise WriteRefused(f"{path} is a symbolic link; not followed") from None
        raise WriteRefused(f"cannot write {path}: {exc.strerror or exc}") from None
    data = text.encode("utf-8") if isinstance(text, str) else text
    with os.fdopen(fd, "wb") as out:
        os.fchmod(out.fileno(), 0o600)  # a replaced file keeps its old mode otherwise
        out.write(data)
