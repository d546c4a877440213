"""Fourth held-out set of text pictures: narrow, condensed and monospaced faces, twelve more kinds.

    python3 bench/textpics_heldout4.py [--out DIR]

bench/textpics.py's set (DejaVu Sans) is the one the reading was tuned on; bench/textpics_heldout.py
(Aileron, DejaVu Sans Mono), bench/textpics_heldout2.py (DejaVu Serif and Condensed faces) and
bench/textpics_heldout3.py (Liberation Sans, Serif and Mono) are the first three held-out checks.
This set was written, like the second and third, by someone who never looked at how the app reads
or answers, with texts and question wordings of its own. Its faces mix two folders under
/usr/share/fonts/truetype, in weights and widths no earlier set draws with:

- Liberation Sans Narrow (Regular, Bold, Italic, Bold Italic), Debian package fonts-liberation,
  for most of the screens, forms and labels;
- DejaVu Sans Mono (Regular, Bold; fonts-dejavu-core) and DejaVu Sans Mono Oblique
  (fonts-dejavu-extra), for codes, digits, a dispensing label and a dot-matrix board;
- DejaVu Serif Condensed Bold and Italic (fonts-dejavu-extra), for the results statement, the
  badge's name and the invitation's script;
- DejaVu Sans ExtraLight (fonts-dejavu-extra), for the weather app's large temperature.

Sizes run from 16 to 170 pixels, with letter-spaced capitals on the badge's role band, the
boarding pass's labels and the care label's brand, and mixed case elsewhere.

bench/data/textpics_heldout4.json holds each picture's title, its text lines (`text` is the
title and the lines, one a line), how to draw it and questions graded by keywords ("need" of
them must appear in the answer as words). Each kind is drawn from that record with Pillow alone,
from a seeded `random.Random`, so the same Pillow draws the same pixels. Photographed kinds are
drawn flat, then warped onto the four corners the record gives (a true perspective transform),
lit unevenly, blurred, grained and saved as JPEG; screens and scans are saved as PNG:

- mailclient: a desktop mail client, folder pane, the open message's subject, sender, recipient
  and date, four paragraphs, a signature and an attachment chip; screenshot, PNG;
- errordialog: a modal "backup failed" dialog with an error icon, sizes, an error code and three
  buttons, over a blurred photo-library window on a wallpaper, the taskbar's clock below;
  screenshot, PNG;
- calendar: a month view, weekday header, day numbers (furniture: only the days with entries are
  in `text`, beside their entries), coloured event chips, a five-day trip bar, today circled;
  screenshot, PNG;
- weatherapp: a phone weather app, place, a large ExtraLight temperature, a yellow wind warning,
  an hourly strip and a five-day list with drawn icons; screenshot, PNG;
- examresults: an exam board's statement of provisional results, crest, candidate block, a
  subject and grade table, the small print and a signature; a slightly skewed scan, PNG;
- boardingpass: an airline boarding pass with a tear-off stub and a 2-D barcode, on a dark wooden
  table half on a passport; photographed, JPEG;
- departureboard: an amber dot-matrix departure board (LED dots, glow) hung in a station roof,
  seen from below; photographed, JPEG;
- prescription: a pharmacy's dispensing label on an amber pill bottle, shaded as a cylinder, on
  a tiled bathroom shelf; photographed, JPEG;
- carelabel: a satin care label with laundry symbols, sewn into the seam of a knitted jumper;
  photographed, JPEG;
- fuelpump: a fuel pump's face, the pump number, an LCD with sale, litres and price per litre,
  grade buttons and a safety sticker, glare on the glass, the forecourt behind; photographed,
  JPEG;
- badge: a conference badge in a clear sleeve on a lanyard, name, employer, a role band and the
  small print, worn on a jacket; photographed, JPEG;
- invitation: a wedding invitation in condensed italic serif with a gold border and leaf sprigs,
  on a linen tablecloth beside its envelope; photographed, JPEG.
"""

from __future__ import annotations

import functools
import json
import math
import random
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

sys.path.insert(0, str(Path(__file__).parent))

from picture_craft import (  # noqa: E402  # the sets' shared drawing helpers
    cells,
    colour,
    draw_all,
    draw_from_command_line,
    finish,
    grain,
    light,
    mix,
    place,
    put,
    rgba,
    shade,
    spot,
    textured,
    with_alpha,
    wood,
    wrap,
)

SPEC = Path(__file__).parent / "data" / "textpics_heldout4.json"
FONT_DIR = Path("/usr/share/fonts/truetype")  # FACES are paths under it, in two folders
PACKAGES = ("fonts-liberation", "fonts-dejavu-core", "fonts-dejavu-extra")
PACKAGE = " ".join(PACKAGES)  # what to install for every face at once

Record = dict[str, Any]
RGB = tuple[int, int, int]
Point = tuple[float, float]
Font = ImageFont.FreeTypeFont

FACES: dict[str, str] = {
    "narrow": "liberation/LiberationSansNarrow-Regular.ttf",
    "narrow-bold": "liberation/LiberationSansNarrow-Bold.ttf",
    "narrow-italic": "liberation/LiberationSansNarrow-Italic.ttf",
    "narrow-bolditalic": "liberation/LiberationSansNarrow-BoldItalic.ttf",
    "mono": "dejavu/DejaVuSansMono.ttf",
    "mono-bold": "dejavu/DejaVuSansMono-Bold.ttf",
    "mono-oblique": "dejavu/DejaVuSansMono-Oblique.ttf",
    "serifcond-bold": "dejavu/DejaVuSerifCondensed-Bold.ttf",
    "serifcond-italic": "dejavu/DejaVuSerifCondensed-Italic.ttf",
    "light": "dejavu/DejaVuSans-ExtraLight.ttf",
}
DEJAVU_CORE = {"DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf"}  # the rest ship in -extra


def package(file: str) -> str:
    """The Debian package that installs FACES' `file`."""
    if file.startswith("liberation/"):
        return "fonts-liberation"
    return "fonts-dejavu-core" if Path(file).name in DEJAVU_CORE else "fonts-dejavu-extra"


@functools.cache
def face(name: str, size: int) -> Font:
    """One of FACES at `size` pixels, or a clear error naming the Debian package to install."""
    file = FACES[name]
    path = FONT_DIR / file
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: install the Debian package {package(file)} "
            f"(apt-get install {PACKAGE})"
        )
    return ImageFont.truetype(str(path), size)


WHITE: RGB = (255, 255, 255)


# --- text ----------------------------------------------------------------------------------


