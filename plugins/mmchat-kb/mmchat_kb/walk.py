"""Which files an `add` covers: named files as given, folders walked for supported types."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from mmchat_kb.extract import kind_of
from mmchat_kb.paths import path_key


@dataclass
class Outcome:
    """What happened to one file, for the person: a status and a one-line reason."""

    path: str
    status: str  # added, updated, unchanged, skipped, failed
    chunks: int = 0
    message: str = ""


@dataclass
class FileList:
    files: list[tuple[Path, str]] = field(default_factory=list)  # (path, kind)
    problems: list[Outcome] = field(default_factory=list)
    ignored: int = 0  # files of other types inside the folders


def collect(paths: Iterable[Path]) -> FileList:
    found = FileList()
    seen: set[Path] = set()

    def add(path: Path) -> None:
        real = path.resolve()
        if real not in seen:
            seen.add(real)
            found.files.append((real, kind_of(real) or ""))

    for given in paths:
        path = Path(given).expanduser()
        if path.is_dir():
            for file in _walk(path, found):
                add(file)
        elif not path.exists():
            status = "failed" if not path.is_symlink() else "skipped"
            reason = "does not exist" if status == "failed" else "is a broken link"
            found.problems.append(_problem(path, status, reason))
        elif not path.is_file():
            found.problems.append(_problem(path, "skipped", "is not a regular file"))
        elif kind_of(path) is None:
            found.problems.append(
                Outcome(
                    path_key(path), "skipped", message=f"is not a supported type ({_ext(path)})"
                )
            )
        else:
            add(path)
    return found


def _problem(path: Path | str, status: str, message: str) -> Outcome:
    return Outcome(path_key(path), status, message=message)


def _ext(path: Path) -> str:
    return path.suffix.lower() or "no extension"


def _walk(root: Path, found: FileList) -> list[Path]:
    """Supported files under `root`, sorted, hidden files and folders left out.

    A link to a file outside `root` is not followed: a downloaded folder's `notes.txt` could
    point at ~/.ssh/id_rsa, and its text would be stored and quoted to the model. (Folder links
    are never descended: os.walk does not follow them.)
    """
    out: list[Path] = []
    top = root.resolve()
    for folder, dirs, names in os.walk(root, onerror=lambda e: _unreadable(e, found)):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            path = Path(folder, name)
            if name.startswith(".") or kind_of(path) is None:
                found.ignored += 1
            elif path.is_symlink() and not path.resolve().is_relative_to(top):
                reason = "is a link to a file outside the folder; not followed"
                found.problems.append(_problem(path, "skipped", reason))
            elif path.is_file():
                out.append(path)
            else:
                found.problems.append(
                    Outcome(
                        path_key(path), "skipped", message="is not a regular file or a broken link"
                    )
                )
    return out


def _unreadable(error: OSError, found: FileList) -> None:
    found.problems.append(
        Outcome(
            path_key(str(error.filename)), "failed", message=f"cannot be read ({error.strerror})"
        )
    )
