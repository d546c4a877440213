"""Pasting a bitmap from the system clipboard (Ctrl+V) with the platform's own tool.

Terminals paste text only, so the image is asked of the desktop's clipboard directly:
`wl-paste` (Wayland), `xclip` (X11), `pngpaste` or `osascript` (macOS), Windows PowerShell.
The tool runs with a time limit and a cap on what it may write (a clipboard owner that hangs,
or one that offers gigabytes, must not stall or sink the app); the bytes then pass the same
checks as an attached file and are saved in the data folder, so the picture is a file the
person can find again. Blocking: call it from a worker thread.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from hashlib import sha256
from pathlib import Path

from mmchat.config import data_dir, ensure_private_dir
from mmchat.images import MAX_FILE_BYTES, CheckedImage, ImageRejected, check_image_bytes
from mmchat.safe_write import WriteRefused, write_private
from mmchat.text import one_line

PASTE_SECONDS = 5.0  # a clipboard owner that does not answer (a frozen app) is given up on
NO_IMAGE = "No image on the clipboard"
# The types asked for, best first: PNG is lossless and what screenshot tools offer.
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/bmp", "image/gif", "image/tiff")
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
EXTENSIONS |= {"image/bmp": "bmp", "image/gif": "gif", "image/tiff": "tiff"}

# Windows PowerShell 5.1 (every Windows 10/11) has `Get-Clipboard -Format Image`; the PNG goes
# out as base64 text, which survives the console's text encoding.
POWERSHELL_SCRIPT = (
    "$ErrorActionPreference = 'Stop'; Add-Type -AssemblyName System.Drawing; "
    "$image = Get-Clipboard -Format Image; if ($null -eq $image) { exit 3 }; "
    "$stream = New-Object System.IO.MemoryStream; "
    "$image.Save($stream, [System.Drawing.Imaging.ImageFormat]::Png); "
    "[Console]::Out.Write([Convert]::ToBase64String($stream.ToArray()))"
)
OSASCRIPT_PNG = "the clipboard as «class PNGf»"


class PasteProblem(Exception):
    """Nothing was pasted; str() is one line for a person."""


@dataclass(frozen=True)
class PasteTool:
    kind: str  # "wayland", "x11", "pngpaste", "osascript" or "powershell"
    program: str  # the resolved executable


def choose_tool(platform: str | None = None, env: Mapping[str, str] | None = None) -> PasteTool:
    """The tool that reads images from this session's clipboard, or PasteProblem naming
    what to install."""
    platform = sys.platform if platform is None else platform
    env = os.environ if env is None else env
    candidates: list[tuple[str, str]]
    if platform == "win32":
        candidates, missing = [("powershell", "powershell")], "Windows PowerShell was not found"
    elif platform == "darwin":
        # osascript ships with macOS; pngpaste (Homebrew) is quicker and first when there.
        candidates = [("pngpaste", "pngpaste"), ("osascript", "osascript")]
        missing = "install pngpaste (brew install pngpaste)"
    else:
        wayland, x11 = bool(env.get("WAYLAND_DISPLAY")), bool(env.get("DISPLAY"))
        if not (wayland or x11):
            raise PasteProblem(
                "No clipboard to read images from: no Wayland or X11 display in this "
                "session (paste or drop the image file's path instead)"
            )
        # XWayland sessions set both: xclip serves when wl-paste is not installed.
        candidates = [("wayland", "wl-paste")] if wayland else []
        candidates += [("x11", "xclip")] if x11 else []
        missing = "install wl-clipboard (wl-paste)" if wayland else "install xclip"
    search = env.get("PATH", os.defpath)
    for kind, name in candidates:
        if program := shutil.which(name, path=search):
            return PasteTool(kind, program)
    raise PasteProblem(f"Cannot read images from the clipboard: {missing}")


def read_clipboard_image(
    platform: str | None = None, env: Mapping[str, str] | None = None
) -> tuple[CheckedImage, str]:
    """The clipboard's image, checked, and the name of the tool that read it."""
    tool = choose_tool(platform, env)
    name = Path(tool.program).stem
    data = _READERS[tool.kind](tool.program, dict(env if env is not None else os.environ))
    try:
        return check_image_bytes(data, "clipboard image"), name
    except ImageRejected as exc:
        raise PasteProblem(str(exc)) from None