def dashed(
    draw: ImageDraw.ImageDraw, x0: float, x1: float, y: float, fill: Any, step: int = 14
) -> None:
    for x in range(int(x0), int(x1), step):
        draw.line((x, y, min(x + step // 2, x1), y), fill=fill, width=2)


def fits(record: Record, what: str, used: float, room: float) -> None:
    """Refuse a layout whose `what` runs past its room, rather than draw it cut off."""
    if used > room:
        raise ValueError(f"{record['id']}: {what} does not fit ({used:.0f} > {room:.0f})")


# --- photography ---------------------------------------------------------------------------


def glare(picture: Image.Image, centre: Point, radius: float, strength: int) -> Image.Image:
    """A soft white reflection, `strength` (0..255) at its centre."""
    mask = spot(picture.size, centre, radius).point(lambda v: v * strength // 255)
    white = Image.new("RGB", picture.size, WHITE)
    return Image.composite(white, picture.convert("RGB"), mask)


def gradient(size: tuple[int, int], top: Sequence[int], bottom: Sequence[int]) -> Image.Image:
    """A vertical blend from `top` to `bottom`."""
    mask = Image.linear_gradient("L").resize(size)
    return Image.composite(
        Image.new("RGB", size, colour(bottom)), Image.new("RGB", size, colour(top)), mask
    )


def across(size: tuple[int, int], profile: Sequence[float]) -> Image.Image:
    """An L image whose columns follow `profile` (0..1 levels, sampled left to right)."""
    width, height = size
    row = Image.new("L", (len(profile), 1))
    row.putdata([max(0, min(255, round(255 * v))) for v in profile])
    return row.resize((width, height), Image.Resampling.BILINEAR)


# --- mail client ---------------------------------------------------------------------------


def mailclient(record: Record) -> Image.Image:
    r = record["render"]
    width, height = r["size"]
    ink, accent, grey = colour(r["ink"]), colour(r["accent"]), (100, 104, 112)
    shot = Image.new("RGB", (width, height), WHITE)
    draw = ImageDraw.Draw(shot)
    folders, sender, to, date, *body, attachment = record["lines"]
    draw.rectangle((0, 0, width, 60), fill=accent)  # the app bar: menu, logo, search, avatar
    for k in range(3):
        draw.rectangle((22, 20 + 9 * k, 46, 23 + 9 * k), fill=WHITE)
    draw.rectangle((72, 18, 112, 44), outline=WHITE, width=3)
    draw.line([(72, 18), (92, 33), (112, 18)], fill=WHITE, width=3)
    draw.rounded_rectangle((300, 12, 820, 48), 18, fill=shade(accent, 1.35))
    draw.ellipse((318, 20, 336, 38), outline=WHITE, width=3)
    draw.line((333, 35, 342, 44), fill=WHITE, width=3)
    draw.ellipse((width - 58, 12, width - 22, 48), fill=(240, 186, 90))
    pane = 240
    draw.rectangle((0, 60, pane, height), fill=(241, 243, 247))
    draw.rounded_rectangle((20, 80, 150, 126), 16, fill=(208, 226, 252))  # compose: a pencil
    draw.line((64, 114, 90, 88), fill=accent, width=6)
    draw.polygon([(58, 120), (60, 110), (68, 118)], fill=accent)
    y = 180
    for k, name in enumerate(cells(folders)):
        if k == 0:
            draw.rounded_rectangle((8, y - 30, pane - 8, y + 12), 20, fill=(210, 226, 250))
        draw.rounded_rectangle((30, y - 20, 46, y - 4), 3, outline=grey, width=2)
        put(draw, (64, y), name, face("narrow-bold" if k == 0 else "narrow", 21), ink)
        y += 48
    left, right = pane + 48, width - 56
    for k in range(5):  # the message toolbar: archive, spam, delete, mark, move (icons)
        x = left + 56 * k
        draw.rounded_rectangle((x, 84, x + 26, 106), 4, outline=grey, width=2)
    draw.line((left, 126, right, 126), fill=(226, 228, 232), width=1)
    title_f = face("narrow-bold", 34)
    put(draw, (left, 180), record["title"], title_f, ink)
    draw.ellipse((left, 206, left + 56, 262), fill=colour(r["avatar"]))  # a head and shoulders
    draw.ellipse((left + 18, 216, left + 38, 236), fill=WHITE)
    draw.chord((left + 10, 238, left + 46, 274), 180, 360, fill=WHITE)
    label_f, value_f = face("narrow", 19), face("narrow-bold", 20)
    for k, line in enumerate((sender, to, date)):
        label, value = cells(line)
        y = 226 + 28 * k
        put(draw, (left + 74, y), label, label_f, grey)
        put(draw, (left + 124, y), value, value_f if k == 0 else face("narrow", 20), ink)
    for k in range(2):  # reply and forward arrows at the right of the header
        x = right - 80 + 44 * k
        draw.rounded_rectangle((x, 206, x + 34, 236), 6, outline=grey, width=2)
        draw.line((x + 8, 221, x + 26, 221), fill=grey, width=2)
        tip = x + 8 if k == 0 else x + 26
        dx = 6 if k == 0 else -6
        draw.line([(tip + dx, 215), (tip, 221), (tip + dx, 227)], fill=grey, width=2)
    draw.line((left, 300, right, 300), fill=(226, 228, 232), width=1)
    body_f = face("narrow", 23)
    y = 350
    for k, paragraph in enumerate(body):
        for line in wrap(paragraph, body_f, right - left):
            put(draw, (left, y), line, body_f, ink)
            y += 33
        if k < len(body) - 2:  # the sign-off and the name sit together
            y += 16
    name, size = cells(attachment)
    y += 30
    chip_f = face("narrow-bold", 19)
    chip_w = 90 + chip_f.getlength(name) + 80
    draw.rounded_rectangle((left, y, left + chip_w, y + 56), 10, outline=(200, 204, 212), width=2)
    draw.rectangle((left + 14, y + 10, left + 44, y + 46), fill=(214, 58, 48))  # a PDF's page
    draw.polygon([(left + 34, y + 10), (left + 44, y + 20), (left + 34, y + 20)], fill=WHITE)
    put(draw, (left + 60, y + 35), name, chip_f, ink)
    put(draw, (left + chip_w - 16, y + 35), size, face("narrow", 18), grey, 0, "right")
    fits(record, "the message", y + 56, height - 20)
    return shot


# --- error dialog --------------------------------------------------------------------------


def errordialog(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(r["seed"])
    width, height = r["size"]
    ink, accent = colour(r["ink"]), colour(r["accent"])
    desk = gradient((width, height), r["top"], r["bottom"])
    blobs = Image.new("L", (width, height), 0)
    bd = ImageDraw.Draw(blobs)
    bd.ellipse((-200, 300, 500, 1000), fill=110)
    bd.ellipse((900, -200, 1500, 400), fill=80)
    desk = Image.composite(
        Image.new("RGB", (width, height), (240, 150, 110)),
        desk,
        blobs.filter(ImageFilter.GaussianBlur(80)),
    )
    app = Image.new("RGB", (1000, 620), (246, 246, 248))  # the photo library behind, no words
    ad = ImageDraw.Draw(app)
    ad.rectangle((0, 0, 1000, 36), fill=(226, 228, 232))
    ad.rectangle((0, 36, 200, 620), fill=(236, 238, 242))
    for k in range(8):
        ad.rounded_rectangle(
            (20, 60 + 40 * k, 150 - 8 * (k % 3), 76 + 40 * k), 4, fill=(200, 204, 210)
        )
    for row in range(4):
        for col in range(5):
            tone = (rng.randint(60, 220), rng.randint(60, 200), rng.randint(60, 200))
            x, y = 230 + 150 * col, 60 + 138 * row
            ad.rectangle((x, y, x + 130, y + 120), fill=tone)
            ad.ellipse((x + 20, y + 20, x + 60, y + 60), fill=shade(tone, 1.4))
    desk.paste(app.filter(ImageFilter.GaussianBlur(2.5)), (140, 40))
    dim = Image.new("RGB", (width, height), (0, 0, 0))
    desk = Image.blend(desk, dim, 0.25)
    draw = ImageDraw.Draw(desk)
    window, problem, needed, free, lost, code, buttons, clock = record["lines"]
    draw.rectangle((0, height - 52, width, height), fill=(26, 28, 34))  # the taskbar
    for k in range(6):
        x = 20 + 58 * k
        draw.rounded_rectangle(
            (x, height - 42, x + 34, height - 10), 6, fill=(70 + 20 * k, 90, 130)
        )
    time, day = cells(clock)
    put(draw, (width - 24, height - 30), time, face("narrow", 18), WHITE, 0, "right")
    put(draw, (width - 24, height - 9), day, face("narrow", 16), (210, 212, 218), 0, "right")
    dw, dh = 680, 390
    dx, dy = (width - dw) // 2, (height - 52 - dh) // 2
    shadow = Image.new("L", (width, height), 0)
    ImageDraw.Draw(shadow).rectangle((dx + 6, dy + 10, dx + dw + 6, dy + dh + 12), fill=170)
    desk = Image.composite(
        Image.new("RGB", (width, height), (0, 0, 0)),
        desk,
        shadow.filter(ImageFilter.GaussianBlur(14)),
    )
    draw = ImageDraw.Draw(desk)
    draw.rectangle((dx, dy, dx + dw, dy + dh), fill=(250, 250, 251), outline=(150, 152, 160))
    draw.rectangle((dx + 1, dy + 1, dx + dw - 1, dy + 40), fill=(232, 234, 238))
    draw.rounded_rectangle((dx + 12, dy + 12, dx + 28, dy + 28), 3, fill=accent)  # app icon
    put(draw, (dx + 38, dy + 27), window, face("narrow", 18), ink)
    cx = dx + dw - 24
    draw.line((cx - 7, dy + 13, cx + 7, dy + 27), fill=ink, width=2)
    draw.line((cx - 7, dy + 27, cx + 7, dy + 13), fill=ink, width=2)
    draw.ellipse((dx + 28, dy + 66, dx + 84, dy + 122), fill=colour(r["alert"]))
    draw.line((dx + 44, dy + 82, dx + 68, dy + 106), fill=WHITE, width=6)
    draw.line((dx + 44, dy + 106, dx + 68, dy + 82), fill=WHITE, width=6)
    text_x, room = dx + 108, dw - 108 - 30
    put(draw, (text_x, dy + 90), record["title"], face("narrow-bold", 27), ink)
    body_f = face("narrow", 20)
    y = dy + 128
    put(draw, (text_x, y), problem, body_f, ink)
    y += 36
    for line in (needed, free):
        label, value = cells(line)
        put(draw, (text_x + 16, y), label, body_f, (80, 82, 90))
        put(draw, (text_x + 200, y), value, face("narrow-bold", 20), ink)
        y += 28
    y += 10
    for line in wrap(lost, body_f, room):
        put(draw, (text_x, y), line, body_f, ink)
        y += 28
    put(draw, (text_x, y + 8), code, face("narrow-italic", 18), (110, 112, 120))
    fits(record, "the dialog's text", y + 8, dy + dh - 80)
    draw.rectangle((dx + 1, dy + dh - 66, dx + dw - 1, dy + dh - 1), fill=(238, 239, 242))
    button_f = face("narrow", 19)
    x = dx + dw - 20
    names = cells(buttons)
    for k, name in reversed(list(enumerate(names))):
        wide = button_f.getlength(name) + 44
        box = (x - wide, dy + dh - 52, x, dy + dh - 16)
        if k == 0:
            draw.rounded_rectangle(box, 5, fill=accent)
            put(draw, ((box[0] + box[2]) / 2, box[3] - 11), name, button_f, WHITE, 0, "centre")
        else:
            draw.rounded_rectangle(box, 5, fill=WHITE, outline=(170, 172, 180))
            put(draw, ((box[0] + box[2]) / 2, box[3] - 11), name, button_f, ink, 0, "centre")
        x -= wide + 12
    return desk


# --- calendar month view -------------------------------------------------------------------


def calendar(record: Record) -> Image.Image:
    r = record["render"]
    width, height = r["size"]
    ink, accent, grey = colour(r["ink"]), colour(r["accent"]), (120, 122, 130)
    shot = Image.new("RGB", (width, height), WHITE)
    draw = ImageDraw.Draw(shot)
    views, weekdays, *entries = record["lines"]
    put(draw, (40, 68), record["title"], face("narrow-bold", 42), ink)
    for dx, cx in ((8, 300), (-8, 340)):  # previous and next month chevrons
        draw.line([(cx + dx, 38), (cx - dx, 52), (cx + dx, 66)], fill=grey, width=3)
    view_f = face("narrow", 20)
    x = float(width - 30)
    for k, name in reversed(list(enumerate(cells(views)))):
        wide = view_f.getlength(name) + 36
        box = (x - wide, 30, x, 70)
        selected = name == "Month"
        if k == 0:
            draw.rounded_rectangle(box, 8, outline=(190, 192, 198), width=1)
        else:
            draw.rectangle(box, fill=accent if selected else WHITE, outline=(190, 192, 198))
        put(draw, (x - wide / 2, 57), name, view_f, WHITE if selected else ink, 0, "centre")
        x -= wide + (16 if k == 1 else 0)
    left, top, bottom = 20, 130, height - 16
    col_w = (width - 2 * left) / 7
    row_h = (bottom - top) / 5
    for k, name in enumerate(cells(weekdays)):
        put(draw, (left + col_w * (k + 0.5), 116), name, face("narrow-bold", 19), grey, 1, "centre")
    first, days, today = r["first"], r["days"], r["today"]

    def cell(day: int) -> tuple[float, float]:
        slot = first + day - 1
        return left + col_w * (slot % 7), top + row_h * (slot // 7)

    for slot in range(35):
        x, y = left + col_w * (slot % 7), top + row_h * (slot // 7)
        if slot % 7 >= 5:
            draw.rectangle((x, y, x + col_w, y + row_h), fill=(248, 248, 250))
    for k in range(6):
        draw.line((left, top + row_h * k, width - left, top + row_h * k), fill=(220, 222, 226))
    for k in range(8):
        draw.line((left + col_w * k, top, left + col_w * k, bottom), fill=(220, 222, 226))
    number_f = face("narrow", 20)
    for day in range(1, days + 1):
        x, y = cell(day)
        if day == today:
            draw.ellipse((x + 8, y + 6, x + 40, y + 38), fill=accent)
            put(draw, (x + 24, y + 29), str(day), face("narrow-bold", 20), WHITE, 0, "centre")
        else:
            put(draw, (x + 24, y + 29), str(day), number_f, ink, 0, "centre")
    chip_f = face("narrow", 18)
    used: dict[int, int] = {}
    for line, tone in zip(entries, r["tones"], strict=True):
        when, what = cells(line)
        tone_c = colour(tone)
        if "-" in when:  # a trip: one bar across the days, below that day's chips
            a, b = (int(part) for part in when.split("-"))
            x0, y0 = cell(a)
            x1, _ = cell(b)
            y = y0 + row_h - 40
            draw.rounded_rectangle((x0 + 6, y, x1 + col_w - 6, y + 28), 6, fill=tone_c)
            put(draw, (x0 + 16, y + 21), what, face("narrow-bolditalic", 19), WHITE)
            continue
        day = int(when)
        x, y = cell(day)
        y += 46 + 32 * used.get(day, 0)
        used[day] = used.get(day, 0) + 1
        fits(record, f"the entry {what!r}", chip_f.getlength(what) + 24, col_w - 12)
        draw.rounded_rectangle((x + 6, y, x + col_w - 6, y + 28), 5, fill=mix(tone_c, WHITE, 0.8))
        draw.rectangle((x + 6, y, x + 11, y + 28), fill=tone_c)
        put(draw, (x + 18, y + 21), what, chip_f, shade(tone_c, 0.45))
    return shot


# --- weather app ---------------------------------------------------------------------------


def cloud(draw: ImageDraw.ImageDraw, x: float, y: float, s: float, fill: Any) -> None:
    """A cloud of three puffs, `s` pixels wide, centred on (x, y)."""
    draw.ellipse((x - s * 0.5, y - s * 0.1, x - s * 0.05, y + s * 0.3), fill=fill)
    draw.ellipse((x - s * 0.3, y - s * 0.35, x + s * 0.2, y + s * 0.25), fill=fill)
    draw.ellipse((x, y - s * 0.2, x + s * 0.5, y + s * 0.3), fill=fill)
    draw.rectangle((x - s * 0.3, y + s * 0.05, x + s * 0.3, y + s * 0.3), fill=fill)


def weather_icon(draw: ImageDraw.ImageDraw, x: float, y: float, kind: str, s: float) -> None:
    """A drawn icon (no letters) for rain, cloud, sun, sunny intervals or wind."""
    sun, grey_c, blue = (255, 204, 64), (222, 228, 236), (120, 190, 255)
    if kind in ("sun", "sunny"):
        cx, cy = (x - s * 0.15, y - s * 0.15) if kind == "sunny" else (x, y)
        for k in range(8):
            a = k * math.pi / 4
            draw.line(
                (
                    cx + math.cos(a) * s * 0.3,
                    cy + math.sin(a) * s * 0.3,
                    cx + math.cos(a) * s * 0.45,
                    cy + math.sin(a) * s * 0.45,
                ),
                fill=sun,
                width=3,
            )
        draw.ellipse((cx - s * 0.22, cy - s * 0.22, cx + s * 0.22, cy + s * 0.22), fill=sun)
        if kind == "sunny":
            cloud(draw, x + s * 0.1, y + s * 0.1, s * 0.8, grey_c)
    elif kind == "wind":
        for k in range(3):
            yy = y - s * 0.2 + k * s * 0.2
            draw.line((x - s * 0.4, yy, x + s * 0.25, yy), fill=grey_c, width=3)
            draw.arc((x + s * 0.15, yy - s * 0.16, x + s * 0.4, yy), 270, 90, fill=grey_c, width=3)
    else:
        cloud(draw, x, y - (s * 0.1 if kind == "rain" else 0), s, grey_c)
        if kind == "rain":
            for k in range(3):
                xx = x - s * 0.25 + k * s * 0.25
                draw.line((xx, y + s * 0.3, xx - s * 0.08, y + s * 0.5), fill=blue, width=3)


def icon_for(condition: str) -> str:
    words = condition.lower()
    for key, kind in (("rain", "rain"), ("shower", "rain"), ("sunny", "sunny")):
        if key in words:
            return kind
    return "wind" if "wind" in words else "cloud"


def weatherapp(record: Record) -> Image.Image:
    r = record["render"]
    width, height = r["size"]
    shot = gradient((width, height), r["top"], r["bottom"])
    blobs = Image.new("L", (width, height), 0)
    bd = ImageDraw.Draw(blobs)
    bd.ellipse((-160, 60, 420, 420), fill=70)
    bd.ellipse((360, 160, 900, 560), fill=50)
    shot = Image.composite(
        Image.new("RGB", (width, height), (190, 204, 220)),
        shot,
        blobs.filter(ImageFilter.GaussianBlur(70)),
    )
    draw = ImageDraw.Draw(shot)
    clock, now, condition, hilo, warning, hours, temps, *rest = record["lines"]
    days, wind = rest[:5], rest[5]
    soft = (222, 230, 240)
    put(draw, (40, 44), clock, face("narrow-bold", 24), WHITE)
    for k in range(4):  # signal, battery: icons only
        draw.rectangle((width - 150 + 9 * k, 38 - 5 * k, width - 144 + 9 * k, 42), fill=WHITE)
    draw.rounded_rectangle((width - 90, 24, width - 46, 42), 4, outline=WHITE, width=2)
    draw.rectangle((width - 86, 28, width - 60, 38), fill=WHITE)
    put(draw, (width / 2 + 14, 150), record["title"], face("narrow", 44), WHITE, 0, "centre")
    pin_x = width / 2 - face("narrow", 44).getlength(record["title"]) / 2 - 10
    draw.ellipse((pin_x - 10, 114, pin_x + 10, 134), fill=WHITE)
    draw.polygon([(pin_x - 9, 128), (pin_x + 9, 128), (pin_x, 148)], fill=WHITE)
    put(draw, (width / 2 + 20, 350), now, face("light", 170), WHITE, 0, "centre")
    put(draw, (width / 2, 406), condition, face("narrow", 34), WHITE, 0, "centre")
    put(draw, (width / 2, 450), "   ".join(cells(hilo)), face("narrow", 28), soft, 0, "centre")
    what, when = cells(warning)
    draw.rounded_rectangle((30, 482, width - 30, 566), 18, fill=colour(r["warning"]))
    draw.polygon([(76, 500), (100, 546), (52, 546)], fill=(40, 36, 30))
    draw.rectangle((74, 514, 78, 532), fill=colour(r["warning"]))
    draw.rectangle((74, 537, 78, 541), fill=colour(r["warning"]))
    put(draw, (124, 518), what, face("narrow-bold", 26), (40, 36, 30))
    put(draw, (124, 552), when, face("narrow", 24), (40, 36, 30))

    def card(box: tuple[int, int, int, int]) -> None:
        layer = Image.new("RGBA", (width, height), (0, 0, 0, 0))
        ImageDraw.Draw(layer).rounded_rectangle(box, 24, fill=(255, 255, 255, 40))
        shot.paste(Image.alpha_composite(shot.convert("RGBA"), layer).convert("RGB"))

    card((30, 590, width - 30, 800))
    step = (width - 60) / 5
    hour_f, temp_f = face("narrow", 22), face("narrow-bold", 28)
    for k, (hour, temp, kind) in enumerate(
        zip(cells(hours), cells(temps), r["hour_icons"], strict=True)
    ):
        x = 30 + step * (k + 0.5)
        put(draw, (x, 636), hour, hour_f, soft, 0, "centre")
        weather_icon(draw, x, 700, kind, 60)
        put(draw, (x, 776), temp, temp_f, WHITE, 0, "centre")
    card((30, 824, width - 30, 1250))
    day_f, cond_f = face("narrow-bold", 26), face("narrow", 25)
    for k, line in enumerate(days):
        day, cond, high, low = cells(line)
        y = 880 + 80 * k
        if k:
            draw.line((56, y - 48, width - 56, y - 48), fill=(255, 255, 255), width=1)
        put(draw, (60, y), day, day_f, WHITE)
        weather_icon(draw, 200, y - 9, icon_for(cond), 46)
        put(draw, (250, y), cond, cond_f, WHITE)
        put(draw, (width - 140, y), high, day_f, WHITE, 0, "right")
        put(draw, (width - 60, y), low, cond_f, soft, 0, "right")
    card((30, 1274, width - 30, 1400))
    label, value = cells(wind)
    weather_icon(draw, 90, 1330, "wind", 56)
    put(draw, (140, 1322), label, face("narrow", 24), soft)
    put(draw, (140, 1368), value, face("narrow-bold", 32), WHITE)
    draw.polygon(
        [(width - 100, 1310), (width - 80, 1370), (width - 100, 1356), (width - 120, 1370)],
        fill=WHITE,
    )
    draw.rounded_rectangle(
        (width / 2 - 80, height - 24, width / 2 + 80, height - 16), 4, fill=WHITE
    )
    return shot


# --- exam results statement ----------------------------------------------------------------


def examresults(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(r["seed"])
    width, height = r["size"]
    ink, accent, band = colour(r["ink"]), colour(r["accent"]), colour(r["band"])
    page = Image.new("RGB", (width, height), colour(r["paper"]))
    draw = ImageDraw.Draw(page)
    board, series, name, number, centre, born, head, *rest = record["lines"]
    subjects, notes = rest[:4], rest[4:]
    left, right = 80, width - 80
    shield = [(left, 60), (left + 70, 60), (left + 70, 110), (left + 35, 140), (left, 110)]
    draw.polygon(shield, fill=accent)  # the board's crest: a shield with a chevron and a star
    draw.line([(left + 10, 112), (left + 35, 88), (left + 60, 112)], fill=WHITE, width=6)
    draw.regular_polygon((left + 35, 76, 8), 5, fill=WHITE)
    put(draw, (left + 96, 96), board, face("serifcond-bold", 36), accent)
    put(draw, (left + 98, 130), series, face("narrow", 22), (96, 96, 104))
    draw.line((left, 168, right, 168), fill=accent, width=3)
    put(draw, (left, 236), record["title"], face("serifcond-bold", 42), ink)
    label_f, value_f = face("narrow", 21), face("narrow-bold", 23)
    y = 300
    for line in (name, number, centre, born):
        label, value = cells(line)
        put(draw, (left, y), label, label_f, (96, 96, 104))
        put(
            draw, (left + 220, y), value, face("mono-bold", 21) if value.isdigit() else value_f, ink
        )
        y += 40
    y += 30
    columns = (left + 20, left + 440, right - 70)
    draw.rectangle((left, y, right, y + 46), fill=accent)
    for k, text in enumerate(cells(head)):
        align = "centre" if k == 2 else "left"
        put(draw, (columns[k], y + 31), text, face("narrow-bold", 21), WHITE, 1, align)
    y += 46
    for k, line in enumerate(subjects):
        if k % 2:
            draw.rectangle((left, y, right, y + 62), fill=band)
        subject, level, grade = cells(line)
        put(draw, (columns[0], y + 40), subject, face("narrow", 24), ink)
        put(draw, (columns[1], y + 40), level, face("narrow", 24), ink)
        put(draw, (columns[2], y + 43), grade, face("serifcond-bold", 32), accent, 0, "centre")
        y += 62
    draw.line((left, y, right, y), fill=accent, width=2)
    y += 60
    note_f = face("narrow-italic", 21)
    for note in notes:
        for line in wrap(note, note_f, right - left):
            put(draw, (left, y), line, note_f, ink)
            y += 30
        y += 10
    y += 60
    points = [
        (left + 10 + 6 * k, y - 10 * math.sin(k / 3.1) - rng.uniform(0, 8)) for k in range(40)
    ]
    draw.line(points, fill=(30, 40, 110), width=2)  # a signature over a rule
    draw.line((left, y + 16, left + 300, y + 16), fill=(150, 150, 156), width=1)
    draw.ellipse((right - 170, y - 90, right - 30, y + 50), outline=shade(accent, 1.2), width=3)
    draw.ellipse((right - 156, y - 76, right - 44, y + 36), outline=shade(accent, 1.2), width=1)
    fits(record, "the statement", y + 50, height - 60)
    scan = grain(page, rng, 7)
    scan = scan.rotate(r["tilt"], resample=Image.Resampling.BICUBIC, fillcolor=(255, 255, 255))
    return scan.filter(ImageFilter.GaussianBlur(0.45))


# --- boarding pass -------------------------------------------------------------------------


def barcode2d(
    draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], rng: random.Random
) -> None:
    """A PDF417-like block: start and stop bars, rows of random modules between."""
    x0, y0, x1, y1 = box
    draw.rectangle((x0, y0, x0 + 8, y1), fill=(0, 0, 0))
    draw.rectangle((x1 - 8, y0, x1, y1), fill=(0, 0, 0))
    rows, module = 12, 3
    row_h = (y1 - y0) / rows
    for row in range(rows):
        x = x0 + 16
        while x < x1 - 16:
            wide = module * rng.randint(1, 3)
            if rng.random() < 0.55:
                draw.rectangle(
                    (x, y0 + row * row_h, x + wide - 1, y0 + (row + 1) * row_h - 1), fill=(0, 0, 0)
                )
            x += wide


def boardingpass(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(r["seed"])
    pw, ph, stub = 1300, 560, 960
    ink, accent, grey = colour(r["ink"]), colour(r["accent"]), (110, 116, 126)
    card = Image.new("RGB", (pw, ph), (252, 252, 250))
    draw = ImageDraw.Draw(card)
    (
        heading,
        passenger,
        origin,
        dest,
        flight,
        date,
        boarding,
        departs,
        gate,
        seat,
        zone,
        closes,
        ref,
    ) = record["lines"]
    draw.rectangle((0, 0, pw, 96), fill=accent)
    draw.polygon([(36, 64), (96, 30), (84, 52), (110, 50), (100, 64)], fill=WHITE)  # the bird
    put(draw, (126, 66), record["title"], face("narrow-bold", 48), WHITE)
    put(draw, (stub - 40, 62), heading, face("narrow", 30), (214, 228, 244), 1, "right")
    label_f = face("narrow-bold", 17)

    def field(x: float, y: float, line: str, font: Font, fill: RGB = ink) -> float:
        label, value = cells(line)
        put(draw, (x, y), label.upper(), label_f, grey, 2)
        return put(draw, (x, y + font.size + 8), value, font, fill)

    field(40, 140, passenger, face("narrow-bold", 32))
    field(40, 230, origin, face("narrow-bold", 42))
    wide = face("narrow-bold", 42).getlength(cells(origin)[1])
    px = 40 + wide + 50
    draw.line((px, 272, px + 50, 272), fill=grey, width=3)
    draw.line([(px + 38, 260), (px + 52, 272), (px + 38, 284)], fill=grey, width=3)
    field(px + 90, 230, dest, face("narrow-bold", 42))
    value_f = face("mono-bold", 30)
    for k, line in enumerate((flight, date, boarding, departs)):
        field(40 + 225 * k, 340, line, value_f)
    for k, line in enumerate((gate, seat)):
        x = 40 + 220 * k
        draw.rounded_rectangle((x - 12, 400, x + 190, 500), 10, fill=colour(r["highlight"]))
        field(x + 8, 428, line, face("narrow-bold", 50))
    put(draw, (470, 470), closes, face("narrow-italic", 22), ink)
    for y in range(110, ph, 22):  # the perforation
        draw.ellipse((stub - 3, y - 3, stub + 3, y + 3), fill=(190, 190, 190))
    field(stub + 40, 150, zone, face("narrow-bold", 64))
    field(stub + 40, 270, ref, face("mono-bold", 34))
    barcode2d(draw, (stub + 36, 380, pw - 40, 520), rng)
    fits(
        record, "the pass's fields", 40 + 225 * 3 + value_f.getlength(cells(departs)[1]), stub - 20
    )
    alpha = Image.new("L", (pw, ph), 0)
    ImageDraw.Draw(alpha).rounded_rectangle((0, 0, pw - 1, ph - 1), 18, fill=255)
    for y in (0, ph):  # notches where the stub tears off
        ImageDraw.Draw(alpha).ellipse((stub - 16, y - 16, stub + 16, y + 16), fill=0)
    layer = with_alpha(grain(card, rng, 6), alpha)

    width, height = r["size"]
    table = wood((width, height), colour(r["table"]), rng, 220)
    passport = Image.new("RGBA", (560, 780), (110, 24, 34, 255))
    pd = ImageDraw.Draw(passport)
    pd.ellipse((180, 230, 380, 430), outline=(206, 170, 90), width=6)  # the crest, no words
    pd.ellipse((240, 290, 320, 370), fill=(206, 170, 90))
    pd.rectangle((200, 560, 360, 600), outline=(206, 170, 90), width=3)
    table = place(table, passport, [(700, 60), (1240, 120), (1160, 880), (620, 820)], 10, 160)
    photo = place(table, layer, r["corners"], shadow=8, darkness=150)
    photo = light(photo, (width * 0.45, height * 0.35), max(width, height) * 0.95, 0.5)
    return finish(photo, rng, record, 14)


# --- departure board -----------------------------------------------------------------------


def departureboard(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(r["seed"])
    bw, bh = 1240, 640
    led = colour(r["led"])
    dim = shade(led, 0.62)
    board = Image.new("RGB", (bw, bh), (14, 12, 10))
    draw = ImageDraw.Draw(board)
    header, *rest = record["lines"]
    rows, calling, clock = rest[:6], rest[6], rest[7]
    put(draw, (44, 64), record["title"], face("mono-bold", 38), led)
    put(draw, (bw - 44, 64), clock, face("mono-bold", 38), led, 0, "right")
    columns = (44, 180, 880, bw - 44)
    aligns = ("left", "left", "centre", "right")
    head_f = face("mono", 22)
    for k, text in enumerate(cells(header)):
        put(draw, (columns[k], 118), text, head_f, dim, 0, aligns[k])
    draw.line((30, 134, bw - 30, 134), fill=dim, width=2)
    row_f = face("mono-bold", 31)
    for k, line in enumerate(rows):
        y = 186 + 60 * k
        parts = cells(line)
        fits(record, f"the row {line!r}", 180 + row_f.getlength(parts[1]), 820)
        for c, text in enumerate(parts):
            put(draw, (columns[c], y), text, row_f, led, 0, aligns[c])
    draw.line((30, 548, bw - 30, 548), fill=dim, width=2)
    put(draw, (44, 600), calling, face("mono", 27), led)
    fits(record, "the calling points", 44 + face("mono", 27).getlength(calling), bw - 30)
    dots = Image.new("L", (bw, bh), 255)  # the LED matrix: dark gaps every third pixel
    dd = ImageDraw.Draw(dots)
    for x in range(2, bw, 3):
        dd.line((x, 0, x, bh), fill=110)
    for y in range(2, bh, 3):
        dd.line((0, y, bw, y), fill=110)
    lit = ImageChops.multiply(board, Image.merge("RGB", (dots,) * 3))
    glow = board.filter(ImageFilter.GaussianBlur(4))
    board = ImageChops.screen(lit, Image.blend(Image.new("RGB", (bw, bh)), glow, 0.55))
    frame = Image.new("RGB", (bw + 60, bh + 60), (60, 64, 70))
    fd = ImageDraw.Draw(frame)
    fd.rectangle((0, 0, bw + 59, bh + 59), outline=(96, 100, 108), width=6)
    frame.paste(board, (30, 30))
    layer = frame.convert("RGBA")

    width, height = r["size"]
    roof = gradient((width, height), (58, 62, 70), (120, 118, 112))
    rd = ImageDraw.Draw(roof)
    for k in range(-2, 12):  # the roof's girders, converging
        x = 140 * k
        rd.line((x, 0, width / 2 + (x - width / 2) * 0.4, height), fill=(44, 48, 54), width=14)
    for k in range(6):  # strip lights
        y = 40 + 150 * k
        rd.rectangle(
            (rng.randint(0, 200), y, rng.randint(900, width), y + 10), fill=(236, 236, 226)
        )
    for x in (450, 950):  # the board's hangers
        rd.rectangle((x, 0, x + 12, 200), fill=(30, 32, 36))
    roof = roof.filter(ImageFilter.GaussianBlur(5))
    photo = place(roof, layer, r["corners"], shadow=10, darkness=120)
    photo = light(photo, (width * 0.5, height * 0.5), max(width, height) * 0.9, 0.65)
    return finish(photo, rng, record, 18)


# --- prescription label on a pill bottle ---------------------------------------------------


def prescription(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(r["seed"])
    lw, lh = 760, 470
    ink, band = colour(r["ink"]), colour(r["band"])
    label = Image.new("RGB", (lw, lh), (252, 252, 248))
    draw = ImageDraw.Draw(label)
    pharmacy, address, qty, dose, advice, patient, dispensed, keep = record["lines"]
    draw.rectangle((0, 0, lw, 78), fill=band)
    draw.rectangle((24, 18, 36, 58), fill=WHITE)  # a pharmacy cross
    draw.rectangle((10, 32, 50, 44), fill=WHITE)
    put(draw, (66, 40), pharmacy, face("narrow-bold", 28), WHITE)
    put(draw, (66, 66), address, face("narrow", 17), (220, 240, 232))
    title_f = face("mono-bold", 28)
    put(draw, (24, 124), record["title"], title_f, ink)
    put(draw, (lw - 24, 124), qty, face("mono-bold", 24), ink, 0, "right")
    fits(record, "the drug name", 24 + title_f.getlength(record["title"]), lw - 170)
    draw.line((24, 140, lw - 24, 140), fill=(180, 180, 180), width=1)
    put(draw, (24, 184), dose, face("mono-bold", 30), ink)
    mono = face("mono", 22)
    y = 222
    for line in wrap(advice, mono, lw - 48):
        put(draw, (24, y), line, mono, ink)
        y += 30
    y += 20
    put(draw, (24, y), patient, face("mono-bold", 26), ink)
    y += 34
    put(draw, (24, y), "   ".join(cells(dispensed)), face("mono-oblique", 18), (70, 72, 78))
    fits(record, "the label's text", y, lh - 70)
    draw.rectangle((16, lh - 56, lw - 16, lh - 14), outline=ink, width=2)
    put(draw, (lw / 2, lh - 26), keep, face("narrow-bold", 24), ink, 0, "centre")

    bw, bh = 880, 900  # the bottle: a cap, an amber body; the label goes round its middle
    bottle = Image.new("RGBA", (bw, bh), (0, 0, 0, 0))
    bd = ImageDraw.Draw(bottle)
    bd.rounded_rectangle((20, 30, bw - 20, 230), 24, fill=(244, 244, 240, 255))
    for x in range(40, bw - 30, 16):  # the cap's ridges
        bd.line((x, 40, x, 220), fill=(214, 214, 210), width=3)
    bd.rectangle((50, 230, bw - 50, 270), fill=rgba(shade(r["bottle"], 0.7)))
    bd.rounded_rectangle((0, 260, bw, bh), 50, fill=rgba(r["bottle"]))
    bottle.paste(label, ((bw - lw) // 2, 330))
    profile = [0.5 + 0.5 * math.sqrt(max(0.0, 1 - (2 * k / 63 - 1) ** 2)) for k in range(64)]
    round_light = across((bw, bh), profile)
    body = ImageChops.multiply(bottle.convert("RGB"), Image.merge("RGB", (round_light,) * 3))
    sheen = across((bw, bh), [max(0.0, 1 - abs(k - 20) / 5) * 0.45 for k in range(64)])
    body = Image.composite(Image.new("RGB", (bw, bh), WHITE), body, sheen)
    layer = with_alpha(body, bottle.getchannel("A"))

    width, height = r["size"]
    wall = Image.new("RGB", (width, height), (170, 176, 180))
    wd = ImageDraw.Draw(wall)
    tile = colour(r["tile"])
    for y in range(0, height, 150):
        for x in range(0, width, 150):
            wd.rectangle(
                (x + 3, y + 3, x + 147, y + 147), fill=shade(tile, rng.uniform(0.95, 1.04))
            )
    wd.rectangle((0, 930, width, height), fill=(236, 236, 232))  # the shelf
    wd.line((0, 930, width, 930), fill=(200, 200, 196), width=4)
    wall = wall.filter(ImageFilter.GaussianBlur(3))
    photo = place(wall, layer, r["corners"], shadow=12, darkness=120)
    photo = glare(photo, (width * 0.36, height * 0.35), 120, 60)
    photo = light(photo, (width * 0.3, height * 0.15), max(width, height) * 1.0, 0.55)
    return finish(photo, rng, record, 15)


# --- garment care label --------------------------------------------------------------------


def care_symbols(draw: ImageDraw.ImageDraw, x: float, y: float, ink: RGB, size: int) -> None:
    """Wash at 30, no bleach, no tumble dryer, cool iron: four symbols in a row from (x, y)."""
    s, gap, w = size, size * 1.35, 3
    tub = [(x, y), (x + s * 0.12, y + s), (x + s * 0.88, y + s), (x + s, y)]
    draw.line(tub, fill=ink, width=w)
    draw.line(
        [
            (x, y + s * 0.2),
            (x + s * 0.25, y + s * 0.1),
            (x + s * 0.5, y + s * 0.2),
            (x + s * 0.75, y + s * 0.1),
            (x + s, y + s * 0.2),
        ],
        fill=ink,
        width=w,
    )
    for k in range(2):  # two dots: 30 degrees, a line under: gentle
        cx = x + s * (0.38 + 0.24 * k)
        draw.ellipse((cx - 4, y + s * 0.55 - 4, cx + 4, y + s * 0.55 + 4), fill=ink)
    x += gap
    draw.polygon([(x + s / 2, y), (x + s, y + s), (x, y + s)], outline=ink, width=w)
    draw.line((x, y, x + s, y + s), fill=ink, width=w)
    draw.line((x + s, y, x, y + s), fill=ink, width=w)
    x += gap
    draw.rectangle((x, y, x + s, y + s), outline=ink, width=w)
    draw.ellipse((x + s * 0.15, y + s * 0.15, x + s * 0.85, y + s * 0.85), outline=ink, width=w)
    draw.line((x, y, x + s, y + s), fill=ink, width=w)
    draw.line((x + s, y, x, y + s), fill=ink, width=w)
    x += gap
    draw.polygon(
        [(x, y + s), (x + s * 0.1, y + s * 0.35), (x + s * 0.75, y + s * 0.35), (x + s, y + s)],
        outline=ink,
        width=w,
    )
    draw.line((x + s * 0.35, y + s * 0.35, x + s * 0.45, y + s * 0.15), fill=ink, width=w)
    draw.line((x + s * 0.45, y + s * 0.15, x + s * 0.85, y + s * 0.15), fill=ink, width=w)
    draw.ellipse((x + s / 2 - 4, y + s * 0.68 - 4, x + s / 2 + 4, y + s * 0.68 + 4), fill=ink)


def carelabel(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(r["seed"])
    cw, ch = 380, 1040
    ink = colour(r["ink"])
    satin = Image.new("RGB", (cw, ch), colour(r["satin"]))
    sd = ImageDraw.Draw(satin)
    for y in range(0, ch, 3):  # the weave
        sd.line((0, y, cw, y), fill=shade(r["satin"], rng.uniform(0.96, 1.0)))
    made, fibre, size, wash, bleach, tumble, iron, separate, style = record["lines"]
    y = 130  # the top 80 px go into the seam
    put(sd, (cw / 2, y), record["title"].upper(), face("narrow-bold", 40), ink, 4, "centre")
    body_f = face("narrow", 29)
    y += 56
    put(sd, (cw / 2, y), made, body_f, ink, 0, "centre")
    y += 40
    sd.line((40, y, cw - 40, y), fill=shade(ink, 1.8), width=1)
    y += 50
    for part in cells(fibre):
        put(sd, (cw / 2, y), part, face("narrow-bold", 31), ink, 0, "centre")
        y += 40
    y += 12
    put(sd, (cw / 2, y), size, face("narrow-bold", 31), ink, 0, "centre")
    y += 30
    sd.line((40, y, cw - 40, y), fill=shade(ink, 1.8), width=1)
    y += 24
    care_symbols(sd, 38, y, ink, 50)
    y += 108
    for line in (wash, bleach, tumble, iron):
        put(sd, (cw / 2, y), line, body_f, ink, 0, "centre")
        y += 40
    y += 8
    for line in wrap(separate, face("narrow-italic", 27), cw - 60):
        put(sd, (cw / 2, y), line, face("narrow-italic", 27), ink, 0, "centre")
        y += 34
    y += 26
    put(sd, (cw / 2, y), style, face("mono", 22), ink, 0, "centre")
    fits(record, "the care text", y, ch - 40)
    fold = across((cw, ch), [0.84 + 0.16 * math.sin(k / 15 * math.pi) for k in range(16)])
    satin = ImageChops.multiply(satin, Image.merge("RGB", (fold,) * 3))
    layer = satin.convert("RGBA")

    width, height = r["size"]
    fabric = colour(r["fabric"])
    knit = Image.new("RGB", (width, height), shade(fabric, 0.7))
    kd = ImageDraw.Draw(knit)
    for y in range(0, height + 20, 16):  # rows of knitted Vs
        for x in range(0, width + 20, 16):
            tone = shade(fabric, rng.uniform(0.9, 1.15))
            kd.polygon([(x, y), (x + 8, y + 14), (x + 8, y + 18), (x, y + 4)], fill=tone)
            kd.polygon(
                [(x + 16, y), (x + 8, y + 14), (x + 8, y + 18), (x + 16, y + 4)],
                fill=shade(tone, 0.88),
            )
    knit = knit.filter(ImageFilter.GaussianBlur(0.8))
    photo = place(knit, layer, r["corners"], shadow=5, darkness=140)
    (x0, y0), (x1, y1) = r["corners"][0], r["corners"][1]
    seam = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    md = ImageDraw.Draw(seam)  # the seam the label is sewn into, over its top
    md.polygon(
        [(x0 - 160, y0 - 30), (x1 + 160, y1 - 30), (x1 + 160, y1 + 70), (x0 - 160, y0 + 70)],
        fill=rgba(shade(fabric, 0.85)),
    )
    for k in range(30):
        t = k / 29
        sx, sy = x0 - 150 + (x1 - x0 + 300) * t, y0 + 60 + (y1 - y0) * t
        md.line((sx, sy, sx + 12, sy + (y1 - y0) / 29 * 0.5), fill=(200, 204, 220, 255), width=3)
    photo = Image.alpha_composite(photo.convert("RGBA"), seam).convert("RGB")
    photo = light(photo, (width * 0.4, height * 0.3), max(width, height) * 0.9, 0.5)
    return finish(photo, rng, record, 14)


# --- fuel pump display ---------------------------------------------------------------------


def fuelpump(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(r["seed"])
    fw, fh = 900, 960
    body, band = colour(r["body"]), colour(r["band"])
    panel = Image.new("RGB", (fw, fh), body)
    draw = ImageDraw.Draw(panel)
    sale, litres, unit, grades, sticker, pay = record["lines"]
    draw.rectangle((0, 0, fw, 130), fill=band)
    draw.rounded_rectangle((30, 24, 110, 104), 12, fill=WHITE)  # a nozzle icon
    draw.rectangle((50, 40, 80, 96), fill=band)
    draw.line((80, 50, 96, 62, 96, 88), fill=band, width=6)
    put(draw, (140, 94), record["title"], face("narrow-bold", 72), WHITE)
    draw.rounded_rectangle((50, 160, fw - 50, 630), 20, fill=(40, 42, 46))
    draw.rectangle((80, 180, fw - 80, 610), fill=colour(r["lcd"]))
    digits = colour(r["digits"])
    for k, (line, size) in enumerate(((sale, 100), (litres, 100), (unit, 76))):
        label, value = cells(line)
        top = 186 + 140 * k
        put(draw, (104, top + 36), label, face("narrow-bold", 30), digits)
        put(draw, (fw - 104, top + 124), value, face("mono-bold", size), digits, 0, "right")
        if k < 2:
            draw.line((96, top + 140, fw - 96, top + 140), fill=shade(r["lcd"], 0.85), width=2)
    grade_f = face("narrow-bold", 30)
    names = cells(grades)
    gw = (fw - 100 - 30 * (len(names) - 1)) / len(names)
    for k, (name, tone) in enumerate(zip(names, r["grades"], strict=True)):
        x = 50 + (gw + 30) * k
        draw.rounded_rectangle((x, 660, x + gw, 750), 14, fill=colour(tone))
        put(draw, (x + gw / 2, 716), name, grade_f, WHITE, 0, "centre")
    draw.rectangle((50, 786, fw - 50, 880), fill=(250, 210, 40))
    for k, text in enumerate(cells(sticker)):
        x = 80 + 400 * k
        draw.ellipse((x, 804, x + 58, 862), outline=(200, 20, 20), width=6)
        draw.line((x + 10, 852, x + 48, 814), fill=(200, 20, 20), width=6)
        put(draw, (x + 76, 846), text, face("narrow-bold", 32), (20, 20, 20))
    put(draw, (fw / 2, 930), pay, face("narrow", 30), (40, 42, 46), 0, "centre")
    layer = grain(panel, rng, 6).convert("RGBA")

    width, height = r["size"]
    forecourt = gradient((width, height), (150, 170, 190), (90, 92, 96))
    fd = ImageDraw.Draw(forecourt)
    fd.rectangle((0, 0, width, 70), fill=(230, 232, 236))  # the canopy
    for _ in range(5):  # cars and the shop behind, out of focus
        x = rng.randint(0, width)
        fd.rectangle((x, 300, x + rng.randint(60, 200), 700), fill=(rng.randint(60, 200),) * 3)
    forecourt = forecourt.filter(ImageFilter.GaussianBlur(12))
    photo = place(forecourt, layer, r["corners"], shadow=10, darkness=140)
    gx, gy, gr = r["glare"]
    photo = glare(photo, (gx, gy), gr, 110)
    photo = light(photo, (width * 0.4, height * 0.2), max(width, height) * 1.0, 0.55)
    return finish(photo, rng, record, 16)


# --- conference badge ----------------------------------------------------------------------


def badge(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(r["seed"])
    bw, bh = 640, 1020
    ink, accent, role_c = colour(r["ink"]), colour(r["accent"]), colour(r["role"])
    card = Image.new("RGB", (bw, bh), (253, 253, 252))
    draw = ImageDraw.Draw(card)
    subtitle, place_date, first, last, job, role, workshop, wifi = record["lines"]
    draw.rectangle((0, 0, bw, 250), fill=accent)
    draw.ellipse((bw / 2 - 12, 24, bw / 2 + 12, 48), fill=WHITE)  # the lanyard's slot
    for k in range(4):  # the logo: tessellated triangles
        x = 60 + 34 * k
        up = k % 2 == 0
        tri = [(x, 130 if up else 80), (x + 34, 80 if up else 130), (x + 68, 130 if up else 80)]
        draw.polygon(tri, fill=shade(accent, 1.6 - 0.12 * k))
    put(draw, (230, 122), record["title"], face("narrow-bold", 50), WHITE)
    put(draw, (60, 182), subtitle, face("narrow", 27), (236, 226, 246))
    put(draw, (60, 222), place_date, face("narrow-bold", 25), (236, 226, 246))
    name_f = face("serifcond-bold", 92)
    fits(record, "the first name", name_f.getlength(first), bw - 80)
    put(draw, (bw / 2, 410), first, name_f, ink, 0, "centre")
    put(draw, (bw / 2, 480), last, face("serifcond-bold", 50), ink, 0, "centre")
    job_f = face("narrow", 30)
    y = 550
    for line in wrap(job, job_f, bw - 80):
        put(draw, (bw / 2, y), line, job_f, (70, 70, 80), 0, "centre")
        y += 38
    draw.rectangle((0, 660, bw, 770), fill=role_c)
    put(draw, (bw / 2, 738), role, face("narrow-bold", 62), WHITE, 10, "centre")
    small = face("narrow", 25)
    for k, line in enumerate((workshop, wifi)):
        put(draw, (bw / 2, 840 + 50 * k), "   ".join(cells(line)), small, ink, 0, "centre")
    for k in range(24):  # a QR-like square for scanning in, no words
        for j in range(24):
            if rng.random() < 0.5:
                draw.rectangle(
                    (bw / 2 - 48 + 4 * k, 920 + 4 * j, bw / 2 - 45 + 4 * k, 923 + 4 * j), fill=ink
                )
    sleeve = Image.new("RGB", (bw + 60, bh + 60), (236, 240, 244))
    sleeve.paste(card, (30, 30))
    sd = ImageDraw.Draw(sleeve)
    sd.rectangle((0, 0, bw + 59, bh + 59), outline=(200, 206, 214), width=4)
    layer = sleeve.convert("RGBA")

    width, height = r["size"]
    cloth = textured((width, height), colour(r["cloth"]), rng, 26)
    cd = ImageDraw.Draw(cloth)
    for x in range(0, width, 7):  # a twill
        cd.line((x, 0, x + 200, height), fill=shade(r["cloth"], 0.9))
    cd.polygon([(440, 0), (560, 0), (520, 240), (480, 240)], fill=colour(r["accent"]))  # lanyard
    cd.polygon([(590, 0), (700, 0), (610, 235), (570, 235)], fill=colour(r["accent"]))
    cd.rounded_rectangle((510, 190, 590, 250), 10, fill=(180, 184, 190))  # its clip
    cloth = cloth.filter(ImageFilter.GaussianBlur(1.5))
    photo = place(cloth, layer, r["corners"], shadow=10, darkness=150)
    photo = glare(photo, (width * 0.62, height * 0.3), 200, 90)  # the sleeve's shine
    photo = light(photo, (width * 0.5, height * 0.25), max(width, height) * 0.9, 0.5)
    return finish(photo, rng, record, 15)


# --- wedding invitation --------------------------------------------------------------------


def sprig(draw: ImageDraw.ImageDraw, x: float, y: float, fill: RGB, flip: bool) -> None:
    """A curved stem with leaves either side."""
    sign = -1 if flip else 1
    points = [(x + sign * 12 * k, y + 6 * math.sin(k / 3)) for k in range(14)]
    draw.line(points, fill=shade(fill, 0.8), width=3)
    for k, (px, py) in enumerate(points[1:-1], start=1):
        side = -1 if k % 2 else 1
        draw.ellipse((px - 7, py + side * 14 - 6, px + 7, py + side * 14 + 6), fill=fill)


def invitation(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(r["seed"])
    cw, ch = 820, 1160
    ink, gold, leaf = colour(r["ink"]), colour(r["gold"]), colour(r["leaf"])
    card = grain(Image.new("RGB", (cw, ch), colour(r["card"])), rng, 5)
    draw = ImageDraw.Draw(card)
    draw.rectangle((28, 28, cw - 29, ch - 29), outline=gold, width=4)
    draw.rectangle((40, 40, cw - 41, ch - 41), outline=gold, width=1)
    sprig(draw, cw / 2 - 20, 100, leaf, True)
    sprig(draw, cw / 2 + 20, 100, leaf, False)
    draw.ellipse((cw / 2 - 9, 91, cw / 2 + 9, 109), fill=(220, 160, 170))
    (families, request, marriage, day, hour, church, after, carriages, dress, rsvp) = record[
        "lines"
    ]
    script, small = face("serifcond-italic", 34), face("serifcond-italic", 26)
    y = 230
    for line in (families, request, marriage):
        put(draw, (cw / 2, y), line, script, ink, 0, "centre")
        y += 52
    y += 90
    put(draw, (cw / 2, y), record["title"], face("serifcond-italic", 82), gold, 0, "centre")
    y += 120
    put(draw, (cw / 2, y), day, face("serifcond-bold", 38), ink, 0, "centre")
    y += 56
    put(draw, (cw / 2, y), hour, script, ink, 0, "centre")
    y += 80
    put(draw, (cw / 2, y), church, face("serifcond-bold", 34), ink, 0, "centre")
    y += 54
    put(draw, (cw / 2, y), after, script, ink, 0, "centre")
    y += 76
    put(draw, (cw / 2, y), carriages, small, ink, 0, "centre")
    y += 90
    draw.line((cw / 2 - 120, y - 40, cw / 2 + 120, y - 40), fill=gold, width=2)
    put(draw, (cw / 2, y), dress, small, ink, 0, "centre")
    y += 44
    for line in wrap(rsvp, small, cw - 140):
        put(draw, (cw / 2, y), line, small, ink, 0, "centre")
        y += 34
    fits(record, "the invitation", y, ch - 60)
    sprig(draw, cw / 2 - 20, ch - 90, leaf, True)
    sprig(draw, cw / 2 + 20, ch - 90, leaf, False)
    layer = card.convert("RGBA")

    width, height = r["size"]
    table = textured((width, height), colour(r["table"]), rng, 16)
    td = ImageDraw.Draw(table)
    for x in range(0, width, 4):  # linen
        td.line((x, 0, x, height), fill=shade(r["table"], 0.95))
    for y in range(0, height, 4):
        td.line((0, y, width, y), fill=shade(r["table"], 0.97))
    envelope = Image.new("RGBA", (860, 600), (238, 232, 220, 255))
    ed = ImageDraw.Draw(envelope)
    ed.polygon([(0, 0), (430, 300), (860, 0)], fill=(226, 218, 204, 255), outline=(200, 190, 176))
    ed.line([(0, 600), (430, 320), (860, 600)], fill=(212, 204, 190), width=2)
    table = place(table, envelope, [(40, 560), (760, 420), (880, 1000), (120, 1140)], 8, 120)
    photo = place(table, layer, r["corners"], shadow=9, darkness=150)
    photo = light(photo, (width * 0.55, height * 0.2), max(width, height) * 1.0, 0.55)
    return finish(photo, rng, record, 14)


DRAW = {
    "mailclient": mailclient,
    "errordialog": errordialog,
    "calendar": calendar,
    "weatherapp": weatherapp,
    "examresults": examresults,
    "boardingpass": boardingpass,
    "departureboard": departureboard,
    "prescription": prescription,
    "carelabel": carelabel,
    "fuelpump": fuelpump,
    "badge": badge,
    "invitation": invitation,
}
PHOTO_LIKE = {  # saved as JPEG; the rest are screens or scans, saved as PNG
    "boardingpass",
    "departureboard",
    "prescription",
    "carelabel",
    "fuelpump",
    "badge",
    "invitation",
}


def load_spec(spec: Path = SPEC) -> list[Record]:
    return json.loads(spec.read_text(encoding="utf-8"))["pictures"]


def generate(folder: Path) -> Iterator[tuple[Path, Record]]:
    """Draw each picture into `folder`, yielding (path, record) in the spec's order."""
    return draw_all(folder, load_spec(), DRAW, PHOTO_LIKE)


def main() -> None:
    draw_from_command_line(__doc__, "mmchat-textpics-heldout4", generate)


if __name__ == "__main__":
    main()
