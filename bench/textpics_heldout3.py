"""Third held-out set of text pictures: Liberation faces, twelve more kinds, written apart.

    python3 bench/textpics_heldout3.py [--out DIR]

bench/textpics.py's set (DejaVu Sans) is the one the reading was tuned on; bench/textpics_heldout.py
(Aileron, DejaVu Sans Mono) and bench/textpics_heldout2.py (DejaVu Serif and Condensed faces) are
the first two held-out checks. This set was written, like the second, by someone who never looked
at how the app reads or answers, with texts and question wordings of its own. It is drawn in faces
no earlier set uses, all from /usr/share/fonts/truetype/liberation (Debian package
fonts-liberation):

- Liberation Sans (Regular, Bold, Italic, Bold Italic);
- Liberation Serif (Regular, Bold, Italic, Bold Italic);
- Liberation Mono (Regular, Bold), for code, times and till rolls.

Sizes run from 14 to 84 pixels, with letter-spaced capitals on the invoice, the street sign, the
warning sticker, the loan slip and the notifications, and mixed case elsewhere.

bench/data/textpics_heldout3.json holds each picture's title, its text lines (`text` is the
title and the lines, one a line), how to draw it and questions graded by keywords ("need" of
them must appear in the answer as words). Each kind is drawn from that record with Pillow alone,
from a seeded `random.Random`, so the same Pillow draws the same pixels. Photographed kinds are
drawn flat, then warped onto the four corners the record gives (a true perspective transform),
lit unevenly, blurred, grained and saved as JPEG; screens and scans are saved as PNG:

- invoice: a joiner's invoice as exported to PDF, letterhead, bill-to and invoice-details blocks,
  a line-item table with a tinted header, subtotal, VAT and a boxed total, payment small print;
  flat page, PNG;
- timetable: a bus-stop timetable panel (route badge, stop, destination, two grids of departure
  times, a red notice, the operator's band) in a metal case with a plastic cover's reflection,
  in a blurred street; photographed, JPEG;
- recipe: a ruled index card written in pen (each word a little off the line), ingredients in
  one column and numbered method steps in the other, on a wooden kitchen worktop with flour
  smudges; photographed, JPEG;
- lockscreen: a phone lock screen, wallpaper, large clock and date, two notification cards
  (app name, time, sender, preview) and the swipe hint; screenshot, PNG;
- pricetag: a supermarket shelf-edge label (product, size, struck-through old price, price,
  unit price, code, yellow offer strip) in the shelf's rail, tubs above; photographed, JPEG;
- flyer: a dark-blue event flyer with paper lanterns, pinned to a cork noticeboard among other
  notices; photographed, JPEG;
- appointment: a dental practice's reminder card, printed labels with the details written in
  by hand on dotted lines, small print below, on a table; photographed, JPEG;
- codeeditor: a dark-theme code editor, file tabs, a short Python function with line numbers
  (window furniture, not part of `text`), a red squiggle where a colon is missing, the problems
  panel and the status bar; screenshot, PNG;
- utilitybill: the first page of an electricity bill, account box, meter readings, charges,
  a tinted total row and the pay-by date; a slightly skewed scan, PNG;
- streetsign: an enamel street-name sign with its district code in red and a ceramic house
  plaque, screwed to a brick wall in low sun, each at its own angle; photographed, JPEG;
- warning: a yellow warning sticker (black band, hazard triangle, instructions, a maximum-load
  box) on a painted steel machine guard with rivets, scuffed, with flash glare; photographed,
  JPEG;
- libraryslip: a thermal-paper loan receipt from a self-service machine, items and due dates
  in monospace, faded in streaks, torn at the foot, on a wooden desk; photographed, JPEG.
"""

from __future__ import annotations

import functools
import json
import random
import re
import sys
from collections.abc import Iterator
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

SPEC = Path(__file__).parent / "data" / "textpics_heldout3.json"
FONT_DIR = Path("/usr/share/fonts/truetype/liberation")
PACKAGE = "fonts-liberation"

Record = dict[str, Any]
RGB = tuple[int, int, int]
Point = tuple[float, float]
Font = ImageFont.FreeTypeFont

FACES: dict[str, str] = {
    "sans": "LiberationSans-Regular.ttf",
    "sans-bold": "LiberationSans-Bold.ttf",
    "sans-italic": "LiberationSans-Italic.ttf",
    "sans-bolditalic": "LiberationSans-BoldItalic.ttf",
    "serif": "LiberationSerif-Regular.ttf",
    "serif-bold": "LiberationSerif-Bold.ttf",
    "serif-italic": "LiberationSerif-Italic.ttf",
    "serif-bolditalic": "LiberationSerif-BoldItalic.ttf",
    "mono": "LiberationMono-Regular.ttf",
    "mono-bold": "LiberationMono-Bold.ttf",
}


@functools.cache
def face(name: str, size: int) -> Font:
    """One of FACES at `size` pixels, or a clear error naming the Debian package to install."""
    path = FONT_DIR / FACES[name]
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: install the Debian package {PACKAGE} (apt-get install {PACKAGE})"
        )
    return ImageFont.truetype(str(path), size)


# --- text ----------------------------------------------------------------------------------


def pen(
    draw: ImageDraw.ImageDraw,
    xy: Point,
    text: str,
    font: Font,
    fill: Any,
    rng: random.Random,
    wobble: float = 1.5,
) -> float:
    """Handwriting-ish: `text` word by word, each a little above or below the baseline."""
    x, y = xy
    for word in text.split(" "):
        if word:
            draw.text(
                (x, y + rng.uniform(-wobble, wobble)), word, font=font, fill=fill, anchor="ls"
            )
        x += font.getlength(word + " ") + rng.uniform(-0.5, 1.5)
    return x - xy[0]


def dotted(draw: ImageDraw.ImageDraw, x0: float, x1: float, y: float, fill: Any) -> None:
    """A dotted rule for writing on."""
    for x in range(int(x0), int(x1), 7):
        draw.rectangle((x, y, x + 1, y + 1), fill=fill)


def dashed(draw: ImageDraw.ImageDraw, x0: float, x1: float, y: float, fill: Any) -> None:
    for x in range(int(x0), int(x1), 14):
        draw.line((x, y, min(x + 7, x1), y), fill=fill, width=2)


# --- photography ---------------------------------------------------------------------------


