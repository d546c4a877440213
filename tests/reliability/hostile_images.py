"""A corpus of hostile image files, generated (nothing binary is checked in), and its runner.

Kinds: decompression bombs, fake extensions, EPS and TIFF named .png, truncated files, special
files (FIFO, /dev/zero symlink, folders), odd modes, many-frame GIFs, and byte-flipped variants
of valid files. `expect` says what must happen: "reject", "accept" (decodes to RGB) or "either".
"""

from __future__ import annotations

import io
import json
import os
import random
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

from PIL import Image

RUNNER = Path(__file__).resolve().parent / "image_runner.py"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png_declaring(width: int, height: int, *, mode: int = 2) -> bytes:
    """A tiny PNG whose header declares width x height (a bomb without the bytes)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, mode, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def gif_declaring(width: int, height: int) -> bytes:
    header = b"GIF89a" + struct.pack("<HHBBB", width, height, 0, 0, 0)
    image = b"," + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x44\x01\x00"
    return header + image + b";"


def bmp_declaring(width: int, height: int) -> bytes:
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 54 + 16, 0, 0, 54) + info + b"\0" * 16


def jpeg_declaring(width: int, height: int) -> bytes:
    good = _encode(Image.new("RGB", (8, 8), "red"), "JPEG")
    sof = good.index(b"\xff\xc0")
    return good[: sof + 5] + struct.pack(">HH", height, width) + good[sof + 9 :]


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _photo(size: tuple[int, int] = (96, 64)) -> Image.Image:
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    return Image.merge(
        "RGB", (image.getchannel(0), image.getchannel(0).rotate(90), image.getchannel(1))
    )


def _valid() -> dict[str, bytes]:
    photo = _photo()
    return {
        "photo.png": _encode(photo, "PNG"),
        "photo.jpg": _encode(photo, "JPEG", quality=80),
        "photo.gif": _encode(photo.convert("P"), "GIF"),
        "photo.webp": _encode(photo, "WEBP"),
        "photo.bmp": _encode(photo, "BMP"),
        "photo.tif": _encode(photo, "TIFF"),
    }


def _modes() -> dict[str, bytes]:
    photo = _photo()
    p_trans = photo.convert("P")
    grey16 = Image.new("I;16", (64, 64))
    grey16.putdata([i * 16 for i in range(64 * 64)])
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated: exif_transpose must turn it
    return {
        "cmyk.jpg": _encode(photo.convert("CMYK"), "JPEG"),
        "cmyk.tif": _encode(photo.convert("CMYK"), "TIFF"),
        "i16.png": _encode(grey16, "PNG"),
        "i32.tif": _encode(photo.convert("I"), "TIFF"),
        "float.tif": _encode(photo.convert("F"), "TIFF"),
        "p-transparency.png": _encode(p_trans, "PNG", transparency=0),
        "p-transparency.gif": _encode(p_trans, "GIF", transparency=0),
        "la.png": _encode(photo.convert("LA"), "PNG"),
        "rgba.png": _encode(photo.convert("RGBA"), "PNG"),
        "rgba.webp": _encode(photo.convert("RGBA"), "WEBP"),
        "one-bit.png": _encode(photo.convert("1"), "PNG"),
        "one-bit.bmp": _encode(photo.convert("1"), "BMP"),
        "grey.jpg": _encode(photo.convert("L"), "JPEG"),
        "ycbcr.tif": _encode(photo.convert("YCbCr"), "TIFF"),
        "lab.tif": _encode(photo.convert("LAB"), "TIFF"),
        "exif-rotated.jpg": _encode(photo, "JPEG", exif=exif),
        "tiff-as.png": _encode(photo, "TIFF"),
        "jpeg-as.png": _encode(photo, "JPEG"),
    }


def _many_frames(frames: int, size: int) -> bytes:
    images = [Image.new("P", (size, size), i % 256) for i in range(frames)]
    return _encode(images[0], "GIF", save_all=True, append_images=images[1:], duration=10)


def build(folder: Path, fuzz: int = 120, seed: int = 7) -> dict[str, str]:
    """Write the corpus into `folder`; returns {file name: expectation}."""
    folder.mkdir(parents=True, exist_ok=True)
    expect: dict[str, str] = {}

    def put(name: str, data: bytes, expectation: str) -> None:
        (folder / name).write_bytes(data)
        expect[name] = expectation

    for w, h in [
        (10_000, 10_000),
        (13_000, 13_000),
        (20_000, 20_000),
        (65_535, 65_535),
        (2**31 - 1, 1),
        (1, 2**31 - 1),
        (100_000, 1_000),
        (7_000, 7_000),
    ]:
        put(f"bomb-{w}x{h}.png", png_declaring(w, h), "reject")
    for w, h in [(65_535, 65_535), (20_000, 20_000)]:
        put(f"bomb-{w}x{h}.gif", gif_declaring(w, h), "reject")
        put(f"bomb-{w}x{h}.bmp", bmp_declaring(w, h), "reject")
        put(f"bomb-{w}x{h}.jpg", jpeg_declaring(w, h), "reject")
    fakes = {
        "text.png": b"hello, I am not an image\n" * 20,
        "html.jpg": b"<html><script>alert(1)</script></html>",
        "zip.png": b"PK\x03\x04" + os.urandom(200),
        "pdf.png": b"%PDF-1.7\n1 0 obj<<>>endobj\n%%EOF",
        "elf.gif": b"\x7fELF\x02\x01\x01" + b"\0" * 200,
        "svg.png": b'<svg xmlns="http://www.w3.org/2000/svg"><script>x</script></svg>',
        "eps.png": b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n",
        "eps-binary.png": b"\xc5\xd0\xd3\xc6" + b"\0" * 60 + b"%!PS-Adobe-3.0 EPSF-3.0\n",
        "ico.png": b"\0\0\1\0\1\0" + b"\0" * 100,
        "psd.jpg": b"8BPS\0\1" + b"\0" * 100,
        "empty.png": b"",
        "one-byte.jpg": b"\xff",
        "nul.webp": b"\0" * 5000,
        "riff-not-webp.webp": b"RIFF\x10\0\0\0WAVEfmt " + b"\0" * 40,
    }
    for name, data in fakes.items():
        put(name, data, "reject")
    valid = _valid()
    for name, data in valid.items():
        put(f"valid-{name}", data, "accept")
        for fraction in (0.05, 0.2, 0.5, 0.8, 0.95, 0.99):
            put(
                f"truncated-{int(fraction * 100)}-{name}",
                data[: int(len(data) * fraction)],
                "either",
            )
    for name, data in _modes().items():
        put(f"mode-{name}", data, "accept")
    for frames, size in [(2000, 16), (300, 256), (50, 1000)]:
        put(f"frames-{frames}x{size}.gif", _many_frames(frames, size), "accept")
    put("frames-bomb.gif", gif_declaring(4000, 4000) * 2, "either")
    rng = random.Random(seed)
    sources = list(valid.items()) + list(_modes().items())
    for n in range(fuzz):
        name, data = sources[n % len(sources)]
        flipped = bytearray(data)
        for _ in range(rng.randint(1, 12)):
            position = rng.randrange(len(flipped))
            flipped[position] = rng.randrange(256)
        put(f"fuzz-{n}-{name}", bytes(flipped), "either")
    _special(folder, expect)
    return expect


def _special(folder: Path, expect: dict[str, str]) -> None:
    os.mkfifo(folder / "fifo.png")
    (folder / "folder.png").mkdir()
    links = {
        "dev-zero.png": "/dev/zero",
        "dev-urandom.jpg": "/dev/urandom",
        "dev-null.gif": "/dev/null",
        "dangling.png": str(folder / "does-not-exist.png"),
        "link-to-folder.png": str(folder / "folder.png"),
        "link-to-fifo.png": str(folder / "fifo.png"),
        "proc-self.png": "/proc/self/mem",
    }
    for name, target in links.items():
        (folder / name).symlink_to(target)
    for name in ["fifo.png", "folder.png", *links]:
        expect[name] = "reject"


def run(folder: Path, expect: dict[str, str], hang_seconds: float = 10.0) -> dict[str, object]:
    """Feed every file through mmchat.images in a child process, with a per-file watchdog."""
    names = sorted(expect)
    results: dict[str, dict[str, object]] = {}
    hangs: list[str] = []
    while len(results) + len(hangs) < len(names):
        todo = [n for n in names if n not in results and n not in hangs]
        proc = subprocess.Popen(
            [sys.executable, str(RUNNER), str(folder), *todo],
            stdout=subprocess.PIPE,
        )
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        os.set_blocking(fd, False)
        current, since, buffer = todo[0], time.monotonic(), b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                chunk = b""
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                record = json.loads(line)
                results[record["name"]] = record
                remaining = [n for n in todo if n not in results]
                current, since = (remaining[0] if remaining else ""), time.monotonic()
            if proc.poll() is not None and not chunk:
                if current and current not in results:
                    results[current] = {"name": current, "outcome": "crash", "detail": "child died"}
                break
            if time.monotonic() - since > hang_seconds:
                proc.kill()
                proc.wait()
                hangs.append(current)
                break
            time.sleep(0.01)
    return _figures(expect, results, hangs)


def _figures(
    expect: dict[str, str], results: dict[str, dict[str, object]], hangs: list[str]
) -> dict[str, object]:
    crashes = [n for n, r in results.items() if r["outcome"] == "crash"]
    wrong = [
        n
        for n, r in results.items()
        if r["outcome"] != "crash" and expect[n] not in ("either", r["outcome"])
    ]
    bad_messages = [n for n, r in results.items() if r.get("bad_message")]
    slowest = max((float(r.get("seconds", 0)) for r in results.values()), default=0.0)
    return {
        "files": len(expect),
        "accepted": sum(r["outcome"] == "accept" for r in results.values()),
        "rejected": sum(r["outcome"] == "reject" for r in results.values()),
        "crashes": len(crashes),
        "hangs": len(hangs),
        "unexpected": len(wrong),
        "bad_messages": len(bad_messages),
        "slowest_seconds": round(slowest, 2),
        "details": {
            "crashes": [results[n] for n in crashes],
            "hangs": hangs,
            "wrong": wrong,
            "bad_messages": [results[n] for n in bad_messages],
        },
    }
