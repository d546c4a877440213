"""Image previews: half-block cells anywhere; Kitty/Sixel graphics via textual-image if enabled.

textual-image picks the best protocol by querying the terminal when it is imported (a wait of
most of a second in a terminal that does not answer), so it is imported only where the environment
says the terminal draws graphics; everywhere else a half-block preview (▀ with the upper pixel
as foreground and the lower as background) is drawn here, with no terminal query at all.
"""

from __future__ import annotations

import os

from PIL import Image
from rich.style import Style
from rich.text import Text
from textual.widget import Widget
from textual.widgets import Static

from mmchat.images import ImageRejected, open_image_bytes

PREVIEW_COLUMNS = 24
PREVIEW_ROWS = 8

_graphics_widget: type[Widget] | None = None


def terminal_draws_graphics(env: dict[str, str] | None = None) -> bool:
    env = dict(os.environ) if env is None else env
    choice = env.get("MMCHAT_IMAGE_PREVIEW", "").lower()
    if choice in ("graphics", "halfblock", "off"):
        return choice == "graphics"
    term, program = env.get("TERM", ""), env.get("TERM_PROGRAM", "")
    return (
        "kitty" in term
        or bool(env.get("KITTY_WINDOW_ID"))
        or program in ("WezTerm", "iTerm.app", "ghostty")
        or term.startswith(("foot", "mlterm"))
    )


def enable_graphics() -> None:
    """Before the app starts (the library must query the terminal while it still can)."""
    global _graphics_widget
    if not terminal_draws_graphics():
        return
    try:
        from textual_image.widget import Image as GraphicsImage
    except Exception:  # not installed, or no answer from the terminal: half-blocks it is
        return
    _graphics_widget = GraphicsImage


def previews_enabled() -> bool:
    return os.environ.get("MMCHAT_IMAGE_PREVIEW", "").lower() != "off"


# What a preview shows: half-block cells, or a small picture for the graphics widget.
Preview = Text | Image.Image


def make_preview(data: bytes) -> Preview | None:
    """A stored message's preview of checked image bytes (None when they cannot be decoded).

    Decoding takes a while for a big picture: call it in a worker thread, never on the UI's.
    """
    if _graphics_widget is not None:
        return small_image(data, 320)
    return half_block_preview(data, PREVIEW_COLUMNS, PREVIEW_ROWS)


def half_block_preview(data: bytes, columns: int, rows: int) -> Text | None:
    """Checked image bytes as half-block cells (None when they cannot be decoded); in a worker."""
    # Four pixels a cell each way are plenty for the bilinear fit into cells.
    image = small_image(data, 4 * max(columns, rows * 2))
    return None if image is None else half_blocks(image, columns, rows)


def small_image(data: bytes, side: int) -> Image.Image | None:
    """Checked bytes decoded no bigger than side x side, cheaply: a JPEG decodes at 1/2-1/8
    scale (draft mode) and anything else is reduced by whole factors before resampling."""
    try:
        image = open_image_bytes(data, draft=(side, side))
    except ImageRejected:
        return None
    image.thumbnail((side, side))
    return image


def preview_widget(preview: Preview) -> Widget:
    """The widget for a preview made by make_preview (on the UI thread)."""
    if isinstance(preview, Text):
        return Static(preview, classes="preview halfblock")
    assert _graphics_widget is not None  # make_preview gives a picture only for graphics
    return _graphics_widget(preview, classes="preview")  # type: ignore[arg-type]  # held as type[Widget]: textual-image is imported lazily


def half_blocks(
    image: Image.Image, columns: int = PREVIEW_COLUMNS, rows: int = PREVIEW_ROWS
) -> Text:
    """The image fitted into columns x rows cells, two pixels a cell (aspect kept)."""
    # A cell is about twice as tall as wide, so one cell holds a 1x2 pixel pair.
    scale = min(columns / image.width, rows * 2 / image.height)
    width = max(1, round(image.width * scale))
    height = max(2, round(image.height * scale) // 2 * 2)
    pixels = image.convert("RGB").resize((width, height), Image.Resampling.BILINEAR).load()
    assert pixels is not None
    text = Text(no_wrap=True, overflow="crop")
    for y in range(0, height, 2):
        for x in range(width):
            top, bottom = pixels[x, y], pixels[x, y + 1]
            text.append("▀", Style(color=f"rgb{_rgb(top)}", bgcolor=f"rgb{_rgb(bottom)}"))
        if y + 2 < height:
            text.append("\n")
    return text


def _rgb(pixel: float | tuple[int, ...]) -> tuple[int, ...]:
    """An RGB image's pixel is a tuple; Pillow's type allows a number for one-band images."""
    return pixel if isinstance(pixel, tuple) else (int(pixel),) * 3