def glare(picture: Image.Image, centre: Point, radius: float, strength: int) -> Image.Image:
    """A soft white reflection, `strength` (0..255) at its centre."""
    mask = spot(picture.size, centre, radius).point(lambda v: v * strength // 255)
    white = Image.new("RGB", picture.size, (255, 255, 255))
    return Image.composite(white, picture.convert("RGB"), mask)


# --- invoice -------------------------------------------------------------------------------


def invoice(record: Record) -> Image.Image:
    r = record["render"]
    width, height = r["size"]
    ink, accent, grey = colour(r["ink"]), colour(r["accent"]), (110, 114, 120)
    page = Image.new("RGB", (width, height), colour(r["paper"]))
    draw = ImageDraw.Draw(page)
    (address, contact, heading, number, issued, due, bill_to, name, where, head, *rest) = record[
        "lines"
    ]
    *items, subtotal, vat, total, payment, thanks = rest
    left, right = 70, width - 70
    draw.rectangle((left, 70, left + 60, 130), fill=accent)  # the firm's mark: a mitred corner
    draw.polygon([(left + 12, 118), (left + 48, 118), (left + 12, 82)], fill=(255, 255, 255))
    put(draw, (left + 80, 106), record["title"], face("sans-bold", 36), accent)
    put(draw, (left + 80, 136), address, face("sans", 17), grey)
    put(draw, (left, 172), contact.replace("  ", "     "), face("sans", 15), grey)
    put(draw, (right, 116), heading, face("serif-bold", 54), ink, 5, "right")
    draw.line((left, 196, right, 196), fill=accent, width=3)

    small, bold = face("sans", 18), face("sans-bold", 18)
    put(draw, (left, 248), bill_to, face("sans-bold", 15), accent, 2)
    put(draw, (left, 282), name, face("sans", 22), ink)
    put(draw, (left, 312), where, small, ink)
    for k, line in enumerate((number, issued, due)):
        label, value = cells(line)
        put(draw, (right - 330, 250 + 32 * k), label, small, grey)
        put(draw, (right, 250 + 32 * k), value, bold, ink, 0, "right")

    top, row = 370, 50
    columns = (left + 16, right - 300, right - 150, right - 16)  # desc left; the rest right
    draw.rectangle((left, top, right, top + 44), fill=accent)
    for k, text in enumerate(cells(head)):
        align = "left" if k == 0 else "right"
        put(draw, (columns[k], top + 29), text, bold, (255, 255, 255), 0, align)
    y = top + 44
    body = face("sans", 19)
    for k, line in enumerate(items):
        if k % 2:
            draw.rectangle((left, y, right, y + row), fill=colour(r["band"]))
        for c, text in enumerate(cells(line)):
            put(draw, (columns[c], y + 32), text, body, ink, 0, "left" if c == 0 else "right")
        y += row
    draw.line((left, y, right, y), fill=(200, 204, 210), width=2)
    y += 20
    for line in (subtotal, vat):
        label, value = cells(line)
        put(draw, (right - 300, y + 24), label, body, ink)
        put(draw, (columns[3], y + 24), value, body, ink, 0, "right")
        y += 38
    label, value = cells(total)
    draw.rectangle((right - 320, y + 6, right, y + 62), fill=colour(r["band"]), outline=accent)
    put(draw, (right - 300, y + 44), label, face("sans-bold", 22), ink)
    put(draw, (columns[3], y + 44), value, face("sans-bold", 26), accent, 0, "right")
    y += 130
    for line in wrap(payment, small, right - left):
        put(draw, (left, y), line, small, ink)
        y += 28
    put(draw, (left, y + 30), thanks, face("serif-italic", 24), accent)
    if y + 30 > height - 60:
        raise ValueError(f"{record['id']}: the small print runs off the page")
    draw.line((left, height - 60, right, height - 60), fill=accent, width=1)
    return page


# --- bus timetable -------------------------------------------------------------------------


def timetable(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(r["seed"])
    pw, ph, rim = 900, 1010, 30
    ink, band, grid = colour(r["ink"]), colour(r["band"]), colour(r["grid"])
    flat = Image.new("RGBA", (pw, ph), rgba(r["case"]))
    draw = ImageDraw.Draw(flat)
    draw.rectangle((rim, rim, pw - rim, ph - rim), fill=(250, 250, 248))
    route, towards, weekday_head, *rest = record["lines"]
    weekdays, rest = rest[:3], rest[3:]
    saturday_head, *rest = rest
    saturdays, rest = rest[:2], rest[2:]
    notice, approximate, operator = rest
    x0, x1 = rim, pw - rim
    draw.rectangle((x0, rim, x1, rim + 170), fill=band)
    draw.rounded_rectangle((x0 + 24, rim + 24, x0 + 164, rim + 146), 16, fill=(255, 255, 255))
    put(draw, (x0 + 94, rim + 116), route, face("sans-bold", 84), band, 0, "centre")
    put(draw, (x0 + 190, rim + 74), record["title"], face("sans-bold", 40), (255, 255, 255))
    put(draw, (x0 + 190, rim + 126), towards, face("sans", 28), (232, 246, 238))
    y = rim + 200

    def section(head: str, rows: list[str], y: int) -> int:
        draw.rectangle((x0 + 20, y, x1 - 20, y + 48), fill=(226, 230, 228))
        put(draw, (x0 + 36, y + 34), head, face("sans-bold", 28), ink)
        y += 48
        cell_w, cell_h = (x1 - x0 - 40) / 6, 58
        times = face("mono-bold", 30)
        for k, line in enumerate(rows):
            for c, time in enumerate(cells(line)):
                cx = x0 + 20 + cell_w * (c + 0.5)
                put(draw, (cx, y + cell_h * k + 40), time, times, ink, 0, "centre")
        for k in range(len(rows) + 1):
            draw.line((x0 + 20, y + cell_h * k, x1 - 20, y + cell_h * k), fill=grid, width=1)
        for c in range(7):
            x = x0 + 20 + cell_w * c
            draw.line((x, y, x, y + cell_h * len(rows)), fill=grid, width=1)
        return int(y + cell_h * len(rows))

    y = section(weekday_head, weekdays, y) + 36
    y = section(saturday_head, saturdays, y) + 62
    put(draw, (x0 + 36, y), notice, face("sans-bold", 30), colour(r["alert"]))
    y += 46
    put(draw, (x0 + 36, y), approximate, face("sans-italic", 22), ink)
    company, phone = cells(operator)
    draw.rectangle((x0, ph - rim - 90, x1, ph - rim), fill=shade(band, 0.75))
    put(draw, (x0 + 36, ph - rim - 34), company, face("sans-bold", 30), (255, 255, 255))
    put(draw, (x1 - 30, ph - rim - 36), phone, face("sans", 22), (232, 246, 238), 0, "right")
    if y > ph - rim - 120:
        raise ValueError(f"{record['id']}: the notes run into the operator's band")
    for x, yy in ((14, 14), (pw - 14, 14), (14, ph - 14), (pw - 14, ph - 14)):  # the case's bolts
        draw.ellipse((x - 6, yy - 6, x + 6, yy + 6), fill=shade(r["case"], 1.5))

    width, height = r["size"]
    street = Image.new("RGB", (width, height), colour(r["street"]))
    st = ImageDraw.Draw(street)
    for _ in range(36):
        x, yy = rng.randrange(width), rng.randrange(height)
        st.rectangle(
            (x, yy, x + rng.randint(80, 300), yy + rng.randint(60, 260)),
            fill=shade(r["street"], rng.uniform(0.55, 1.35)),
        )
    st.rectangle((575, 0, 625, height), fill=(84, 88, 92))  # the stop's pole behind the case
    street = street.filter(ImageFilter.GaussianBlur(10))
    photo = place(street, flat, r["corners"], shadow=12, darkness=130)
    gx, gy, gr = r["glare"]
    photo = glare(photo, (gx, gy), gr, 110)
    photo = light(photo, (width * 0.3, height * 0.2), max(width, height), 0.58)
    return finish(photo, rng, record, 16)


# --- recipe card ---------------------------------------------------------------------------


def recipe(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(r["seed"])
    cw, ch = 1150, 760
    ink, title_ink = rgba(r["ink"]), rgba(r["title_ink"])
    card = grain(Image.new("RGB", (cw, ch), colour(r["card"])), rng, 6)
    flat = card.convert("RGBA")
    draw = ImageDraw.Draw(flat)
    step = 44
    rules = [160 + step * k for k in range(14)]
    for y in rules:
        draw.line((0, y + 6, cw, y + 6), fill=rgba(r["rule"]), width=1)
    draw.line((0, 122, cw, 122), fill=rgba(r["red"]), width=2)
    draw.line((430, 122, 430, ch), fill=rgba(r["red"], 120), width=1)
    counts, need, *rest = record["lines"]
    ingredients, rest = rest[:6], rest[6:]
    method, *steps = rest
    pen(draw, (50, 70), record["title"], face("serif-bolditalic", 52), title_ink, rng, 1.0)
    x = 50.0
    for part in cells(counts):
        x += pen(draw, (x, 108), part, face("serif-italic", 24), ink, rng, 0.8) + 30
    head_f, body_f = face("serif-bolditalic", 31), face("serif-italic", 31)
    wide = pen(draw, (40, rules[0]), need, head_f, ink, rng, 0.8)
    draw.line((40, rules[0] + 5, 40 + wide - 8, rules[0] + 3), fill=ink, width=2)
    for k, line in enumerate(ingredients, start=1):
        pen(draw, (52, rules[k]), line, body_f, ink, rng)
    wide = pen(draw, (460, rules[0]), method, head_f, ink, rng, 0.8)
    draw.line((460, rules[0] + 5, 460 + wide - 8, rules[0] + 4), fill=ink, width=2)
    row = 1
    step_f = face("serif-italic", 30)
    for text in steps:
        number, words = text.split(" ", 1)
        pen(draw, (460, rules[row]), number, step_f, ink, rng, 0.5)
        for line in wrap(words, step_f, cw - 504 - 36):
            pen(draw, (504, rules[row]), line, step_f, ink, rng)
            row += 1
    if row > len(rules):
        raise ValueError(f"{record['id']}: the method runs off the card")

    width, height = r["size"]
    counter = wood((width, height), colour(r["counter"]), rng, 180)
    dust = Image.new("L", (width, height), 0)
    dd = ImageDraw.Draw(dust)
    for _ in range(6):  # flour
        x, y = rng.randrange(width), rng.randrange(height)
        dd.ellipse((x, y, x + rng.randint(40, 140), y + rng.randint(20, 70)), fill=90)
    dust = dust.filter(ImageFilter.GaussianBlur(14))
    counter = Image.composite(Image.new("RGB", (width, height), (244, 240, 230)), counter, dust)
    photo = place(counter, flat, r["corners"], shadow=8, darkness=140)
    bowl = Image.new("L", (width, height), 0)  # the shadow of a mixing bowl off to one side
    ImageDraw.Draw(bowl).ellipse((width - 320, height - 260, width + 200, height + 180), fill=120)
    bowl = bowl.filter(ImageFilter.GaussianBlur(40))
    photo = Image.composite(Image.new("RGB", (width, height), (20, 14, 10)), photo, bowl)
    photo = light(photo, (width * 0.35, height * 0.3), max(width, height) * 1.05, 0.55)
    return finish(photo, rng, record, 14)


# --- phone lock screen ---------------------------------------------------------------------


def lockscreen(record: Record) -> Image.Image:
    r = record["render"]
    width, height = r["size"]
    white = (255, 255, 255)
    mask = Image.linear_gradient("L").resize((width, height))
    shot = Image.composite(
        Image.new("RGB", (width, height), colour(r["bottom"])),
        Image.new("RGB", (width, height), colour(r["top"])),
        mask,
    )
    blobs = Image.new("L", (width, height), 0)
    bd = ImageDraw.Draw(blobs)
    bd.ellipse((-200, 820, 420, 1440), fill=90)
    bd.ellipse((380, 200, 960, 780), fill=60)
    blobs = blobs.filter(ImageFilter.GaussianBlur(60))
    shot = Image.composite(Image.new("RGB", (width, height), (236, 170, 120)), shot, blobs)
    draw = ImageDraw.Draw(shot)
    date, app1, sender, message, app2, heading, detail, swipe = record["lines"]
    for k in range(4):  # signal bars, wifi and battery: icons only
        draw.rectangle((560 + 9 * k, 34 - 4 * k, 566 + 9 * k, 40), fill=white)
    draw.rounded_rectangle((620, 24, 664, 42), 4, outline=white, width=2)
    draw.rectangle((624, 28, 652, 38), fill=white)
    draw.rectangle((666, 29, 669, 37), fill=white)
    draw.rounded_rectangle((340, 120, 380, 150), 6, outline=white, width=3)  # the padlock
    draw.arc((346, 98, 374, 130), 180, 360, fill=white, width=3)
    put(draw, (width / 2, 300), record["title"], face("sans", 84), white, 2, "centre")
    put(draw, (width / 2, 352), date, face("sans", 28), white, 0, "centre")

    def notification(top: int, app: str, icon: RGB, title: str, body: str) -> int:
        name, when = cells(app)
        body_f = face("sans", 22)
        lines = wrap(body, body_f, width - 80 - 60)
        bottom = top + 110 + 30 * len(lines)
        card = Image.new("RGBA", (width, height), (0, 0, 0, 0))
        ImageDraw.Draw(card).rounded_rectangle(
            (30, top, width - 30, bottom), 26, fill=rgba(r["card"], 225)
        )
        shot.paste(Image.alpha_composite(shot.convert("RGBA"), card).convert("RGB"))
        draw.rounded_rectangle((54, top + 20, 84, top + 50), 8, fill=icon)
        draw.rounded_rectangle((61, top + 28, 77, top + 40), 3, outline=white, width=2)
        grey = (96, 96, 104)
        put(draw, (98, top + 42), name, face("sans-bold", 16), grey, 1.5)
        put(draw, (width - 56, top + 42), when, face("sans", 17), grey, 0, "right")
        put(draw, (54, top + 84), title, face("sans-bold", 24), colour(r["ink"]))
        for k, line in enumerate(lines):
            put(draw, (54, top + 116 + 30 * k), line, body_f, colour(r["ink"]))
        return bottom

    bottom = notification(560, app1, colour(r["messages"]), sender, message)
    bottom = notification(bottom + 16, app2, colour(r["parcel"]), heading, detail)
    if bottom > height - 200:
        raise ValueError(f"{record['id']}: the notifications run into the swipe hint")
    for cx in (90, width - 90):  # torch and camera buttons
        draw.ellipse((cx - 40, height - 190, cx + 40, height - 110), fill=shade(r["bottom"], 0.7))
    draw.rounded_rectangle((78, height - 170, 102, height - 132), 5, outline=white, width=2)
    draw.rounded_rectangle((width - 110, height - 162, width - 70, height - 136), 5, fill=white)
    put(draw, (width / 2, height - 70), swipe, face("sans", 20), white, 0.5, "centre")
    draw.rounded_rectangle(
        (width / 2 - 80, height - 30, width / 2 + 80, height - 22), 4, fill=white
    )
    return shot


# --- shelf price tag -----------------------------------------------------------------------


def pricetag(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(r["seed"])
    lw, lh, strip = 840, 380, 92
    ink = colour(r["ink"])
    flat = Image.new("RGBA", (lw, lh), rgba(r["label"]))
    draw = ImageDraw.Draw(flat)
    size, was, price, unit, code, offer, ends = record["lines"]
    name_f = face("sans-bold", 32)
    y = 52
    for line in wrap(record["title"], name_f, 430):
        put(draw, (26, y), line, name_f, ink)
        y += 38
    put(draw, (26, y + 6), size, face("sans", 24), ink)
    put(draw, (26, lh - strip - 52), unit, face("sans-bold", 20), ink)
    put(draw, (26, lh - strip - 20), code, face("mono", 16), (90, 90, 96))
    for k in range(28):  # the stock barcode beside the code
        if rng.random() < 0.6:
            x = 160 + 4 * k
            draw.rectangle((x, lh - strip - 40, x + rng.choice((1, 2)), lh - strip - 14), fill=ink)
    was_f = face("sans", 26)
    wide = put(draw, (lw - 26, 58), was, was_f, ink, 0, "right")
    draw.line((lw - 26 - wide - 4, 50, lw - 22, 46), fill=colour(r["offer_ink"]), width=3)
    put(draw, (lw - 26, 186), price, face("sans-bold", 84), ink, 0, "right")
    draw.rectangle((0, lh - strip, lw, lh), fill=colour(r["offer"]))
    put(draw, (26, lh - 32), offer, face("sans-bold", 44), colour(r["offer_ink"]))
    put(draw, (lw - 24, lh - 34), ends, face("sans-bold", 22), ink, 0, "right")

    width, height = r["size"]
    scene = Image.new("RGB", (width, height), (226, 228, 232))
    sd = ImageDraw.Draw(scene)
    for k in range(7):  # yogurt tubs on the shelf above: tapered, lidded, banded, no words
        x = -40 + 180 * k + rng.randint(-10, 10)
        band = (40, 90, 170) if k % 3 else (220, 60, 60)
        sd.polygon([(x, 80), (x + 160, 80), (x + 146, 400), (x + 14, 400)], fill=(246, 246, 244))
        sd.polygon([(x + 5, 190), (x + 155, 190), (x + 151, 290), (x + 9, 290)], fill=band)
        sd.ellipse((x + 40, 210, x + 120, 270), fill=(250, 250, 250))
        sd.ellipse((x - 4, 50, x + 164, 110), fill=(214, 216, 220))
        sd.rectangle((x + 20, 120, x + 34, 380), fill=(255, 255, 255))  # a highlight
    sd.rectangle((0, 810, width, height), fill=(196, 198, 202))  # the shelf below
    for k in range(5):
        x = 30 + 250 * k
        sd.rectangle((x, 830, x + 200, height), fill=(236, 226, 206))
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = r["corners"]

    def edge(xa: float, ya: float, xb: float, yb: float, x: float) -> float:
        return ya + (yb - ya) * (x - xa) / (xb - xa)

    rail = [  # the shelf-edge rail the label slides into, along the whole shelf
        (0, edge(x0, y0, x1, y1, 0) - 26),
        (width, edge(x0, y0, x1, y1, width) - 26),
        (width, edge(x3, y3, x2, y2, width) + 22),
        (0, edge(x3, y3, x2, y2, 0) + 22),
    ]
    sd.polygon(rail, fill=colour(r["shelf"]))
    sd.line([rail[0], rail[1]], fill=shade(r["shelf"], 1.6), width=4)
    scene = scene.filter(ImageFilter.GaussianBlur(6))
    photo = scene
    photo = place(photo, flat, r["corners"], shadow=3, darkness=100)
    photo = glare(photo, (width * 0.62, height * 0.5), 170, 70)  # the rail's clear cover
    photo = light(photo, (width * 0.5, height * 0.2), max(width, height) * 0.95, 0.62)
    return finish(photo, rng, record, 14)


# --- event flyer ---------------------------------------------------------------------------


def lantern(draw: ImageDraw.ImageDraw, x: float, y: float, size: float, fill: RGB) -> None:
    """A paper lantern: a string, a cap, a ribbed oval body."""
    draw.line((x, 0, x, y - size * 0.6), fill=(200, 190, 160), width=2)
    draw.rectangle((x - size * 0.25, y - size * 0.68, x + size * 0.25, y - size * 0.55), fill=fill)
    draw.ellipse((x - size * 0.6, y - size * 0.58, x + size * 0.6, y + size * 0.58), fill=fill)
    rib = shade(fill, 0.8)
    for k in (-0.3, 0.0, 0.3):
        draw.arc(
            (x - size * abs(k) - 2, y - size * 0.56, x + size * abs(k) + 2, y + size * 0.56),
            0,
            360,
            fill=rib,
            width=2,
        )
    draw.rectangle((x - size * 0.25, y + size * 0.55, x + size * 0.25, y + size * 0.68), fill=fill)


def flyer(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(r["seed"])
    fw, fh = 820, 1160
    paper, ink, title_ink = colour(r["paper"]), colour(r["ink"]), colour(r["title_ink"])
    accent = colour(r["accent"])
    base = Image.new("RGB", (fw, fh), paper)
    glow = Image.new("L", (fw, fh), 0)
    spots = [(130, 170, 70), (400, 120, 52), (660, 190, 78), (260, 300, 40), (560, 330, 36)]
    gd = ImageDraw.Draw(glow)
    for x, y, s in spots:
        gd.ellipse((x - s * 2, y - s * 2, x + s * 2, y + s * 2), fill=150)
    glow = glow.filter(ImageFilter.GaussianBlur(40))
    base = Image.composite(Image.new("RGB", (fw, fh), (120, 70, 40)), base, glow)
    draw = ImageDraw.Draw(base)
    tones = [(236, 84, 60), (246, 170, 60), (230, 60, 90), (250, 200, 80), (240, 120, 50)]
    for (x, y, s), tone in zip(spots, tones, strict=True):
        lantern(draw, x, y, s, tone)
    features, date, hours, venue, tickets, dogs, site = record["lines"]
    title_f = face("serif-bold", 80)
    y = 500
    for line in wrap(record["title"], title_f, fw - 100):
        put(draw, (fw / 2, y), line, title_f, title_ink, 1, "centre")
        y += 88
    feature_f = face("sans-bold", 26)
    parts = cells(features)
    total = sum(feature_f.getlength(p) for p in parts) + 40 * (len(parts) - 1)
    x = (fw - total) / 2
    for k, part in enumerate(parts):
        x += put(draw, (x, y + 6), part, feature_f, accent)
        if k < len(parts) - 1:
            draw.ellipse((x + 16, y - 4, x + 24, y + 4), fill=accent)
            x += 40
    y += 60
    draw.line((140, y, fw - 140, y), fill=accent, width=2)
    put(draw, (fw / 2, y + 70), date, face("sans-bold", 52), ink, 0, "centre")
    put(draw, (fw / 2, y + 124), hours, face("sans", 40), title_ink, 0, "centre")
    put(draw, (fw / 2, y + 184), venue, face("sans", 32), ink, 0, "centre")
    y += 230
    draw.rectangle((0, y, fw, fh), fill=shade(paper, 0.6))
    price, children = cells(tickets)
    ticket_f = face("sans-bold", 32)
    put(draw, (fw / 2 - 30, y + 56), price, ticket_f, ink, 0, "right")
    draw.line((fw / 2, y + 26, fw / 2, y + 62), fill=accent, width=3)
    put(draw, (fw / 2 + 30, y + 56), children, ticket_f, ink)
    put(draw, (fw / 2, y + 100), dogs, face("sans-italic", 24), ink, 0, "centre")
    put(draw, (fw / 2, y + 160), site, face("mono-bold", 26), title_ink, 0, "centre")
    if y + 160 > fh - 20:
        raise ValueError(f"{record['id']}: the website falls off the flyer")
    flat = base.convert("RGBA")

    width, height = r["size"]
    cork = textured((width, height), colour(r["cork"]), rng, 40)
    cd = ImageDraw.Draw(cork)
    for _ in range(2600):  # cork's dark and light flecks
        x, y0 = rng.randrange(width), rng.randrange(height)
        cd.point((x, y0), fill=shade(r["cork"], rng.choice((0.6, 0.75, 1.25))))
    others = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    od = ImageDraw.Draw(others)
    notes = [
        ((20, 60, 330, 480), (236, 236, 230)),
        ((860, 40, 1190, 420), (250, 236, 150)),
        ((40, 1100, 420, 1480), (200, 226, 246)),
        ((880, 1050, 1180, 1460), (246, 246, 246)),
    ]
    for box, tone in notes:  # other notices, partly under the flyer (lines, no words)
        od.rectangle(box, fill=rgba(tone))
        for y0 in range(box[1] + 60, box[3] - 30, 26):
            od.line((box[0] + 30, y0, box[2] - rng.randint(40, 120), y0), fill=(150, 150, 150))
    cork = Image.alpha_composite(cork.convert("RGBA"), others).convert("RGB")
    photo = place(cork, flat, r["corners"], shadow=6, darkness=140)
    pd = ImageDraw.Draw(photo)
    for x, y0 in r["corners"][:2]:  # push pins at the top corners
        pd.ellipse((x + 4, y0 + 10, x + 30, y0 + 36), fill=(60, 40, 30))
        pd.ellipse((x, y0 + 4, x + 26, y0 + 30), fill=(210, 40, 40))
        pd.ellipse((x + 6, y0 + 8, x + 12, y0 + 14), fill=(250, 180, 180))
    photo = light(photo, (width * 0.65, height * 0.15), max(width, height) * 1.05, 0.5)
    return finish(photo, rng, record, 16)


# --- appointment card ----------------------------------------------------------------------


def appointment(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(r["seed"])
    cw, ch = 940, 620
    ink, accent, blue = colour(r["ink"]), colour(r["accent"]), colour(r["pen"])
    flat = Image.new("RGBA", (cw, ch), rgba(r["card"]))
    draw = ImageDraw.Draw(flat)
    address, heading, *rest = record["lines"]
    fields, notes = rest[:5], rest[5:]
    draw.rectangle((0, 0, cw, 14), fill=accent)
    draw.rounded_rectangle((50, 44, 96, 108), 18, fill=accent)  # a tooth
    draw.polygon([(62, 100), (73, 72), (84, 100)], fill=rgba(r["card"]))
    put(draw, (118, 84), record["title"], face("serif-bold", 44), accent)
    put(draw, (120, 112), address, face("sans", 18), (110, 110, 116))
    put(draw, (50, 170), heading, face("sans-bold", 22), ink, 3)
    label_f, hand = face("sans", 20), face("serif-italic", 32)
    for k, line in enumerate(fields):
        label, value = cells(line)
        y = 228 + 52 * k
        put(draw, (50, y), label, label_f, ink)
        dotted(draw, 170, cw - 50, y + 4, (150, 150, 156))
        pen(draw, (186, y - 2), value, hand, blue, rng, 1.2)
    small = face("sans", 17)
    y = 228 + 52 * 5 + 18
    for note in notes:
        for line in wrap(note, small, cw - 100):
            put(draw, (50, y), line, small, ink)
            y += 24
    if y > ch - 10:
        raise ValueError(f"{record['id']}: the small print runs off the card")

    width, height = r["size"]
    table = textured((width, height), colour(r["table"]), rng, 22)
    td = ImageDraw.Draw(table)
    for x in range(0, width, 5):  # a linen weave
        td.line((x, 0, x, height), fill=shade(r["table"], 0.93))
    table = table.filter(ImageFilter.GaussianBlur(0.8))
    pen_layer = Image.new("RGBA", (640, 34), (0, 0, 0, 0))  # a pen lying beside the card
    pl = ImageDraw.Draw(pen_layer)
    pl.rounded_rectangle((0, 4, 600, 30), 12, fill=(28, 40, 110))
    pl.polygon([(600, 6), (640, 17), (600, 28)], fill=(200, 200, 206))
    pl.rectangle((90, 0, 96, 34), fill=(200, 200, 206))
    table = place(table, pen_layer, [(420, 800), (1080, 760), (1082, 794), (422, 834)], 5, 150)
    photo = place(table, flat, r["corners"], shadow=7, darkness=150)
    photo = light(photo, (width * 0.2, height * 0.1), max(width, height) * 1.1, 0.5)
    return finish(photo, rng, record, 15)


# --- code editor ---------------------------------------------------------------------------

SYNTAX = re.compile(r'#.*$|""".*?"""|\d+|\w+|\s+|.')
PYTHON_KEYWORDS = {"def", "for", "in", "if", "return", "import", "from", "else"}


def code_line(draw: ImageDraw.ImageDraw, xy: Point, line: str, font: Font) -> None:
    """One line of Python, coloured token by token."""
    x, y = xy
    previous = ""
    for token in SYNTAX.findall(line):
        fill = (212, 212, 212)
        if token.startswith("#"):
            fill = (106, 153, 85)
        elif token.startswith('"'):
            fill = (206, 145, 120)
        elif token.isdigit():
            fill = (181, 206, 168)
        elif token in PYTHON_KEYWORDS:
            fill = (197, 134, 192)
        elif token == "round":
            fill = (220, 220, 170)
        elif previous == "def":
            fill = (220, 220, 170)
        elif re.fullmatch(r"\w+", token):
            fill = (156, 220, 254)
        if token.strip():
            draw.text((x, y), token, font=font, fill=fill, anchor="ls")
            previous = token
        x += font.getlength(token)


def codeeditor(record: Record) -> Image.Image:
    r = record["render"]
    width, height = r["size"]
    shot = Image.new("RGB", (width, height), (30, 30, 30))
    draw = ImageDraw.Draw(shot)
    tabs, *rest = record["lines"]
    code, rest = rest[:9], rest[9:]
    panel_tabs, problem, status = rest
    draw.rectangle((0, 0, width, 34), fill=(50, 50, 52))
    for k, tone in enumerate(((255, 95, 86), (255, 189, 46), (39, 201, 63))):
        draw.ellipse((14 + 22 * k, 11, 26 + 22 * k, 23), fill=tone)
    draw.rectangle((0, 34, 52, height - 28), fill=(44, 44, 46))  # activity bar icons
    for k in range(4):
        draw.rounded_rectangle(
            (14, 56 + 52 * k, 38, 80 + 52 * k), 4, outline=(130, 130, 134), width=2
        )
    draw.rectangle((52, 34, width, 76), fill=(37, 37, 38))
    tab_f = face("sans", 16)
    x = 52
    for k, name in enumerate([record["title"], *cells(tabs)]):
        wide = int(tab_f.getlength(name)) + 70
        if k == 0:
            draw.rectangle((x, 34, x + wide, 76), fill=(30, 30, 30))
            draw.line((x, 35, x + wide, 35), fill=(0, 122, 204), width=2)
        draw.rectangle((x + 16, 49, x + 28, 61), fill=(55, 118, 171))  # the Python icon
        draw.rectangle((x + 22, 55, x + 34, 67), fill=(255, 212, 59))
        put(draw, (x + 42, 62), name, tab_f, (255, 255, 255) if k == 0 else (150, 150, 150))
        x += wide
        draw.line((x, 34, x, 76), fill=(25, 25, 25))
    code_f, number_f = face("mono", 20), face("mono", 18)
    top, step = 116, 30
    bad = r["error_line"]
    draw.rectangle(
        (52, top + step * (bad - 1) - 22, width, top + step * (bad - 1) + 8), fill=(42, 45, 46)
    )
    for k, line in enumerate(code, start=1):
        y = top + step * (k - 1)
        tone = (198, 198, 198) if k == bad else (110, 118, 129)
        put(draw, (110, y), str(k), number_f, tone, 0, "right")
        code_line(draw, (140, y), line, code_f)
    start, end = r["error_cols"]
    bad_text = code[bad - 1]
    x0 = 140 + code_f.getlength(bad_text[:start])
    x1 = 140 + code_f.getlength(bad_text[:end]) + 8
    y = top + step * (bad - 1) + 6
    points = [(x, y + (3 if (x - x0) // 4 % 2 else 0)) for x in range(int(x0), int(x1), 4)]
    draw.line(points, fill=(241, 76, 76), width=2)
    panel = 470
    draw.line((52, panel, width, panel), fill=(70, 70, 72))
    panel_f = face("sans", 14)
    x = 70
    for k, name in enumerate(cells(panel_tabs)):
        wide = put(
            draw, (x, panel + 30), name, panel_f, (230, 230, 230) if k == 0 else (140, 140, 140), 1
        )
        if k == 0:
            draw.line((x, panel + 38, x + wide, panel + 38), fill=(230, 230, 230), width=1)
        x += int(wide) + 30
    message, where, position = cells(problem)
    y = panel + 76
    draw.ellipse((72, y - 16, 90, y + 2), fill=(241, 76, 76))
    draw.line((77, y - 11, 85, y - 3), fill=(30, 30, 30), width=2)
    draw.line((77, y - 3, 85, y - 11), fill=(30, 30, 30), width=2)
    wide = put(draw, (102, y), message, face("sans", 17), (220, 220, 220))
    wide += put(draw, (102 + wide + 16, y), where, face("sans", 16), (150, 150, 150))
    put(draw, (102 + wide + 30, y), position, face("sans", 16), (150, 150, 150))
    draw.rectangle((0, height - 28, width, height), fill=(0, 122, 204))
    branch, *facts = cells(status)
    status_f = face("sans", 15)
    draw.ellipse((14, height - 21, 22, height - 13), outline=(255, 255, 255), width=2)
    put(draw, (30, height - 9), branch, status_f, (255, 255, 255))
    x = width - 16
    for fact in reversed(facts):
        x -= put(draw, (x, height - 9), fact, status_f, (255, 255, 255), 0, "right") + 26
    return shot


# --- electricity bill ----------------------------------------------------------------------


def utilitybill(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(r["seed"])
    width, height = r["size"]
    ink, accent, band = colour(r["ink"]), colour(r["accent"]), colour(r["band"])
    page = Image.new("RGB", (width, height), colour(r["paper"]))
    draw = ImageDraw.Draw(page)
    heading, address, account, dated, period, *rest = record["lines"]
    readings, charges = rest[:3], rest[3:6]
    total, pay_by, helpline = rest[6:]
    left, right = 70, width - 70
    draw.ellipse((left, 60, left + 64, 124), fill=accent)  # a lightning bolt in a circle
    draw.polygon(
        [
            (left + 36, 68),
            (left + 18, 98),
            (left + 32, 98),
            (left + 26, 118),
            (left + 48, 86),
            (left + 34, 86),
        ],
        fill=(255, 220, 80),
    )
    put(draw, (left + 80, 106), record["title"], face("sans-bold", 38), accent)
    box = (right - 420, 60, right, 196)
    draw.rectangle(box, outline=accent, width=2)
    small, bold = face("sans", 16), face("sans-bold", 17)
    for k, line in enumerate((account, dated, period)):
        label, value = cells(line)
        y = 98 + 38 * k
        put(draw, (box[0] + 18, y), label, small, (100, 100, 106))
        put(draw, (right - 18, y), value, bold, ink, 0, "right")
    put(draw, (left, 270), heading, face("serif-bold", 48), ink)
    put(draw, (left, 310), address, face("sans", 18), ink)
    y = 370
    draw.line((left, y, right, y), fill=accent, width=3)
    row_f, value_f = face("sans", 20), face("sans-bold", 20)
    for k, line in enumerate(readings):
        label, value = cells(line)
        y += 44
        put(draw, (left + 10, y), label, row_f, ink)
        put(draw, (right - 10, y), value, value_f if k == 2 else row_f, ink, 0, "right")
    y += 24
    draw.line((left, y, right, y), fill=(200, 200, 204), width=1)
    y += 20
    for line in charges:
        parts = cells(line)
        y += 44
        put(draw, (left + 10, y), parts[0], row_f, ink)
        if len(parts) == 3:
            put(draw, (left + 300, y), parts[1], face("sans", 18), (100, 100, 106))
        put(draw, (right - 10, y), parts[-1], row_f, ink, 0, "right")
    y += 30
    label, value = cells(total)
    draw.rectangle((left, y, right, y + 70), fill=band)
    draw.rectangle((left, y, left + 8, y + 70), fill=accent)
    put(draw, (left + 30, y + 47), label, face("sans-bold", 28), ink)
    put(draw, (right - 20, y + 50), value, face("sans-bold", 40), accent, 0, "right")
    y += 140
    put(draw, (left, y), pay_by, face("serif-bold", 34), accent)
    y += 60
    for line in wrap(helpline, face("sans", 17), right - left):
        put(draw, (left, y), line, face("sans", 17), ink)
        y += 26
    if y > height - 80:
        raise ValueError(f"{record['id']}: the bill runs off the page")
    for k in range(6):  # the tear-off slip's boxes at the foot, no words
        draw.rectangle(
            (left + 140 * k, height - 150, left + 140 * k + 110, height - 110),
            outline=(180, 180, 184),
        )
    dashed(draw, 0, width, height - 200, (150, 150, 154))
    scan = grain(page, rng, 8)
    scan = scan.rotate(r["tilt"], resample=Image.Resampling.BICUBIC, fillcolor=(255, 255, 255))
    return scan.filter(ImageFilter.GaussianBlur(0.4))


# --- street sign and house plaque ----------------------------------------------------------


def bricks(size: tuple[int, int], brick: RGB, mortar: RGB, rng: random.Random) -> Image.Image:
    width, height = size
    wall = Image.new("RGB", size, mortar)
    draw = ImageDraw.Draw(wall)
    tall, long, gap = 46, 132, 8
    for row in range(height // tall + 1):
        y = row * tall
        offset = -long // 2 if row % 2 else 0
        for x in range(offset, width, long):
            tone = shade(brick, rng.uniform(0.75, 1.18))
            draw.rectangle(
                (x + gap // 2, y + gap // 2, x + long - gap // 2, y + tall - gap // 2), fill=tone
            )
    return grain(wall, rng, 34, cell=2).filter(ImageFilter.GaussianBlur(1.0))


def streetsign(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(r["seed"])
    sw, sh = 1240, 300
    ink = colour(r["ink"])
    alpha = Image.new("L", (sw, sh), 0)
    ImageDraw.Draw(alpha).rounded_rectangle((0, 0, sw - 1, sh - 1), 24, fill=255)
    sign = Image.new("RGB", (sw, sh), colour(r["sign"]))
    draw = ImageDraw.Draw(sign)
    draw.rounded_rectangle((14, 14, sw - 15, sh - 15), 16, outline=ink, width=7)
    district, borough, number, name = record["lines"]
    put(draw, (64, 180), record["title"], face("sans-bold", 80), ink, 2)
    put(draw, (sw - 64, 180), district, face("sans-bold", 80), colour(r["district"]), 2, "right")
    put(draw, (sw / 2, 252), borough, face("sans", 24), ink, 1, "centre")
    for x, y in ((40, 40), (sw - 40, 40), (40, sh - 40), (sw - 40, sh - 40)):  # screws
        draw.ellipse((x - 7, y - 7, x + 7, y + 7), fill=(170, 170, 166), outline=(110, 110, 106))
        draw.line((x - 5, y, x + 5, y), fill=(90, 90, 86), width=2)
    dirt = Image.new("L", (sw, sh), 0)
    ImageDraw.Draw(dirt).rectangle((0, sh - 70, sw, sh), fill=60)
    dirt = dirt.filter(ImageFilter.GaussianBlur(30))
    sign = Image.composite(Image.new("RGB", (sw, sh), (120, 110, 90)), sign, dirt)
    sign_layer = with_alpha(grain(sign, rng, 10), alpha)

    pw, ph = 340, 250
    plaque_c = colour(r["plaque"])
    palpha = Image.new("L", (pw, ph), 0)
    ImageDraw.Draw(palpha).ellipse((0, 0, pw - 1, ph - 1), fill=255)
    plaque = Image.new("RGB", (pw, ph), plaque_c)
    pd = ImageDraw.Draw(plaque)
    pd.ellipse((12, 12, pw - 13, ph - 13), outline=(245, 245, 240), width=5)
    put(pd, (pw / 2, 140), number, face("serif-bold", 84), (250, 250, 246), 0, "centre")
    put(pd, (pw / 2, 196), name, face("serif-italic", 34), (250, 250, 246), 0, "centre")
    shine = spot((pw, ph), (pw * 0.3, ph * 0.25), 90).point(lambda v: v * 90 // 255)
    plaque = Image.composite(Image.new("RGB", (pw, ph), (255, 255, 255)), plaque, shine)
    plaque_layer = with_alpha(plaque, palpha)

    # The sign and plaque go on a flat wall, which is then photographed from the side.
    wall = bricks((1500, 1100), colour(r["brick"]), colour(r["mortar"]), rng)
    wall = place(wall, sign_layer, r["sign_corners"], shadow=6, darkness=150)
    wall = place(wall, plaque_layer, r["plaque_corners"], shadow=5, darkness=150)
    width, height = r["size"]
    photo = place(Image.new("RGB", (width, height), (0, 0, 0)), wall.convert("RGBA"), r["corners"])
    shade_mask = Image.linear_gradient("L").rotate(-60, expand=False).resize((width, height))
    shade_mask = shade_mask.point(lambda v: max(0, v - 120))  # a building's shadow, lower left
    photo = Image.composite(Image.new("RGB", (width, height), (40, 30, 30)), photo, shade_mask)
    photo = light(photo, (width * 0.7, height * 0.1), max(width, height) * 1.1, 0.6)
    return finish(photo, rng, record, 18)


# --- warning sticker -----------------------------------------------------------------------


def warning(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(r["seed"])
    kw, kh = 700, 960
    yellow, ink = colour(r["sticker"]), colour(r["ink"])
    alpha = Image.new("L", (kw, kh), 0)
    ImageDraw.Draw(alpha).rounded_rectangle((0, 0, kw - 1, kh - 1), 30, fill=255)
    sticker = Image.new("RGB", (kw, kh), yellow)
    draw = ImageDraw.Draw(sticker)
    band, keep, ride, lower, load, trained, report, ref = record["lines"]
    draw.rounded_rectangle((10, 10, kw - 11, kh - 11), 24, outline=ink, width=6)
    draw.rectangle((10, 10, kw - 11, 120), fill=ink)
    put(draw, (kw / 2, 94), band, face("sans-bold", 70), yellow, 8, "centre")
    cx, top = 140, 160
    draw.polygon([(cx, top), (cx + 100, top + 170), (cx - 100, top + 170)], fill=ink)
    draw.polygon([(cx, top + 28), (cx + 78, top + 156), (cx - 78, top + 156)], fill=yellow)
    draw.rectangle((cx - 40, top + 90, cx + 40, top + 104), fill=ink)  # two plates and a hand
    draw.rectangle((cx - 40, top + 136, cx + 40, top + 148), fill=ink)
    draw.rounded_rectangle((cx - 14, top + 106, cx + 22, top + 134), 8, fill=ink)
    title_f = face("sans-bold", 56)
    y = 240
    for line in wrap(record["title"], title_f, kw - 290):
        put(draw, (270, y), line, title_f, ink)
        y += 64
    body_f = face("sans", 28)
    y = 400
    for text in (keep, ride, lower, trained):
        for k, line in enumerate(wrap(text, body_f, kw - 130)):
            if k == 0:
                draw.rectangle((44, y - 18, 58, y - 4), fill=ink)
            put(draw, (80, y), line, body_f, ink)
            y += 36
        y += 14
    y += 10
    draw.rectangle((44, y, kw - 44, y + 100), fill=ink)
    put(draw, (kw / 2, y + 70), load, face("sans-bold", 54), yellow, 2, "centre")
    y += 160
    put(draw, (44, y), report, face("sans-bold", 26), ink)
    put(draw, (kw - 40, kh - 34), ref, face("sans", 14), ink, 0, "right")
    if y > kh - 60:
        raise ValueError(f"{record['id']}: the instructions run off the sticker")
    wear = Image.new("L", (kw, kh), 0)
    wd = ImageDraw.Draw(wear)
    for _ in range(60):  # scuffs
        x, y0 = rng.randrange(kw), rng.randrange(kh)
        wd.line((x, y0, x + rng.randint(-60, 60), y0 + rng.randint(-10, 10)), fill=140, width=1)
    sticker = Image.composite(Image.new("RGB", (kw, kh), (236, 226, 190)), sticker, wear)
    grime = spot((kw, kh), (kw * 0.9, kh * 0.95), 320).point(lambda v: v * 70 // 255)
    sticker = Image.composite(Image.new("RGB", (kw, kh), (90, 80, 50)), sticker, grime)
    layer = with_alpha(sticker, alpha)

    width, height = r["size"]
    metal = textured((width, height), colour(r["metal"]), rng, 18)
    md = ImageDraw.Draw(metal)
    for _ in range(220):  # brushed scratches
        x, y0 = rng.randrange(width), rng.randrange(height)
        md.line(
            (x, y0, x + rng.randint(20, 140), y0 + rng.randint(-4, 4)),
            fill=shade(r["metal"], rng.uniform(0.8, 1.3)),
        )
    for y0 in (60, height - 60):  # a guard's folded edges and rivets
        md.line((0, y0, width, y0), fill=shade(r["metal"], 0.6), width=6)
        for x in range(40, width, 110):
            md.ellipse(
                (x - 9, y0 + 14, x + 9, y0 + 32),
                fill=shade(r["metal"], 1.25),
                outline=shade(r["metal"], 0.6),
            )
    metal = metal.filter(ImageFilter.GaussianBlur(0.8))
    photo = place(metal, layer, r["corners"], shadow=2, darkness=100)
    gx, gy, gr = r["glare"]
    photo = glare(photo, (gx, gy), gr, 120)
    photo = light(photo, (gx, gy), max(width, height) * 0.95, 0.45)
    return finish(photo, rng, record, 16)


# --- library loan slip ---------------------------------------------------------------------


def libraryslip(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(r["seed"])
    lw, lh = 520, 900
    ink = colour(r["ink"])
    slip = Image.new("RGB", (lw, lh), colour(r["paper"]))
    draw = ImageDraw.Draw(slip)
    phone, kind, member, stamp, *rest = record["lines"]
    loans = [rest[k : k + 2] for k in range(0, 6, 2)]
    count, renew, thanks = rest[6:]
    title_f = face("sans-bold", 30)
    y = 70
    for line in wrap(record["title"], title_f, lw - 60):
        put(draw, (lw / 2, y), line, title_f, ink, 0, "centre")
        y += 38
    mono, bold = face("mono", 22), face("mono-bold", 22)
    put(draw, (lw / 2, y + 4), phone, mono, ink, 0, "centre")
    y += 50
    dashed(draw, 24, lw - 24, y, ink)
    y += 50
    put(draw, (lw / 2, y), kind, face("mono-bold", 26), ink, 2, "centre")
    y += 50
    put(draw, (30, y), member, mono, ink)
    y += 32
    put(draw, (30, y), stamp, mono, ink)
    y += 28
    dashed(draw, 24, lw - 24, y, ink)
    y += 50
    for title, due in loans:
        for line in wrap(title, mono, lw - 60):
            put(draw, (30, y), line, mono, ink)
            y += 28
        put(draw, (50, y), due, bold, ink)
        y += 52
    dashed(draw, 24, lw - 24, y - 20, ink)
    y += 20
    put(draw, (30, y), count, bold, ink)
    y += 56
    small = face("mono", 18)
    for text in (renew, thanks):
        for line in wrap(text, small, lw - 60):
            put(draw, (lw / 2, y), line, small, ink, 0, "centre")
            y += 28
    if y > lh - 60:
        raise ValueError(f"{record['id']}: the slip's text runs into the tear")
    fade = Image.linear_gradient("L").rotate(90).resize((lw, lh))  # thermal print fading
    streaks = Image.new("L", (lw, lh), 0)
    sd = ImageDraw.Draw(streaks)
    for _ in range(5):
        x = rng.randrange(lw)
        sd.rectangle((x, 0, x + rng.randint(8, 30), lh), fill=rng.randint(40, 90))
    streaks = ImageChops.add(streaks, fade.point(lambda v: v // 5)).filter(
        ImageFilter.GaussianBlur(6)
    )
    slip = Image.composite(Image.new("RGB", (lw, lh), colour(r["paper"])), slip, streaks)
    alpha = Image.new("L", (lw, lh), 255)
    teeth = [(0, lh)]
    for k in range(0, lw + 1, 20):  # the torn foot
        teeth.append((k, lh - 20 - rng.randint(0, 14)))
    teeth.append((lw, lh))
    ImageDraw.Draw(alpha).polygon(teeth, fill=0)
    layer = with_alpha(slip, alpha)

    width, height = r["size"]
    desk = wood((width, height), colour(r["desk"]), rng, 160)
    dd = ImageDraw.Draw(desk)
    dd.rectangle((770, 720, width + 40, height + 40), fill=(150, 40, 46))  # a book's corner
    dd.rectangle((770, 720, 800, height + 40), fill=(112, 28, 34))  # its spine
    dd.line((830, 780, width, 780), fill=(200, 170, 90), width=4)
    desk = desk.filter(ImageFilter.GaussianBlur(2))
    photo = place(desk, layer, r["corners"], shadow=6, darkness=150)
    photo = light(photo, (width * 0.45, height * 0.3), max(width, height) * 0.9, 0.5)
    return finish(photo, rng, record, 15)


DRAW = {
    "invoice": invoice,
    "timetable": timetable,
    "recipe": recipe,
    "lockscreen": lockscreen,
    "pricetag": pricetag,
    "flyer": flyer,
    "appointment": appointment,
    "codeeditor": codeeditor,
    "utilitybill": utilitybill,
    "streetsign": streetsign,
    "warning": warning,
    "libraryslip": libraryslip,
}
PHOTO_LIKE = {  # saved as JPEG; the rest are screens or scans, saved as PNG
    "timetable",
    "recipe",
    "pricetag",
    "flyer",
    "appointment",
    "streetsign",
    "warning",
    "libraryslip",
}


def load_spec(spec: Path = SPEC) -> list[Record]:
    return json.loads(spec.read_text(encoding="utf-8"))["pictures"]


def generate(folder: Path) -> Iterator[tuple[Path, Record]]:
    """Draw each picture into `folder`, yielding (path, record) in the spec's order."""
    return draw_all(folder, load_spec(), DRAW, PHOTO_LIKE)


def main() -> None:
    draw_from_command_line(__doc__, "mmchat-textpics-heldout3", generate)


if __name__ == "__main__":
    main()
