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


def preview_widget(data: bytes) -> Widget | None:
    """A preview of checked image bytes, or None when they cannot be decoded."""
    try:
        image = open_image_bytes(data)
    except ImageRejected:
        return None
    if _graphics_widget is not None:
        image.thumbnail((320, 320))
        return _graphics_widget(image, classes="preview")  # type: ignore[arg-type]  # held as type[Widget]: textual-image is imported lazily
    return Static(half_blocks(image), classes="preview halfblock")


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
