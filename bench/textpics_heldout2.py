"""Second held-out set of text pictures: other faces, other kinds, written apart from the app.

    python3 bench/textpics_heldout2.py [--out DIR]

bench/textpics.py's set (DejaVu Sans faces) is the one the reading was tuned on, and
bench/textpics_heldout.py's (Pillow's Aileron, DejaVu Sans Mono) is the first held-out check.
This set was written by someone who never looked at how the app reads or answers, with texts and
question wordings of its own, so its score says how far the reading carries to text nobody
tuned for. It is drawn in faces neither earlier set uses, all from
/usr/share/fonts/truetype/dejavu (Debian packages fonts-dejavu-core and fonts-dejavu-extra):

- DejaVu Serif (Regular, Bold, Italic);
- DejaVu Serif Condensed (Regular, Bold, Italic, Bold Italic);
- DejaVu Sans Condensed (Regular, Bold, Oblique, Bold Oblique), for screens and marker pens.

Sizes run from 15 to 80 pixels, with letter-spaced capitals on the ticket, card, masthead and
parcel label, and mixed case elsewhere.

bench/data/textpics_heldout2.json holds each picture's title, its text lines (`text` is the
title and the lines, one a line), how to draw it and questions graded by keywords ("need" of
them must appear in the answer as words). Each kind is drawn from that record with Pillow alone,
from a seeded `random.Random`, so the same Pillow draws the same pixels. Photographed kinds are
drawn flat, then warped onto the four corners the record gives (a true perspective transform),
lit unevenly, blurred, grained and saved as JPEG; screen kinds are saved as PNG:

- menuboard: a café chalkboard in a wooden frame, title, dishes with dotted leaders and prices,
  a note; chalk in four colours with a grainy texture, on a brick wall; photographed, JPEG;
- ticket: a rail ticket (operator band, journey, time, coach and seat, price, small print over
  a wavy security pattern) lying at an angle on a woven tablecloth; photographed, JPEG;
- bizcard: a cream business card, a letter-spaced name, a role in italics, contact details in
  small print, on a slate desk seen at a slant; photographed, JPEG;
- medbox: a medicine carton (name, strength, count, small-print dosage, warning, maker) drawn
  as a box with a front, top and side face, under light from one corner; photographed, JPEG;
- webpage: a library web page, header with navigation, a hero headline, a search box with
  placeholder text and a red error toast; screenshot, PNG;
- newspaper: the top of a front page, masthead, dateline, a two-line headline, byline and a
  two-column article on grey newsprint; photographed, JPEG;
- whiteboard: an office whiteboard, marker writing in blue, black, red and green with wobbly
  lines, ghosts of old writing and a patch of glare; photographed, JPEG;
- meter: a car-park pay machine, its greenish LCD screen (with scan lines and a reflection)
  showing the tariff, the time bought and the amount due, buttons and coin slot below, in a
  blurred street; photographed, JPEG;
- nutrition: a nutrition table as printed on a pack, three columns in small print with indented
  rows; flat scan, PNG;
- placard: a museum label (title, origin, material, a paragraph, lender, object number) on a
  dark red gallery wall under a spotlight; photographed, JPEG;
- parcel: a courier label (black band, address, sender, weight, barcode, tracking number) on
  a cardboard box with brown tape, creased, with flash glare; photographed, JPEG;
- spreadsheet: a spreadsheet window, menu bar, a costs table with a header row and a
  highlighted grand-total cell; screenshot, PNG. Column letters and row numbers are window
  furniture and are not part of `text`.
"""

from __future__ import annotations

import functools
import json
import math
import random
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
    wrap,
)

SPEC = Path(__file__).parent / "data" / "textpics_heldout2.json"
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")

Record = dict[str, Any]
RGB = tuple[int, int, int]
Point = tuple[float, float]
Font = ImageFont.FreeTypeFont

FACES: dict[str, str] = {
    "serif": "DejaVuSerif.ttf",
    "serif-bold": "DejaVuSerif-Bold.ttf",
    "serif-italic": "DejaVuSerif-Italic.ttf",
    "cond": "DejaVuSerifCondensed.ttf",
    "cond-bold": "DejaVuSerifCondensed-Bold.ttf",
    "cond-italic": "DejaVuSerifCondensed-Italic.ttf",
    "cond-bolditalic": "DejaVuSerifCondensed-BoldItalic.ttf",
    "sans-cond": "DejaVuSansCondensed.ttf",
    "sans-cond-bold": "DejaVuSansCondensed-Bold.ttf",
    "sans-cond-oblique": "DejaVuSansCondensed-Oblique.ttf",
    "sans-cond-boldoblique": "DejaVuSansCondensed-BoldOblique.ttf",
}
IN_CORE = {"DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf"}  # the rest ship in fonts-dejavu-extra


@functools.cache
def face(name: str, size: int) -> Font:
    """One of FACES at `size` pixels, or a clear error naming the Debian package to install."""
    file = FACES[name]
    path = FONT_DIR / file
    if not path.is_file():
        package = "fonts-dejavu-core" if file in IN_CORE else "fonts-dejavu-extra"
        raise FileNotFoundError(
            f"{path} not found: install the Debian package {package} "
            "(apt-get install fonts-dejavu-core fonts-dejavu-extra)"
        )
    return ImageFont.truetype(str(path), size)


# --- photography ---------------------------------------------------------------------------


