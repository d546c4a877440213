"""Safe image intake with Pillow.

Every attached file passes here before it is stored or shown to a model. The checks follow
what was measured with Pillow 13 (tests/reliability): a size cap before opening, an allow-list
of formats given to `Image.open` (TIFF bytes named .png otherwise open as TIFF), `load()` inside
the try (truncated files fail only there), the decompression-bomb warning raised as an error,
EXIF orientation applied, alpha composited onto white, the first frame of animations only.
"""

from __future__ import annotations

import io
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_FILE_BYTES = 25 * 1024 * 1024
MAX_PIXELS = 40_000_000  # far above any photo a chat needs; far below Pillow's bomb limit
ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")
SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
MIME = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
}


class ImageRejected(Exception):
    """The file cannot be attached; str() is one line naming the file and the reason."""


@dataclass(frozen=True)
class CheckedImage:
    name: str  # the file's name as the person gave it (display only)
    data: bytes  # the original bytes, stored content-addressed
    mime: str
    width: int
    height: int


def read_image_file(path: str | Path) -> CheckedImage:
    """Read and check one image file; raise ImageRejected with a one-line reason."""
    path = Path(path).expanduser()
    name = path.name or str(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ImageRejected(f"{name}: no such file") from None
    except PermissionError:
        raise ImageRejected(f"{name}: permission denied") from None
    except OSError as exc:
        raise ImageRejected(f"{name}: cannot read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise ImageRejected(f"{name}: is a folder, not an image file")
    if not stat.S_ISREG(info.st_mode):
        # FIFOs and devices could block forever or never end.
        raise ImageRejected(f"{name}: not a regular file")
    if info.st_size > MAX_FILE_BYTES:
        raise ImageRejected(
            f"{name}: file is {info.st_size / 1e6:.1f} MB; "
            f"the limit is {MAX_FILE_BYTES // 2**20} MiB"
        )
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except PermissionError:
        raise ImageRejected(f"{name}: permission denied") from None
    except OSError as exc:
        raise ImageRejected(f"{name}: cannot read ({exc.strerror or exc})") from None
    return check_image_bytes(data, name)


def check_image_bytes(data: bytes, name: str = "image") -> CheckedImage:
    """Validate bytes as an image; the returned record keeps the original bytes."""
    image = _decode(data, name)
    return CheckedImage(name, data, MIME[image.format or "PNG"], image.width, image.height)


def open_image_bytes(
    data: bytes, name: str = "image", *, draft: tuple[int, int] | None = None
) -> Image.Image:
    """Decode checked bytes to an upright RGB image, ready for a vision encoder.

    `draft` (previews): a JPEG decodes at 1/2-1/8 scale, no smaller than that size.
    """
    image = _decode(data, name, draft)
    image = ImageOps.exif_transpose(image) or image
    return to_rgb(image)


def _decode(data: bytes, name: str, draft: tuple[int, int] | None = None) -> Image.Image:
    if len(data) > MAX_FILE_BYTES:
        raise ImageRejected(f"{name}: larger than {MAX_FILE_BYTES // 2**20} MiB")
    if not data:
        raise ImageRejected(f"{name}: empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
            if image.width * image.height > MAX_PIXELS:
                raise ImageRejected(
                    f"{name}: {image.width}x{image.height} pixels is over the "
                    f"{MAX_PIXELS // 1_000_000} megapixel limit"
                )
            image.seek(0)  # animations: the first frame only
            if draft is not None:
                image.draft(None, draft)  # JPEG only: a 12 Mpx photo decodes in a few ms
            image.load()
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected(f"{name}: refused as a decompression bomb (too many pixels)") from None
    except UnidentifiedImageError:
        raise ImageRejected(
            f"{name}: not an image in a supported format ({', '.join(ALLOWED_FORMATS)})"
        ) from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise ImageRejected(f"{name}: damaged or truncated image ({reason})") from None
    return image


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode as 8-bit RGB: transparency onto white, 16-bit grey scaled, not clipped."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit grey: scale to 8 bits rather than clipping everything to white.
        return image.point(lambda v: v / 256).convert("L").convert("RGB")
    return image.convert("RGB")