def save_pasted(image: CheckedImage, folder: Path | None = None) -> CheckedImage:
    """Write the pasted image into the data folder; the record is renamed after the file."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    suffix = EXTENSIONS.get(image.mime, "png")
    name = f"pasted-{stamp}-{sha256(image.data).hexdigest()[:8]}.{suffix}"
    try:
        if folder is None:
            folder = ensure_private_dir(ensure_private_dir(data_dir()) / "pasted")
        path = ensure_private_dir(folder) / name
        if not (path.is_file() and not path.is_symlink()):  # else: this very image, this second
            write_private(path, image.data)
    except WriteRefused as exc:
        raise PasteProblem(f"Could not save the pasted image: {exc}") from None
    except OSError as exc:
        raise PasteProblem(f"Could not save the pasted image: {exc.strerror or exc}") from None
    return replace(image, name=name)


# -- one reader per tool: each returns the image's bytes or raises PasteProblem ------------


def _wayland(program: str, env: dict[str, str]) -> bytes:
    status, out, err = run_tool([program, "--list-types"], 64 * 1024, env)
    if status != 0:
        if "nothing is copied" in err.lower() or not err:
            raise PasteProblem(NO_IMAGE)
        raise PasteProblem(f"wl-paste failed: {err}")
    chosen = _pick_type(out)
    status, data, err = run_tool([program, "--no-newline", "--type", chosen], MAX_FILE_BYTES, env)
    return _checked_run("wl-paste", status, data, err)


def _x11(program: str, env: dict[str, str]) -> bytes:
    base = [program, "-selection", "clipboard"]
    status, out, err = run_tool([*base, "-t", "TARGETS", "-o"], 64 * 1024, env)
    if status != 0:
        if "not available" in err or not err:  # an empty clipboard has no TARGETS
            raise PasteProblem(NO_IMAGE)
        raise PasteProblem(f"xclip failed: {err}")
    chosen = _pick_type(out)
    status, data, err = run_tool([*base, "-t", chosen, "-o"], MAX_FILE_BYTES, env)
    return _checked_run("xclip", status, data, err)


def _pngpaste(program: str, env: dict[str, str]) -> bytes:
    status, data, err = run_tool([program, "-"], MAX_FILE_BYTES, env)
    if status != 0 and not data:
        raise PasteProblem(NO_IMAGE)  # pngpaste's only failure: no image it can read
    return _checked_run("pngpaste", status, data, err)


def _osascript(program: str, env: dict[str, str]) -> bytes:
    # The answer is AppleScript's text form of raw data, «data PNGf89504E47...»: hex, 2x.
    status, out, err = run_tool([program, "-e", OSASCRIPT_PNG], 2 * MAX_FILE_BYTES + 64, env)
    if status != 0:
        if "-1700" in err or "make the clipboard into" in err:
            raise PasteProblem(NO_IMAGE)
        raise PasteProblem(f"osascript failed: {err}")
    match = re.search(rb"PNGf([0-9A-Fa-f]*)", out)
    if match is None:
        raise PasteProblem("osascript gave no PNG data")
    return bytes.fromhex(match.group(1).decode("ascii"))


def _powershell(program: str, env: dict[str, str]) -> bytes:
    argv = [program, "-NoProfile", "-NonInteractive", "-STA", "-Command", POWERSHELL_SCRIPT]
    status, out, err = run_tool(argv, MAX_FILE_BYTES * 4 // 3 + 4, env)
    if status == 3:
        raise PasteProblem(NO_IMAGE)
    encoded = _checked_run("PowerShell", status, out, err)
    try:
        return base64.b64decode(b"".join(encoded.split()), validate=True)
    except ValueError:
        raise PasteProblem("PowerShell's answer was not an image (bad base64)") from None


_READERS: dict[str, Callable[[str, dict[str, str]], bytes]] = {
    "wayland": _wayland,
    "x11": _x11,
    "pngpaste": _pngpaste,
    "osascript": _osascript,
    "powershell": _powershell,
}


def _pick_type(listing: bytes) -> str:
    offered = {line.strip() for line in listing.decode("utf-8", "replace").splitlines()}
    for mime in IMAGE_TYPES:
        if mime in offered:
            return mime
    raise PasteProblem(NO_IMAGE)


def _checked_run(tool: str, status: int, data: bytes, err: str) -> bytes:
    if status != 0:
        raise PasteProblem(f"{tool} failed: {err or f'exit status {status}'}")
    if not data:
        raise PasteProblem(NO_IMAGE)
    return data


def run_tool(
    argv: list[str], cap: int, env: dict[str, str] | None = None, seconds: float | None = None
) -> tuple[int, bytes, str]:
    """Run `argv` with no terminal: (exit status, stdout, stderr's first line).

    Output past `cap` bytes is refused with the image size limit's message (the tool is ended
    rather than read to the end); past `seconds` the tool and its children are ended.
    """
    name, seconds = Path(argv[0]).name, PASTE_SECONDS if seconds is None else seconds
    with tempfile.TemporaryFile() as errors:
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,  # the terminal belongs to the app
                stdout=subprocess.PIPE,
                stderr=errors,
                env=env,
                # A process group of its own (POSIX), so ending it ends its children too.
                start_new_session=sys.platform != "win32",
                creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),
            )
        except OSError as exc:
            raise PasteProblem(f"Could not run {name}: {exc.strerror or exc}") from None
        chunks: list[bytes] = []
        reader = threading.Thread(target=_read_capped, args=(proc, cap, chunks), daemon=True)
        reader.start()
        reader.join(seconds)
        if reader.is_alive():
            _end(proc)
            proc.wait()
            raise PasteProblem(
                f"{name} did not answer within {seconds:g} s "
                "(the app that holds the clipboard may be busy)"
            )
        if sum(map(len, chunks)) > cap:
            raise PasteProblem(f"clipboard image: larger than {MAX_FILE_BYTES // 2**20} MiB")
        try:
            status = proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            _end(proc)  # it closed its output but does not exit
            status = proc.wait()
        errors.seek(0)
        err = one_line(errors.read(4096).decode("utf-8", "replace"), 200)
    return status, b"".join(chunks), err


def _read_capped(proc: subprocess.Popen[bytes], cap: int, chunks: list[bytes]) -> None:
    assert proc.stdout is not None
    total = 0
    while chunk := proc.stdout.read(1 << 16):
        chunks.append(chunk)
        total += len(chunk)
        if total > cap:
            _end(proc)
            break
    proc.stdout.close()


def _end(proc: subprocess.Popen[bytes]) -> None:
    try:
        if sys.platform == "win32":
            proc.kill()
        else:
            os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass  # already gone
