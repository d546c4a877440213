"""Installed versions against .ci/floors.toml: exit 1 when any package is below its floor.

Runs with no network, so CI always checks something even where pip-audit reaches no
vulnerability service. A package that is not installed is reported and passes (it cannot be
vulnerable here).
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from packaging.version import InvalidVersion, Version

TABLE = Path(__file__).with_name("floors.toml")


def installed_version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def check(
    floors: dict[str, dict[str, str]], installed: Callable[[str], str | None]
) -> tuple[list[str], list[str]]:
    """(lines to print, problems): one line per package; a problem per package below its floor
    or with a version that cannot be compared."""
    lines: list[str] = []
    problems: list[str] = []
    for package, floor in sorted(floors.items()):
        minimum = Version(floor["minimum"])
        found = installed(package)
        if found is None:
            lines.append(f"  {package}: not installed")
            continue
        try:
            # A local build tag (torch 2.13.0+cpu) is the same release.
            version = Version(Version(found).base_version)
        except InvalidVersion:
            problems.append(f"{package} {found}: not a version that can be compared")
            continue
        if version < minimum:
            problems.append(f"{package} {found} is below {minimum}: {floor['advisory']}")
        else:
            lines.append(f"  {package} {found} >= {minimum}")
    return lines, problems


def main() -> int:
    table = Path(sys.argv[1]) if len(sys.argv) > 1 else TABLE
    floors = tomllib.loads(table.read_text(encoding="utf-8"))
    lines, problems = check(floors, installed_version)
    print(f"version floors ({table}):")
    print("\n".join(lines))
    for problem in problems:
        print(f"BELOW FLOOR: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