def glare(picture: Image.Image, centre: Point, radius: float, strength: int) -> Image.Image:
    """A soft white reflection, `strength` (0..255) at its centre."""
    mask = spot(picture.size, centre, radius).point(lambda v: v * strength // 255)
    white = Image.new("RGB", picture.size, (255, 255, 255))
    return Image.composite(white, picture.convert("RGB"), mask)


# --- menu board ----------------------------------------------------------------------------


def chalk(layer: Image.Image, rng: random.Random) -> Image.Image:
    """Make drawn strokes look like chalk: grainy alpha, over a smudged board."""
    alpha = layer.getchannel("A")
    size = layer.size
    noise = Image.frombytes("L", size, rng.randbytes(size[0] * size[1]))
    holes = noise.point(lambda v: 255 if v > 60 else 110)
    layer.putalpha(ImageChops.multiply(alpha, holes).filter(ImageFilter.GaussianBlur(0.6)))
    return layer


def menuboard(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(r["seed"])
    bw, bh, rim = 900, 1100, 46
    board_c = colour(r["board"])
    board = Image.new("RGBA", (bw, bh), rgba(r["frame"]))
    draw = ImageDraw.Draw(board)
    for i in range(0, rim, 6):  # the frame's mitred grain
        tone = shade(r["frame"], 0.85 + 0.1 * ((i // 6) % 2))
        draw.rectangle((i, i, bw - 1 - i, bh - 1 - i), outline=tone, width=3)
    draw.rectangle((rim, rim, bw - rim - 1, bh - rim - 1), fill=board_c)
    # Old chalk wiped off: pale smudges on the slate.
    smudge = Image.new("L", (bw, bh), 0)
    sd = ImageDraw.Draw(smudge)
    for _ in range(26):
        x, y = rng.randint(rim, bw - rim), rng.randint(rim, bh - rim)
        sd.ellipse((x - 90, y - 30, x + rng.randint(60, 200), y + 30), fill=rng.randint(18, 40))
    smudge = smudge.filter(ImageFilter.GaussianBlur(24))
    inner = Image.new("L", (bw, bh), 0)
    ImageDraw.Draw(inner).rectangle((rim, rim, bw - rim - 1, bh - rim - 1), fill=255)
    board.paste((230, 230, 226, 255), (0, 0), ImageChops.multiply(smudge, inner))

    writing = Image.new("RGBA", (bw, bh), (0, 0, 0, 0))
    pen = ImageDraw.Draw(writing)
    title_ink, item_ink = rgba(r["title_ink"]), rgba(r["item_ink"])
    price_ink, note_ink = rgba(r["price_ink"]), rgba(r["note_ink"])
    put(pen, (bw / 2, 168), record["title"], face("cond-bold", 50), title_ink, 3, "centre", 1)
    points = [(220 + x, 196 + 3 * math.sin(x / 37)) for x in range(0, 461, 10)]
    pen.line(points, fill=title_ink, width=4)
    for sx in (150, bw - 150):  # a sprig either side of the rule
        pen.line((sx - 30, 200, sx + 30, 190), fill=note_ink, width=3)
        for k in range(3):
            lx = sx - 20 + 20 * k
            pen.ellipse((lx - 7, 178 - 2 * k, lx + 7, 190 - 2 * k), outline=note_ink, width=2)
    item_f, price_f = face("cond-italic", 44), face("cond-bold", 44)
    y = 310
    for line in record["lines"]:
        parts = cells(line)
        if len(parts) == 2:
            name, price = parts
            name_w = put(pen, (100, y), name, item_f, item_ink, 0, "left", 1)
            price_w = put(pen, (bw - 100, y), price, price_f, price_ink, 1, "right", 1)
            for dx in range(int(100 + name_w + 18), int(bw - 100 - price_w - 14), 16):
                pen.ellipse((dx, y - 6, dx + 4, y - 2), fill=item_ink)
            y += 104
        else:
            put(pen, (bw / 2, bh - 118), line, face("cond-italic", 36), note_ink, 1, "centre")
    board.alpha_composite(chalk(writing, rng))

    width, height = r["size"]
    wall = Image.new("RGB", (width, height), (196, 188, 176))
    wd = ImageDraw.Draw(wall)
    brick = colour(r["wall"])
    for row, y0 in enumerate(range(0, height, 58)):
        offset = 0 if row % 2 else -70
        for x0 in range(offset, width, 140):
            bright = rng.uniform(0.82, 1.1)
            wd.rectangle((x0 + 4, y0 + 4, x0 + 136, y0 + 54), fill=shade(brick, bright))
    wall = grain(wall, rng, 30, cell=2).filter(ImageFilter.GaussianBlur(2.5))
    photo = place(wall, board, r["corners"], shadow=14, darkness=150)
    photo = light(photo, (width * 0.3, height * 0.2), max(width, height) * 1.1, 0.55)
    return finish(photo, rng, record, 18)


# --- rail ticket ---------------------------------------------------------------------------


def ticket(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(r["seed"])
    tw, th = 900, 560
    card_c, band, ink = colour(r["card"]), colour(r["band"]), rgba(r["ink"])
    flat = Image.new("RGBA", (tw, th), (0, 0, 0, 0))
    draw = ImageDraw.Draw(flat)
    draw.rounded_rectangle((0, 0, tw - 1, th - 1), 22, fill=card_c)
    pattern = shade(band, 1.0) + (40,)
    tint = Image.new("RGBA", (tw, th), (0, 0, 0, 0))
    td = ImageDraw.Draw(tint)
    for k in range(0, th, 18):  # the security print: fine wavy lines
        td.line([(x, k + 6 * math.sin(x / 28 + k)) for x in range(0, tw + 1, 8)], fill=pattern)
    mask = Image.new("L", (tw, th), 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, tw - 1, th - 1), 22, fill=255)
    tint.putalpha(ImageChops.multiply(tint.getchannel("A"), mask))
    flat.alpha_composite(tint)
    draw.rounded_rectangle((0, 0, tw - 1, 86), 22, fill=band, corners=(True, True, False, False))
    draw.rectangle((0, th - 26, tw - 1, th - 18), fill=band)
    put(draw, (40, 60), record["title"], face("cond-bold", 40), (255, 255, 255), 5)
    lines = record["lines"]
    put(draw, (40, 152), lines[0], face("cond-bold", 44), ink)
    put(draw, (40, 214), lines[1], face("cond", 34), ink)
    put(draw, (40, 264), lines[2], face("cond", 34), ink)
    put(draw, (40, 318), lines[3], face("cond", 26), ink, 1)
    x = 40.0
    for part in cells(lines[4]):
        x += put(draw, (x, 378), part, face("cond-bold", 32), ink) + 48
    left, right = cells(lines[5])
    put(draw, (40, 436), left, face("cond-bold", 30), ink)
    put(draw, (tw - 40, 436), right, face("cond-bold", 30), ink, 0, "right")
    put(draw, (40, 494), lines[6], face("cond-italic", 19), ink)
    put(draw, (tw - 40, 494), lines[7], face("cond-italic", 19), ink, 0, "right")

    width, height = r["size"]
    cloth = Image.new("RGB", (width, height), colour(r["cloth"]))
    cd = ImageDraw.Draw(cloth)
    weave = shade(r["cloth"], 0.88)
    for k in range(0, max(width, height), 6):
        cd.line((k, 0, k, height), fill=weave, width=2)
        cd.line((0, k + 3, width, k + 3), fill=shade(r["cloth"], 1.08), width=1)
    cloth = grain(cloth, rng, 24, cell=3).filter(ImageFilter.GaussianBlur(0.9))
    photo = place(cloth, flat, r["corners"], shadow=6, darkness=120)
    photo = light(photo, (width * 0.75, height * 0.1), max(width, height), 0.6)
    return finish(photo, rng, record, 14)


# --- business card -------------------------------------------------------------------------


def bizcard(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(r["seed"])
    cw, ch = 1050, 600
    ink, accent = rgba(r["ink"]), rgba(r["accent"])
    flat = Image.new("RGBA", (cw, ch), rgba(r["card"]))
    flat = Image.merge("RGBA", (*grain(flat.convert("RGB"), rng, 6).split(), flat.getchannel("A")))
    draw = ImageDraw.Draw(flat)
    draw.rectangle((60, 56, 96, 92), outline=accent, width=4)  # a small mark, no letters
    draw.rectangle((78, 74, 114, 110), outline=accent, width=4)
    role, firm, phone, mail, address = record["lines"]
    put(draw, (cw / 2, 214), record["title"], face("serif", 54), ink, 12, "centre")
    draw.line((cw / 2 - 110, 246, cw / 2 + 110, 246), fill=accent, width=3)
    put(draw, (cw / 2, 300), role, face("serif-italic", 32), ink, 0, "centre")
    put(draw, (cw / 2, 346), firm, face("serif", 24), ink, 3, "centre")
    small = face("serif", 22)
    for k, line in enumerate((phone, mail, address)):
        put(draw, (70, 468 + 38 * k), line, small, ink)

    width, height = r["size"]
    desk = textured((width, height), colour(r["desk"]), rng, 34)
    dd = ImageDraw.Draw(desk)
    for _ in range(40):  # slate's faint streaks
        y = rng.randint(0, height)
        dd.line((0, y, width, y + rng.randint(-40, 40)), fill=shade(r["desk"], 1.12), width=1)
    desk = desk.filter(ImageFilter.GaussianBlur(1.2))
    photo = place(desk, flat, r["corners"], shadow=9, darkness=170)
    photo = light(photo, (width * 0.15, height * 0.1), max(width, height) * 1.2, 0.45)
    return finish(photo, rng, record, 16)


# --- medicine box --------------------------------------------------------------------------


def medbox(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(r["seed"])
    fw, fh, deep = 900, 560, 300
    box_c, band, ink = colour(r["box"]), colour(r["band"]), rgba(r["ink"])
    front = Image.new("RGBA", (fw, fh), rgba(box_c))
    draw = ImageDraw.Draw(front)
    draw.rectangle((0, 0, 150, fh), fill=band)
    draw.rounded_rectangle((40, 220, 110, 340), 35, fill=(255, 255, 255))  # a capsule
    draw.rectangle((40, 280, 110, 340), fill=(250, 206, 80))
    draw.rounded_rectangle((40, 220, 110, 340), 35, outline=(255, 255, 255), width=4)
    strength, count, use, dose, limit, warning, maker = record["lines"]
    put(draw, (190, 120), record["title"], face("cond-bold", 80), ink, 2)
    put(draw, (190, 192), strength, face("sans-cond-bold", 42), band)
    count_f = face("sans-cond-bold", 30)
    count_w = count_f.getlength(count)
    draw.rounded_rectangle((860 - count_w - 24, 154, 860, 204), 10, outline=ink, width=3)
    put(draw, (860 - 12, 191), count, count_f, ink, 0, "right")
    draw.line((190, 230, 860, 230), fill=band, width=3)
    small, bold = face("sans-cond", 24), face("sans-cond-bold", 24)
    y = 272
    for text, font in ((use, small), (dose, small), (limit, small), (warning, bold)):
        for line in wrap(text, font, 860 - 190):
            put(draw, (190, y), line, font, ink)
            y += 32
        y += 6
    put(draw, (860, 530), maker, face("cond-bolditalic", 30), band, 0, "right")
    if y > 490:
        raise ValueError(f"{record['id']}: the small print runs into the maker's name")
    top = Image.new("RGBA", (fw, deep), rgba(shade(box_c, 0.97)))
    ImageDraw.Draw(top).rectangle((0, 0, 150, deep), fill=shade(band, 1.05))
    side = Image.new("RGBA", (deep, fh), rgba(shade(box_c, 0.78)))
    ImageDraw.Draw(side).rectangle((0, 0, deep, 40), fill=shade(band, 0.8))

    width, height = r["size"]
    counter = textured((width, height), colour(r["counter"]), rng, 20)
    cd = ImageDraw.Draw(counter)
    for _ in range(1400):  # granite flecks
        x, y0 = rng.randrange(width), rng.randrange(height)
        tone = rng.choice((0.55, 0.7, 1.15))
        cd.ellipse((x, y0, x + 3, y0 + 3), fill=shade(r["counter"], tone))
    counter = counter.filter(ImageFilter.GaussianBlur(1.0))
    tl, tr, br, bl = (tuple(p) for p in r["front"])
    dx, dy = r["depth"]
    top_quad = [(tl[0] + dx, tl[1] + dy), (tr[0] + dx, tr[1] + dy), tr, tl]
    side_quad = [tr, (tr[0] + dx, tr[1] + dy), (br[0] + dx, br[1] + dy), br]
    photo = place(counter, side, side_quad, shadow=18, darkness=140)
    photo = place(photo, top, top_quad)
    photo = place(photo, front, [tl, tr, br, bl])
    photo = light(photo, (width * 0.05, height * 0.0), max(width, height) * 1.15, 0.4)
    return finish(photo, rng, record, 14)


# --- web page ------------------------------------------------------------------------------


def webpage(record: Record) -> Image.Image:
    r = record["render"]
    width, height = r["size"]
    ink = colour(r["ink"])
    page = Image.new("RGB", (width, height), (248, 248, 246))
    draw = ImageDraw.Draw(page)
    nav, headline, subline, placeholder, toast = record["lines"]
    draw.rectangle((0, 0, width, 88), fill=colour(r["header"]))
    draw.rounded_rectangle((30, 24, 54, 64), 3, fill=(240, 240, 230))  # an open book
    draw.rounded_rectangle((56, 24, 80, 64), 3, fill=(210, 226, 226))
    put(draw, (96, 56), record["title"], face("cond-bold", 30), (255, 255, 255))
    items = cells(nav)
    nav_f, active_f = face("sans-cond", 19), face("sans-cond-bold", 19)
    gap = 34
    total = sum(nav_f.getlength(i) for i in items) + gap * (len(items) - 1)
    x = width - 40 - total
    for k, item in enumerate(items):
        chosen = active_f if k == r["active"] else nav_f
        put(draw, (x, 52), item, chosen, (226, 238, 238))
        w = nav_f.getlength(item)
        if k == r["active"]:
            draw.rectangle((x, 64, x + chosen.getlength(item), 68), fill=colour(r["hero"]))
        x += w + gap
    hero = colour(r["hero"])
    draw.rectangle((0, 88, width, 420), fill=hero)
    draw.ellipse((1040, 130, 1260, 350), fill=shade(hero, 1.06))
    shelf_x = 930
    for k, (bw, bh) in enumerate(((40, 170), (34, 150), (52, 190), (30, 140), (44, 176))):
        tone = ((196, 70, 60), (52, 110, 160), (60, 140, 96), (230, 150, 60), (120, 80, 150))[k]
        draw.rectangle((shelf_x, 390 - bh, shelf_x + bw, 390), fill=tone)
        shelf_x += bw + 6
    draw.rectangle((900, 390, 1300, 400), fill=shade(hero, 0.7))
    head_f = face("serif-bold", 50)
    y = 190
    for line in wrap(headline, head_f, 760):
        put(draw, (80, y), line, head_f, ink)
        y += 64
    put(draw, (80, y + 6), subline, face("serif", 26), shade(ink, 1.5))
    draw.rounded_rectangle((80, 460, 760, 516), 10, fill=(255, 255, 255), outline=(190, 190, 196))
    put(draw, (104, 496), placeholder, face("sans-cond", 22), (150, 150, 156))
    draw.ellipse((710, 474, 734, 498), outline=(110, 110, 116), width=3)
    draw.line((730, 496, 742, 508), fill=(110, 110, 116), width=4)
    for k in range(3):  # article cards still loading: grey blocks, no words
        left = 80 + 400 * k
        draw.rounded_rectangle((left, 560, left + 360, 740), 8, fill=(236, 236, 234))
        draw.rectangle((left + 20, 680, left + 300, 692), fill=(214, 214, 212))
        draw.rectangle((left + 20, 704, left + 220, 716), fill=(214, 214, 212))
    toast_f = face("sans-cond-bold", 18)
    tw = int(toast_f.getlength(toast)) + 110
    left, top = width - tw - 30, height - 96
    draw.rounded_rectangle(
        (left + 3, top + 4, left + tw + 3, top + 60), 10, fill=(200, 200, 198)
    )  # its shadow
    draw.rounded_rectangle((left, top, left + tw, top + 56), 10, fill=colour(r["toast"]))
    draw.ellipse((left + 16, top + 16, left + 40, top + 40), outline=(255, 255, 255), width=3)
    draw.line((left + 28, top + 21, left + 28, top + 30), fill=(255, 255, 255), width=3)
    draw.ellipse((left + 26, top + 33, left + 30, top + 37), fill=(255, 255, 255))
    put(draw, (left + 54, top + 35), toast, toast_f, (255, 255, 255))
    cx = left + tw - 26
    draw.line((cx - 7, top + 21, cx + 7, top + 35), fill=(255, 255, 255), width=2)
    draw.line((cx - 7, top + 35, cx + 7, top + 21), fill=(255, 255, 255), width=2)
    return page


# --- newspaper -----------------------------------------------------------------------------


def newspaper(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(r["seed"])
    pw, ph, margin = 1000, 790, 48
    ink = rgba(r["ink"])
    paper = Image.new("RGB", (pw, ph), colour(r["paper"]))
    paper = grain(paper, rng, 12, cell=2)
    flat = paper.convert("RGBA")
    draw = ImageDraw.Draw(flat)
    dateline, headline, byline, *body = record["lines"]
    put(draw, (pw / 2, 104), record["title"], face("cond-bold", 68), ink, 4, "centre")
    draw.line((margin, 130, pw - margin, 130), fill=ink, width=3)
    draw.line((margin, 136, pw - margin, 136), fill=ink, width=1)
    parts = cells(dateline, "   ")
    date_f = face("serif-italic", 19)
    put(draw, (margin, 164), parts[0], date_f, ink)
    put(draw, (pw / 2, 164), parts[1], date_f, ink, 0, "centre")
    put(draw, (pw - margin, 164), parts[2], date_f, ink, 0, "right")
    draw.line((margin, 180, pw - margin, 180), fill=ink, width=1)
    head_f = face("serif-bold", 60)
    y = 252
    for line in wrap(headline, head_f, pw - 2 * margin):
        put(draw, (margin, y), line, head_f, ink)
        y += 70
    put(draw, (margin, y - 14), byline, face("serif-italic", 22), ink)
    draw.line((margin, y + 4, pw - margin, y + 4), fill=ink, width=1)
    body_f, step, indent = face("serif", 25), 37, 26
    column = (pw - 2 * margin - 40) / 2
    set_lines: list[tuple[float, str]] = []
    for paragraph in body:
        for k, line in enumerate(wrap(paragraph, body_f, column, indent)):
            set_lines.append((indent if k == 0 else 0.0, line))
    per_column = math.ceil(len(set_lines) / 2)
    top = y + 48
    if top + step * (per_column - 1) > ph - 30:
        raise ValueError(f"{record['id']}: the article does not fit the page")
    for k, (shift, line) in enumerate(set_lines):
        col, row = divmod(k, per_column)
        x = margin + col * (column + 40) + shift
        put(draw, (x, top + step * row), line, body_f, ink)
    draw.line((pw / 2, top - 26, pw / 2, top + step * (per_column - 1) + 8), fill=ink, width=1)

    width, height = r["size"]
    table = textured((width, height), colour(r["table"]), rng, 26)
    photo = place(table, flat, r["corners"], shadow=7, darkness=110)
    photo = light(photo, (width * 0.6, height * 0.25), max(width, height), 0.6)
    return finish(photo, rng, record, 16)


# --- whiteboard ----------------------------------------------------------------------------


def scrawl(text: str, font_name: str, size: int, ink: RGB, rng: random.Random) -> Image.Image:
    """One line of marker writing: word by word, a little up and down, the whole line tilted."""
    fonts = {s: face(font_name, s) for s in range(size - 2, size + 3)}
    wide = int(sum(fonts[size + 2].getlength(w + " ") for w in text.split())) + 40
    line = Image.new("RGBA", (wide, int(size * 1.7)), (0, 0, 0, 0))
    draw = ImageDraw.Draw(line)
    x, base = 10.0, int(size * 1.25)
    for word in text.split():
        chosen = fonts[size + rng.randint(-2, 2)]
        draw.text(
            (x, base + rng.randint(-3, 3)),
            word,
            font=chosen,
            fill=rgba(ink),
            anchor="ls",
            stroke_width=1,
            stroke_fill=rgba(ink),
        )
        x += chosen.getlength(word + " ") + rng.randint(-1, 5)
    return line.rotate(rng.uniform(-1.6, 1.6), resample=Image.Resampling.BICUBIC, expand=True)


def wobble(rng: random.Random, x0: float, x1: float, y: float, amount: float) -> list[Point]:
    return [(x, y + rng.uniform(-amount, amount)) for x in range(int(x0), int(x1) + 1, 24)]


def whiteboard(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(r["seed"])
    bw, bh, tray = 1300, 860, 34
    flat = Image.new("RGBA", (bw, bh + tray), (0, 0, 0, 0))
    draw = ImageDraw.Draw(flat)
    draw.rectangle((0, 0, bw - 1, bh - 1), fill=colour(r["frame"]))
    draw.rectangle((16, 16, bw - 17, bh - 17), fill=colour(r["board"]))
    draw.rectangle((120, bh - 4, bw - 120, bh + tray - 6), fill=shade(r["frame"], 0.8))
    draw.rectangle((300, bh - 2, 420, bh + 12), fill=(30, 60, 160))  # a marker in the tray
    ghosts = Image.new("L", (bw, bh), 0)
    gd = ImageDraw.Draw(ghosts)
    for _ in range(9):  # half-erased old writing, as wavy strokes
        x, y = rng.randint(60, bw - 400), rng.randint(80, bh - 120)
        points = [(x + 14 * k, y + 10 * math.sin(k * 0.9 + rng.random())) for k in range(22)]
        gd.line(points, fill=rng.randint(30, 60), width=5)
    ghosts = ghosts.filter(ImageFilter.GaussianBlur(3))
    flat.paste((150, 156, 170, 255), (0, 0), ghosts)
    lines = record["lines"]
    blue, black = colour(r["title_ink"]), colour(r["ink"])
    red, green = colour(r["red"]), colour(r["green"])
    title = scrawl(record["title"], "sans-cond-boldoblique", 74, blue, rng)
    flat.alpha_composite(title, (80, 50))
    draw.line(wobble(rng, 100, 100 + title.width - 60, 50 + title.height, 2), fill=blue, width=5)
    for k, line in enumerate(lines[:3]):
        flat.alpha_composite(scrawl(line, "sans-cond-oblique", 52, black, rng), (110, 200 + 92 * k))
    demo = scrawl(lines[3], "sans-cond-boldoblique", 54, red, rng)
    flat.alpha_composite(demo, (100, 500))
    draw.line(wobble(rng, 120, 60 + demo.width, 500 + demo.height - 2, 3), fill=red, width=4)
    keep = scrawl(lines[4], "sans-cond-oblique", 40, green, rng)
    kx, ky = bw - keep.width - 90, bh - keep.height - 80
    flat.alpha_composite(keep, (kx, ky))
    draw.rounded_rectangle(
        (kx - 10, ky - 4, kx + keep.width + 6, ky + keep.height + 6), 12, outline=green, width=3
    )

    width, height = r["size"]
    wall = textured((width, height), colour(r["wall"]), rng, 14)
    photo = place(wall, flat, r["corners"], shadow=8, darkness=90)
    photo = light(photo, (width * 0.8, 0), max(width, height) * 1.2, 0.62)
    gx, gy, gr = r["glare"]
    photo = glare(photo, (gx, gy), gr, 210)
    return finish(photo, rng, record, 14)


# --- parking machine screen ----------------------------------------------------------------


def meter(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(r["seed"])
    mw, mh = 700, 920
    housing = colour(r["housing"])
    flat = Image.new("RGBA", (mw, mh), (0, 0, 0, 0))
    draw = ImageDraw.Draw(flat)
    draw.rounded_rectangle((0, 0, mw - 1, mh - 1), 40, fill=housing)
    draw.rounded_rectangle((6, 6, mw - 7, mh - 7), 36, outline=shade(housing, 1.3), width=3)
    draw.rounded_rectangle((64, 84, 636, 530), 16, fill=(26, 27, 30))
    sw, sh = 520, 400
    lcd = Image.new("RGB", (sw, sh), colour(r["lcd"]))
    ink = colour(r["ink"])
    sd = ImageDraw.Draw(lcd)
    title_f, plain, bold = (
        face("sans-cond-bold", 34),
        face("sans-cond", 26),
        face("sans-cond-bold", 30),
    )
    put(sd, (sw / 2, 52), record["title"], title_f, ink, 1, "centre")
    sd.line((24, 70, sw - 24, 70), fill=ink, width=2)
    tariff, bought, due, valid, pay, press = record["lines"]
    put(sd, (24, 112), tariff, plain, ink)
    for y, line, font in ((160, bought, bold), (210, due, face("sans-cond-bold", 34))):
        left, right = cells(line)
        put(sd, (24, y), left, font, ink)
        put(sd, (sw - 24, y), right, font, ink, 0, "right")
    put(sd, (24, 258), valid, plain, ink)
    sd.line((24, 280, sw - 24, 280), fill=ink, width=1)
    put(sd, (sw / 2, 322), pay, plain, ink, 0, "centre")
    put(sd, (sw / 2, 366), press, face("sans-cond-bold", 24), ink, 0, "centre")
    for y in range(0, sh, 3):  # the LCD's row structure
        sd.line((0, y, sw, y), fill=shade(r["lcd"], 0.94))
    shadow_mask = Image.linear_gradient("L").resize((sw, sh)).point(lambda v: max(0, 90 - v))
    lcd = Image.composite(Image.new("RGB", (sw, sh), (0, 0, 0)), lcd, shadow_mask)
    lcd = lcd.filter(ImageFilter.GaussianBlur(0.6))
    reflection = Image.new("L", (sw, sh), 0)
    ImageDraw.Draw(reflection).polygon([(300, 0), (420, 0), (160, sh), (40, sh)], fill=70)
    reflection = reflection.filter(ImageFilter.GaussianBlur(18))
    lcd = Image.composite(Image.new("RGB", (sw, sh), (255, 255, 255)), lcd, reflection)
    flat.paste(lcd, (90, 110))
    draw.ellipse((200, 590, 300, 690), fill=(40, 160, 70), outline=(24, 24, 26), width=6)
    draw.ellipse((400, 590, 500, 690), fill=(200, 44, 40), outline=(24, 24, 26), width=6)
    draw.rounded_rectangle((220, 740, 400, 820), 12, fill=shade(housing, 1.2))
    draw.rectangle((300, 760, 318, 800), fill=(16, 16, 18))  # coin slot
    for k in range(3):  # the contactless mark
        rad = 14 + 12 * k
        draw.arc(
            (520 - rad, 780 - rad, 520 + rad, 780 + rad), -50, 50, fill=(230, 230, 232), width=4
        )

    width, height = r["size"]
    street = Image.new("RGB", (width, height), colour(r["street"]))
    st = ImageDraw.Draw(street)
    for _ in range(30):
        x, y = rng.randrange(width), rng.randrange(height // 2)
        st.rectangle(
            (x, y, x + rng.randint(60, 260), y + rng.randint(40, 200)),
            fill=shade(r["street"], rng.uniform(0.6, 1.3)),
        )
    st.rectangle((0, int(height * 0.72), width, height), fill=(96, 96, 100))
    street = street.filter(ImageFilter.GaussianBlur(9))
    photo = place(street, flat, r["corners"], shadow=10, darkness=120)
    photo = light(photo, (width * 0.5, height * 0.1), max(width, height), 0.6)
    return finish(photo, rng, record, 20)


# --- nutrition table -----------------------------------------------------------------------


def nutrition(record: Record) -> Image.Image:
    r = record["render"]
    width, height = r["size"]
    ink, size = colour(r["ink"]), r["font_size"]
    scan = Image.new("RGB", (width, height), colour(r["pack"]))
    draw = ImageDraw.Draw(scan)
    regular, bold = face("cond", size), face("cond-bold", size)
    italic = face("cond-italic", size)
    left, right, row = 40, width - 40, int(size * 1.9)
    header, *rows = record["lines"]
    table_h = 70 + int(size * 2.2) + row * len(rows)
    top = (height - table_h) // 2
    draw.rectangle((left, top, right, top + table_h), fill=colour(r["table"]), outline=ink, width=3)
    put(draw, (left + 16, top + 48), record["title"], face("cond-bold", 34), ink)
    y = top + 66
    draw.line((left, y, right, y), fill=ink, width=4)
    columns = (right - 200, right - 16)  # where the two value columns end
    draw.rectangle((left + 2, y + 2, right - 2, y + int(size * 2.2)), fill=(232, 232, 230))
    label, *heads = cells(header)
    base = y + int(size * 1.5)
    put(draw, (left + 16, base), label, bold, ink)
    for end, head in zip(columns, heads, strict=True):
        put(draw, (end, base), head, bold, ink, 0, "right")
    y += int(size * 2.2)
    draw.line((left, y, right, y), fill=ink, width=2)
    for line in rows:
        name, *values = cells(line)
        sub = name.startswith("of which")
        put(
            draw,
            (left + (40 if sub else 16), y + int(size * 1.35)),
            name,
            italic if sub else regular,
            ink,
        )
        for end, value in zip(columns, values, strict=True):
            put(draw, (end, y + int(size * 1.35)), value, regular, ink, 0, "right")
        y += row
        draw.line((left + 8, y, right - 8, y), fill=(180, 180, 178), width=1)
    return scan


# --- museum placard ------------------------------------------------------------------------


def placard(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(r["seed"])
    cw, ch = 900, 470
    ink = rgba(r["ink"])
    flat = Image.new("RGBA", (cw, ch), rgba(r["card"]))
    draw = ImageDraw.Draw(flat)
    origin, material, blurb, lender, number = record["lines"]
    put(draw, (60, 108), record["title"], face("serif-bold", 56), ink)
    put(draw, (60, 156), origin, face("serif-italic", 28), ink)
    put(draw, (60, 196), material, face("serif", 22), rgba(shade(r["ink"], 2.2)))
    draw.line((60, 224, 200, 224), fill=ink, width=2)
    body_f = face("serif", 24)
    y = 272
    for line in wrap(blurb, body_f, cw - 120):
        put(draw, (60, y), line, body_f, ink)
        y += 36
    if y > ch - 60:
        raise ValueError(f"{record['id']}: the paragraph runs into the foot of the label")
    put(draw, (60, ch - 36), lender, face("serif-italic", 20), ink)
    put(draw, (cw - 60, ch - 36), number, face("serif", 17), ink, 0, "right")

    width, height = r["size"]
    wall = textured((width, height), colour(r["wall"]), rng, 16)
    photo = place(wall, flat, r["corners"], shadow=5, darkness=160)
    photo = light(photo, tuple(r["light"]), max(width, height) * 0.95, 0.35)
    return finish(photo, rng, record, 16)


# --- parcel label --------------------------------------------------------------------------


def parcel(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(r["seed"])
    lw, lh = 700, 940
    ink = rgba(r["ink"])
    flat = Image.new("RGBA", (lw, lh), rgba(r["label"]))
    draw = ImageDraw.Draw(flat)
    draw.rectangle((12, 12, lw - 13, lh - 13), outline=ink, width=3)
    draw.rectangle((12, 12, lw - 13, 110), fill=ink)
    put(draw, (36, 80), record["title"], face("sans-cond-bold", 48), (255, 255, 255), 3)
    ship, name, street, town, sender, weight, tracking = record["lines"]
    put(draw, (36, 152), ship, face("sans-cond-bold", 22), ink, 1)
    put(draw, (36, 210), name, face("sans-cond-bold", 46), ink)
    put(draw, (36, 262), street, face("sans-cond", 36), ink)
    put(draw, (36, 310), town, face("sans-cond-bold", 36), ink)
    draw.line((12, 340, lw - 13, 340), fill=ink, width=3)
    put(draw, (36, 380), sender, face("sans-cond", 20), ink)
    draw.line((12, 405, lw - 13, 405), fill=ink, width=3)
    left, right = cells(weight, "   ")
    put(draw, (36, 452), left, face("sans-cond-bold", 28), ink)
    put(draw, (lw - 36, 452), right, face("sans-cond-bold", 28), ink, 0, "right")
    draw.line((12, 480, lw - 13, 480), fill=ink, width=3)
    x = 70
    while x < lw - 80:  # a barcode (pattern only)
        bar = rng.choice((2, 3, 4, 6, 8))
        draw.rectangle((x, 510, x + bar - 1, 760), fill=ink)
        x += bar + rng.choice((2, 3, 4, 6))
    put(draw, (lw / 2, 810), tracking, face("sans-cond-bold", 30), ink, 2, "centre")
    creases = Image.new("L", (lw, lh), 255)
    cd = ImageDraw.Draw(creases)
    for _ in range(5):
        y0 = rng.randint(0, lh)
        cd.line((0, y0, lw, y0 + rng.randint(-200, 200)), fill=rng.randint(200, 225), width=6)
    creases = creases.filter(ImageFilter.GaussianBlur(4))
    flat = Image.merge(
        "RGBA",
        (
            *ImageChops.multiply(flat.convert("RGB"), Image.merge("RGB", (creases,) * 3)).split(),
            flat.getchannel("A"),
        ),
    )

    width, height = r["size"]
    box_c = colour(r["box"])
    box = Image.new("RGB", (width, height), box_c)
    bd = ImageDraw.Draw(box)
    for x in range(0, width, 9):  # corrugation showing through
        bd.line((x, 0, x, height), fill=shade(box_c, 0.96), width=3)
    for _ in range(900):
        x, y = rng.randrange(width), rng.randrange(height)
        bd.line(
            (x, y, x + rng.randint(-3, 3), y + rng.randint(6, 20)),
            fill=shade(box_c, rng.uniform(0.8, 1.15)),
        )
    box = box.filter(ImageFilter.GaussianBlur(0.8))
    tape = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    ImageDraw.Draw(tape).rectangle((0, 40, width, 150), fill=rgba(r["tape"], 200))
    box = Image.alpha_composite(box.convert("RGBA"), tape).convert("RGB")
    photo = place(box, flat, r["corners"], shadow=3, darkness=90)
    photo = glare(photo, (width * 0.58, height * 0.42), 260, 120)
    photo = light(photo, (width * 0.55, height * 0.45), max(width, height) * 0.9, 0.5)
    return finish(photo, rng, record, 16)


# --- spreadsheet ---------------------------------------------------------------------------


def spreadsheet(record: Record) -> Image.Image:
    r = record["render"]
    width, height = r["size"]
    ink, grid = colour(r["ink"]), colour(r["grid"])
    shot = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(shot)
    menu, head, *rows = record["lines"]
    *items, total = rows
    draw.rectangle((0, 0, width, 40), fill=colour(r["bar"]))
    draw.rectangle((14, 8, 36, 32), fill=(255, 255, 255))  # the app's icon
    for k in range(3):
        draw.line((18, 14 + 6 * k, 32, 14 + 6 * k), fill=colour(r["bar"]), width=2)
    draw.rectangle((0, 40, width, 72), fill=(246, 246, 246))
    x = 16.0
    menu_f = face("sans-cond", 17)
    for item in cells(menu):
        x += put(draw, (x, 62), item, menu_f, ink) + 22
    draw.rectangle((0, 72, width, 108), fill=(240, 240, 240))
    for k in range(14):  # toolbar buttons
        bx = 16 + 36 * k + 14 * (k // 4)
        draw.rounded_rectangle((bx, 80, bx + 26, 100), 4, fill=(214, 216, 220))
    draw.rectangle((0, 108, width, 138), fill=(255, 255, 255), outline=(210, 210, 210))
    widths = (46, 210, 230, 80, 120, 130, 200, 200)
    edges = [0]
    for w in widths:
        edges.append(edges[-1] + w)
    top, row_h = 138, 30
    small = face("sans-cond", 15)
    draw.rectangle((0, top, width, top + 26), fill=(242, 242, 242))
    draw.rectangle((0, top, 46, height), fill=(242, 242, 242))
    for k in range(1, len(widths)):
        put(
            draw,
            ((edges[k] + edges[k + 1]) / 2, top + 19),
            "ABCDEFG"[k - 1],
            small,
            (96, 96, 100),
            0,
            "centre",
        )
    first = top + 26
    n_rows = (height - first - 30) // row_h
    for k in range(n_rows):
        y = first + row_h * k
        put(draw, (23, y + 21), str(k + 1), small, (96, 96, 100), 0, "centre")
        draw.line((0, y + row_h, width, y + row_h), fill=grid)
    for edge in edges[1:]:
        draw.line((edge, top, edge, first + row_h * n_rows), fill=grid)
    regular, bold = face("sans-cond", 16), face("sans-cond-bold", 16)

    def cell(col: int, row: int, text: str, font: Font, fill: RGB, right: bool) -> None:
        y = first + row_h * row + 21
        if right:
            put(draw, (edges[col + 1] - 8, y), text, font, fill, 0, "right")
        else:
            put(draw, (edges[col] + 8, y), text, font, fill)

    put(draw, (edges[1] + 8, first + 23), record["title"], face("sans-cond-bold", 20), ink)
    y_head = first + row_h * 2
    draw.rectangle(
        (edges[1] + 1, y_head + 1, edges[6] - 1, y_head + row_h - 1), fill=colour(r["head"])
    )
    for col, text in enumerate(cells(head), start=1):
        cell(col, 2, text, bold, ink, col >= 3)
    for k, line in enumerate(items):
        for col, text in enumerate(cells(line), start=1):
            cell(col, 3 + k, text, regular, ink, col >= 3)
    label, amount = cells(total)
    total_row = 3 + len(items) + 1
    cell(1, total_row, label, bold, ink, False)
    cell(5, total_row, amount, bold, colour(r["total_ink"]), True)
    y = first + row_h * total_row
    green = colour(r["bar"])
    draw.rectangle((edges[5], y, edges[6], y + row_h), outline=green, width=2)
    draw.rectangle((edges[6] - 4, y + row_h - 4, edges[6] + 3, y + row_h + 3), fill=green)
    draw.rectangle((0, height - 30, width, height), fill=(246, 246, 246))
    return shot


DRAW = {
    "menuboard": menuboard,
    "ticket": ticket,
    "bizcard": bizcard,
    "medbox": medbox,
    "webpage": webpage,
    "newspaper": newspaper,
    "whiteboard": whiteboard,
    "meter": meter,
    "nutrition": nutrition,
    "placard": placard,
    "parcel": parcel,
    "spreadsheet": spreadsheet,
}
PHOTO_LIKE = {  # saved as JPEG; the rest are screens or scans, saved as PNG
    "menuboard",
    "ticket",
    "bizcard",
    "medbox",
    "newspaper",
    "whiteboard",
    "meter",
    "placard",
    "parcel",
}


def load_spec(spec: Path = SPEC) -> list[Record]:
    return json.loads(spec.read_text(encoding="utf-8"))["pictures"]


def generate(folder: Path) -> Iterator[tuple[Path, Record]]:
    """Draw each picture into `folder`, yielding (path, record) in the spec's order."""
    return draw_all(folder, load_spec(), DRAW, PHOTO_LIKE)


def main() -> None:
    draw_from_command_line(__doc__, "mmchat-textpics-heldout2", generate)


if __name__ == "__main__":
    main()
