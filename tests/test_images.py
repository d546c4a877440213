"""Image intake: every supported format and mode, and every kind of bad file, built here."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from mmchat.images import (
    MAX_FILE_BYTES,
    ImageRejected,
    check_image_bytes,
    open_image_bytes,
    read_image_file,
)


def save(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [
        ("PNG", "image/png"),
        ("JPEG", "image/jpeg"),
        ("WEBP", "image/webp"),
        ("GIF", "image/gif"),
        ("BMP", "image/bmp"),
        ("TIFF", "image/tiff"),
    ],
)
def test_supported_formats(tmp_path: Path, fmt: str, mime: str) -> None:
    path = tmp_path / f"picture.{fmt.lower()}"
    path.write_bytes(save(Image.new("RGB", (40, 30), (200, 10, 10)), fmt))
    checked = read_image_file(path)
    assert (checked.mime, checked.width, checked.height) == (mime, 40, 30)
    rgb = open_image_bytes(checked.data)
    assert rgb.mode == "RGB" and rgb.size == (40, 30)


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "CMYK", "L", "1", "I;16", "I"])
def test_every_mode_becomes_rgb(mode: str) -> None:
    image = Image.new(mode, (16, 16))
    fmt = "TIFF" if mode in ("CMYK", "I") else "PNG"
    rgb = open_image_bytes(save(image, fmt))
    assert rgb.mode == "RGB" and rgb.size == (16, 16)


def test_transparent_pixels_become_white() -> None:
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    assert open_image_bytes(save(rgba, "PNG")).getpixel((0, 0)) == (255, 255, 255)


def test_sixteen_bit_grey_keeps_its_range() -> None:
    grey = Image.new("I;16", (4, 4), 32768)
    value = open_image_bytes(save(grey, "PNG")).getpixel((0, 0))
    assert isinstance(value, tuple) and 120 <= value[0] <= 136


def test_exif_orientation_is_applied() -> None:
    image = Image.new("RGB", (40, 20), "blue")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    data = save(image, "JPEG", exif=exif)
    assert open_image_bytes(data).size == (20, 40)


def test_animated_gif_gives_first_frame() -> None:
    frames = [Image.new("RGB", (8, 8), c) for c in ("red", "green", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    first = open_image_bytes(buffer.getvalue()).getpixel((0, 0))
    assert isinstance(first, tuple) and first[0] > 200 and first[1] < 50


def _png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge size: a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: _png_declaring(20000, 20000), "decompression bomb"),
        (lambda: _png_declaring(7000, 7000), "megapixel limit"),
        (lambda: save(Image.new("RGB", (64, 64), "red"), "JPEG")[:300], "damaged or truncated"),
        (lambda: b"just some text pretending to be an image", "not an image"),
        (lambda: b"", "empty file"),
        (lambda: b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", "not an image"),
        (lambda: b"<svg xmlns='http://www.w3.org/2000/svg'/>", "not an image"),
    ],
)
def test_bad_bytes_are_rejected_in_one_line(tmp_path: Path, make: object, reason: str) -> None:
    path = tmp_path / "evil.png"
    path.write_bytes(make())  # type: ignore[operator]
    with pytest.raises(ImageRejected) as info:
        read_image_file(path)
    message = str(info.value)
    assert message.startswith("evil.png: ") and reason in message and "\n" not in message


def test_tiff_named_png_is_still_checked_as_an_allowed_format(tmp_path: Path) -> None:
    path = tmp_path / "actually-tiff.png"
    path.write_bytes(save(Image.new("RGB", (10, 10)), "TIFF"))
    assert read_image_file(path).mime == "image/tiff"  # detected by content, not by name


def test_missing_folder_fifo_unreadable_and_huge(tmp_path: Path) -> None:
    with pytest.raises(ImageRejected, match="no such file"):
        read_image_file(tmp_path / "nope.png")
    with pytest.raises(ImageRejected, match="is a folder"):
        read_image_file(tmp_path)
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(ImageRejected, match="not a regular file"):
        read_image_file(fifo)  # must not block waiting for a writer
    huge = tmp_path / "huge.png"
    with huge.open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(ImageRejected, match="the limit is"):
        read_image_file(huge)
    if os.geteuid() != 0:  # root reads any file
        locked = tmp_path / "locked.png"
        locked.write_bytes(save(Image.new("RGB", (4, 4)), "PNG"))
        locked.chmod(0)
        with pytest.raises(ImageRejected, match="permission denied"):
            read_image_file(locked)


def test_check_keeps_original_bytes() -> None:
    data = save(Image.new("RGB", (5, 5), "green"), "PNG")
    assert check_image_bytes(data, "g.png").data == data
