"""Reading the clipboard's image: which tool each platform uses, what each tool's answers
mean, and the tool's failures (missing, hanging, too much output, not an image).

wl-paste needs a Wayland compositor, pngpaste and osascript need macOS, and PowerShell's
Get-Clipboard needs Windows; none runs on this Linux test machine. For those, a small
executable script first on PATH stands in for the program and writes what the real one writes
(its type listing, its bytes, its error text and exit status), so mmchat's side (the
arguments it passes, how it reads and checks the answer) runs for real. xclip runs for real
against an Xvfb server where both are installed.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from x11_clipboard import put_on_clipboard, xvfb_display

from mmchat.config import data_dir
from mmchat.images import MAX_FILE_BYTES, check_image_bytes
from mmchat.tui import clipboard_image
from mmchat.tui.clipboard_image import (
    NO_IMAGE,
    PasteProblem,
    choose_tool,
    read_clipboard_image,
    save_pasted,
)

CAT = shutil.which("cat") or "/bin/cat"
SLEEP = shutil.which("sleep") or "/bin/sleep"


def png_bytes(size: tuple[int, int] = (30, 20)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (250, 200, 0)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    path = tmp_path / "bin"
    path.mkdir()
    return path


def stand_in(bin_dir: Path, name: str, body: str) -> Path:
    """An executable `name` in bin_dir running the shell `body`."""
    tool = bin_dir / name
    tool.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    return tool


def emits(tmp_path: Path, data: bytes, status: int = 0, err: str = "") -> str:
    """Shell lines that write `data` to stdout and `err` to stderr, then exit with `status`."""
    out = tmp_path / f"out-{len(list(tmp_path.iterdir()))}"
    out.write_bytes(data)
    errors = f"printf '%s\\n' \"{err}\" >&2\n" if err else ""
    return f"{CAT} '{out}'\n{errors}exit {status}"


@pytest.mark.parametrize(
    ("platform", "display", "present", "expected"),
    [
        ("linux", {"WAYLAND_DISPLAY": "w-0", "DISPLAY": ":0"}, ["wl-paste", "xclip"], "wayland"),
        ("linux", {"WAYLAND_DISPLAY": "w-0", "DISPLAY": ":0"}, ["xclip"], "x11"),  # XWayland
        ("linux", {"DISPLAY": ":0"}, ["wl-paste", "xclip"], "x11"),
        ("linux", {"WAYLAND_DISPLAY": "w-0"}, ["xclip"], "install wl-clipboard (wl-paste)"),
        ("linux", {"DISPLAY": ":0"}, ["wl-paste"], "install xclip"),
        ("linux", {}, ["wl-paste", "xclip"], "no Wayland or X11 display"),
        ("darwin", {}, ["pngpaste", "osascript"], "pngpaste"),
        ("darwin", {}, ["osascript"], "osascript"),
        ("darwin", {}, [], "install pngpaste (brew install pngpaste)"),
        ("win32", {}, ["powershell"], "powershell"),
        ("win32", {}, [], "Windows PowerShell was not found"),
    ],
)
def test_the_tool_follows_the_platform_and_the_session(
    bin_dir: Path, platform: str, display: dict[str, str], present: list[str], expected: str
) -> None:
    for name in present:
        stand_in(bin_dir, name, "exit 0")
    env = {"PATH": str(bin_dir), **display}
    if expected in ("wayland", "x11", "pngpaste", "osascript", "powershell"):
        tool = choose_tool(platform, env)
        assert tool.kind == expected
        assert Path(tool.program).parent == bin_dir
    else:
        with pytest.raises(PasteProblem, match=expected.replace("(", r"\(").replace(")", r"\)")):
            choose_tool(platform, env)


def test_wl_paste_is_asked_for_png_among_the_offered_types(bin_dir: Path, tmp_path: Path) -> None:
    data, calls = png_bytes(), tmp_path / "calls"
    listing = emits(tmp_path, b"text/plain;charset=utf-8\nimage/jpeg\nimage/png\n")
    stand_in(
        bin_dir,
        "wl-paste",
        f'echo "$*" >> \'{calls}\'\nif [ "$1" = --list-types ]; then\n{listing}\nfi\n'
        + emits(tmp_path, data),
    )
    env = {"PATH": str(bin_dir), "WAYLAND_DISPLAY": "wayland-1"}
    image, tool = read_clipboard_image("linux", env)
    assert (image.data, image.width, image.height, tool) == (data, 30, 20, "wl-paste")
    assert calls.read_text().splitlines() == ["--list-types", "--no-newline --type image/png"]


@pytest.mark.parametrize(
    ("listing", "status", "err", "expected"),
    [
        (b"text/plain\nUTF8_STRING\n", 0, "", NO_IMAGE),
        (b"", 1, "Nothing is copied", NO_IMAGE),
        (b"", 1, "Failed to connect to a Wayland server", "wl-paste failed: Failed to connect"),
    ],
    ids=["text-only", "empty", "no-compositor"],
)
def test_wl_paste_without_an_image(
    bin_dir: Path, tmp_path: Path, listing: bytes, status: int, err: str, expected: str
) -> None:
    stand_in(bin_dir, "wl-paste", emits(tmp_path, listing, status, err))
    with pytest.raises(PasteProblem, match=expected):
        read_clipboard_image("linux", {"PATH": str(bin_dir), "WAYLAND_DISPLAY": "wayland-1"})


def test_osascript_png_data_is_read_from_its_hex_answer(bin_dir: Path, tmp_path: Path) -> None:
    data = png_bytes((7, 5))
    answer = f"«data PNGf{data.hex().upper()}»\n".encode()
    stand_in(bin_dir, "osascript", emits(tmp_path, answer))
    image, tool = read_clipboard_image("darwin", {"PATH": str(bin_dir)})
    assert (image.data, image.width, tool) == (data, 7, "osascript")


def test_osascript_and_pngpaste_without_an_image(bin_dir: Path, tmp_path: Path) -> None:
    err = "execution error: Can’t make the clipboard into type «class PNGf». (-1700)"
    stand_in(bin_dir, "osascript", emits(tmp_path, b"", 1, err))
    with pytest.raises(PasteProblem, match=NO_IMAGE):
        read_clipboard_image("darwin", {"PATH": str(bin_dir)})
    stand_in(bin_dir, "pngpaste", emits(tmp_path, b"", 1, "No PNG data found on the clipboard!"))
    with pytest.raises(PasteProblem, match=NO_IMAGE):
        read_clipboard_image("darwin", {"PATH": str(bin_dir)})


def test_pngpaste_output_over_the_size_cap_is_refused(bin_dir: Path) -> None:
    head = shutil.which("head") or "/usr/bin/head"
    stand_in(bin_dir, "pngpaste", f"{head} -c {MAX_FILE_BYTES + 4096} /dev/zero")
    with pytest.raises(PasteProblem, match=r"^clipboard image: larger than 25 MiB$"):
        read_clipboard_image("darwin", {"PATH": str(bin_dir)})


def test_powershell_base64_answer_and_its_no_image_status(bin_dir: Path, tmp_path: Path) -> None:
    import base64

    data, args = png_bytes((9, 4)), tmp_path / "args"
    body = f"printf '%s\\n' \"$@\" > '{args}'\n" + emits(tmp_path, base64.b64encode(data))
    stand_in(bin_dir, "powershell", body)
    image, _ = read_clipboard_image("win32", {"PATH": str(bin_dir)})
    assert (image.data, image.width, image.height) == (data, 9, 4)
    assert "Get-Clipboard -Format Image" in args.read_text()
    stand_in(bin_dir, "powershell", "exit 3")  # the script's "no image" status
    with pytest.raises(PasteProblem, match=NO_IMAGE):
        read_clipboard_image("win32", {"PATH": str(bin_dir)})
    stand_in(bin_dir, "powershell", emits(tmp_path, b"%%% not base64 %%%"))
    with pytest.raises(PasteProblem, match="not an image"):
        read_clipboard_image("win32", {"PATH": str(bin_dir)})


def test_bytes_that_are_not_an_image_fail_the_image_checks(bin_dir: Path, tmp_path: Path) -> None:
    stand_in(bin_dir, "pngpaste", emits(tmp_path, b"\x89PNG\r\n\x1a\n" + b"\0" * 64))
    with pytest.raises(PasteProblem, match=r"^clipboard image: (damaged|not an image)"):
        read_clipboard_image("darwin", {"PATH": str(bin_dir)})


def test_a_tool_that_hangs_is_ended_at_the_time_limit(
    bin_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid_file = tmp_path / "pid"
    stand_in(bin_dir, "xclip", f"echo $$ > '{pid_file}'\nexec {SLEEP} 60")
    monkeypatch.setattr(clipboard_image, "PASTE_SECONDS", 1.0)
    with pytest.raises(PasteProblem, match=r"^xclip did not answer within 1 s"):
        read_clipboard_image("linux", {"PATH": str(bin_dir), "DISPLAY": ":0"})
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)  # ended and reaped, not left running


def test_an_xclip_error_is_reported_in_one_line(bin_dir: Path, tmp_path: Path) -> None:
    stand_in(bin_dir, "xclip", emits(tmp_path, b"", 1, "Error: Can't open display: :5"))
    with pytest.raises(PasteProblem, match=r"^xclip failed: Error: Can't open display: :5$"):
        read_clipboard_image("linux", {"PATH": str(bin_dir), "DISPLAY": ":5"})


@pytest.fixture
def x11(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    with xvfb_display() as name:
        yield {"DISPLAY": name, "PATH": os.environ.get("PATH", os.defpath)}


def test_real_xclip_empty_clipboard_and_a_jpeg(x11: dict[str, str]) -> None:
    with pytest.raises(PasteProblem, match=f"^{NO_IMAGE}$"):
        read_clipboard_image("linux", x11)  # nothing owns the clipboard yet
    out = io.BytesIO()
    Image.new("RGB", (16, 12), (0, 0, 200)).save(out, format="JPEG")
    put_on_clipboard(x11["DISPLAY"], out.getvalue(), "image/jpeg")
    image, tool = read_clipboard_image("linux", x11)
    assert (image.mime, image.width, image.height, tool) == ("image/jpeg", 16, 12, "xclip")
    assert save_pasted(image).name.endswith(".jpg")


def test_saved_pastes_are_private_files_named_by_time_and_content() -> None:
    image = check_image_bytes(png_bytes(), "clipboard image")
    first = save_pasted(image)
    again = save_pasted(image)  # the same picture twice
    folder = data_dir() / "pasted"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    path = folder / first.name
    assert path.read_bytes() == image.data and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (folder / again.name).read_bytes() == image.data  # the same second: the same file
    digest = hashlib.sha256(image.data).hexdigest()[:8]
    assert first.name.startswith("pasted-") and first.name.endswith(f"-{digest}.png")
