"""Held-out pictures of text: a second renderer and texts never used while tuning.

    python3 bench/textpics_heldout.py [--out DIR]

bench/textpics.py's set (DejaVu faces; scans, app windows, wall signs, documents) is the one the
reading was tuned on, so a score on it says little about text the tuning never met. This set is
written apart from it: other texts, other layouts and another typeface, Pillow's built-in Aileron
(`ImageFont.load_default(size)`), with DejaVuSansMono only where a terminal needs a monospace
face. Its score is reported beside bench/textpics.py's; a wide gap between the two means the
tuning learnt the first set rather than reading.

bench/data/textpics_heldout.json holds each picture's title, its text lines, how to draw it and
questions graded by keywords ("need" of them must appear in the answer as words). Each kind is
drawn from that record with Pillow alone, seeded, so the same Pillow draws the same pixels:

- receipt: a till roll (shop name, address, item rows with prices right-aligned, a total) with a
  torn zigzag foot, lying tilted on a wooden table; photo grain, blur, JPEG;
- slide: a 16:9 presentation slide, a big title over three bullet points, a footer; PNG;
- terminal: a dark terminal window in DejaVuSansMono, a command, a Python traceback ending in an
  error line in red, and the prompt again; PNG;
- chat: a phone chat screenshot, status bar, contact header and alternating bubbles; PNG;
- poster: an event poster, night sky with a moon, stacked title, date, place, tickets; PNG;
- label: a product label (name, weight, ingredients) on kraft paper, tilted a little; JPEG;
- shopsign: a painted shop sign on a plank wall, seen from the side (foreshortened), tilted,
  blurred and strongly JPEG-compressed, as a phone photo would be;
- note: a handwriting-like note, Aileron sheared into a slant with word-by-word wobble, on ruled
  paper with a margin, photographed on a desk; JPEG;
- book: a book cover, title and author over layered hills; PNG;
- roadsign: a black-on-yellow road-works sign on two posts by a road, sky behind; JPEG.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

sys.path.insert(0, str(Path(__file__).parent))

from picture_craft import draw_all, draw_from_command_line  # noqa: E402  # shared with the later sets

SPEC = Path(__file__).parent / "data" / "textpics_heldout.json"
MONO_DIR = Path("/usr/share/fonts/truetype/dejavu")

Record = dict[str, Any]
RGB = tuple[int, int, int]
Font = ImageFont.FreeTypeFont


def face(size: int) -> Font:
    """Pillow's built-in Aileron Regular at `size` pixels (needs Pillow built with FreeType)."""
    loaded = ImageFont.load_default(size)
    if not isinstance(loaded, ImageFont.FreeTypeFont):
        raise RuntimeError("Pillow was built without FreeType: load_default(size) is a bitmap")
    return loaded


def mono(size: int, bold: bool = False) -> Font:
    name = "DejaVuSansMono-Bold.ttf" if bold else "DejaVuSansMono.ttf"
    path = MONO_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: install fonts-dejavu-core (Debian)")
    return ImageFont.truetype(str(path), size)


def colour(value: list[int]) -> RGB:
    return (value[0], value[1], value[2])


def fit_lines(draw: ImageDraw.ImageDraw, text: str, font: Font, width: float) -> list[str]:
    """Break `text` into lines no wider than `width` pixels, word by word."""
    out: list[str] = []
    current: list[str] = []
    for word in text.split():
        if current and draw.textlength(" ".join(current + [word]), font=font) > width:
            out.append(" ".join(current))
            current = [word]
        else:
            current.append(word)
    if current:
        out.append(" ".join(current))
    return out


def speckle(picture: Image.Image, rng: random.Random, amount: int, cell: int = 2) -> Image.Image:
    """Zero-mean sensor noise, drawn at 1/cell resolution and smoothed up, from a seeded source."""
    picture = picture.convert("RGB")
    small = (max(1, picture.width // cell), max(1, picture.height // cell))
    raw = Image.frombytes("L", small, rng.randbytes(small[0] * small[1]))
    noise = raw.resize(picture.size, Image.Resampling.BILINEAR)
    noise = noise.point(lambda v: 128 + (v - 128) * amount // 128)
    return ImageChops.add(picture, Image.merge("RGB", (noise, noise, noise)), 1.0, -128)


def vignette(picture: Image.Image, strength: int, from_left: bool = True) -> Image.Image:
    """Light falling off across the frame, brightest at one side."""
    ramp = Image.linear_gradient("L").rotate(90 if from_left else -90).resize(picture.size)
    shade = ramp.point(lambda v: 255 - v * strength // 255)
    return ImageChops.multiply(picture.convert("RGB"), Image.merge("RGB", (shade, shade, shade)))


def drop_shadow(
    canvas: Image.Image, layer: Image.Image, at: tuple[int, int], offset: int, darkness: int
) -> None:
    """Paste an RGBA `layer` at `at` with a soft shadow `offset` pixels below and to the right."""
    alpha = layer.getchannel("A").point(lambda a: a * darkness // 255)
    shadow = Image.new("RGBA", layer.size, (0, 0, 0, 0))
    shadow.putalpha(alpha.filter(ImageFilter.GaussianBlur(offset)))
    canvas.paste(shadow, (at[0] + offset, at[1] + offset), shadow)
    canvas.paste(layer, at, layer)


# --- receipt -------------------------------------------------------------------------------


def wood(
    size: tuple[int, int], base: RGB, rng: random.Random, vertical: bool = False
) -> Image.Image:
    """Boards with streaky grain; horizontal boards unless `vertical`."""
    width, height = size
    long, short = (height, width) if vertical else (width, height)
    surface = Image.new("RGB", (long, short), base)
    draw = ImageDraw.Draw(surface)
    y = 0
    while y < short:
        board = rng.randint(70, 120)
        tone = rng.randint(-20, 20)
        fill = tuple(max(0, min(255, c + tone)) for c in base)
        draw.rectangle((0, y, long, y + board), fill=fill)
        for _ in range(board // 3):  # grain streaks along the board
            gy = y + rng.randint(0, board)
            start = rng.randint(-200, long)
            dark = rng.randint(8, 28)
            streak = tuple(max(0, c + tone - dark) for c in base)
            draw.line((start, gy, start + rng.randint(120, 600), gy), fill=streak, width=1)
        draw.line((0, y + board, long, y + board), fill=tuple(c // 3 for c in base), width=3)
        y += board + 3
    surface = surface.filter(ImageFilter.GaussianBlur(0.8))
    return surface.rotate(90, expand=True) if vertical else surface


def receipt(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(r["seed"])
    width, height = r["size"]
    paper_w = 380
    title_f, small_f, row_f, total_f = face(34), face(18), face(21), face(26)
    rows: list[tuple[str, Any]] = [("title", record["title"])]
    for i, line in enumerate(record["lines"]):
        if "  " in line:
            left, right = line.rsplit("  ", 1)
            kind = "total" if left.strip().isupper() else "item"
            if kind == "total":
                rows.append(("rule", None))
            rows.append((kind, (left.strip(), right.strip())))
            if kind == "total":
                rows.append(("rule", None))
        else:
            rows.append(("centre", line))
            if i == 0:
                rows.append(("rule", None))
    step = {"title": 52, "centre": 32, "item": 34, "total": 44, "rule": 24}
    paper_h = 60 + sum(step[k] for k, _ in rows) + 60
    paper = Image.new("RGBA", (paper_w, paper_h), colour(r["paper"]) + (255,))
    draw = ImageDraw.Draw(paper)
    ink = (48, 46, 52, 255)
    y, pad = 50, 28
    for kind, value in rows:
        if kind == "title":
            draw.text((paper_w // 2, y), value, font=title_f, fill=ink, anchor="mt", stroke_width=1)
        elif kind == "centre":
            draw.text((paper_w // 2, y), value, font=small_f, fill=ink, anchor="mt")
        elif kind == "rule":
            for x in range(pad, paper_w - pad, 12):
                draw.line((x, y + 10, x + 6, y + 10), fill=ink, width=2)
        else:
            chosen = total_f if kind == "total" else row_f
            bold = 1 if kind == "total" else 0
            draw.text((pad, y), value[0], font=chosen, fill=ink, stroke_width=bold)
            draw.text(
                (paper_w - pad, y), value[1], font=chosen, fill=ink, anchor="ra", stroke_width=bold
            )
        y += step[kind]
    # A torn foot: cut a zigzag out of the bottom edge.
    cut = ImageDraw.Draw(paper)
    teeth = [(0, paper_h)]
    for x in range(0, paper_w + 1, 14):
        teeth.append((x, paper_h - (10 if (x // 14) % 2 else 2) - rng.randint(0, 3)))
    teeth.append((paper_w, paper_h))
    cut.polygon(teeth, fill=(0, 0, 0, 0))
    paper = paper.rotate(r["angle"], resample=Image.Resampling.BICUBIC, expand=True)
    table = wood((width, height), colour(r["table"]), rng)
    at = ((width - paper.width) // 2, (height - paper.height) // 2)
    drop_shadow(table, paper, at, 7, 120)
    photo = vignette(table, 70)
    photo = speckle(photo, rng, 20)
    return photo.filter(ImageFilter.GaussianBlur(r["blur"]))


# --- slide ---------------------------------------------------------------------------------


def slide(record: Record) -> Image.Image:
    r = record["render"]
    width, height = r["size"]
    accent = colour(r["accent"])
    page = Image.new("RGB", (width, height), colour(r["background"]))
    draw = ImageDraw.Draw(page)
    draw.rectangle((0, 0, 26, height), fill=accent)
    left = 100
    title_f, bullet_f, foot_f = face(64), face(38), face(20)
    y = 70
    for line in fit_lines(draw, record["title"], title_f, width - left - 80):
        draw.text((left, y), line, font=title_f, fill=(30, 34, 38), stroke_width=1)
        y += 80
    draw.rectangle((left, y + 6, left + 160, y + 14), fill=accent)
    y += 70
    for bullet in record["lines"]:
        draw.ellipse((left + 4, y + 14, left + 20, y + 30), fill=accent)
        for line in fit_lines(draw, bullet, bullet_f, width - left - 140):
            draw.text((left + 44, y), line, font=bullet_f, fill=(55, 60, 66))
            y += 50
        y += 34
    draw.line((left, height - 62, width - 60, height - 62), fill=(205, 205, 200), width=2)
    draw.text((left, height - 48), r["footer"], font=foot_f, fill=(120, 120, 118))
    draw.text(
        (width - 60, height - 48), str(r["number"]), font=foot_f, fill=(120, 120, 118), anchor="ra"
    )
    return page


# --- terminal ------------------------------------------------------------------------------


def terminal(record: Record) -> Image.Image:
    r = record["render"]
    width, height = r["size"]
    background, ink = colour(r["background"]), colour(r["ink"])
    prompt_ink, error_ink = colour(r["prompt"]), colour(r["error"])
    shot = Image.new("RGB", (width, height), (18, 18, 22))
    draw = ImageDraw.Draw(shot)
    bar = 38
    draw.rectangle((0, 0, width, bar), fill=(52, 54, 60))
    draw.text(
        (width // 2, bar // 2), record["title"], font=face(17), fill=(210, 210, 214), anchor="mm"
    )
    for i, symbol in enumerate(("\u00d7", "\u25a1", "_")):  # close, maximise, minimise
        cx = width - 24 - 34 * i
        draw.text((cx, bar // 2), symbol, font=mono(18), fill=(200, 200, 204), anchor="mm")
    draw.rectangle((0, bar, width, height), fill=background)
    text_f, bold_f = mono(r["font_size"]), mono(r["font_size"], bold=True)
    line_h = int(r["font_size"] * 1.55)
    x0, y = 16, bar + 14
    for line in record["lines"]:
        if "@" in line.split("$", 1)[0] and "$" in line:  # user@host:dir$ command
            prompt, command = line.split("$", 1)
            draw.text((x0, y), prompt + "$", font=bold_f, fill=prompt_ink)
            x = x0 + draw.textlength(prompt + "$", font=bold_f)
            draw.text((x, y), command, font=text_f, fill=ink)
            if not command.strip():  # the waiting prompt: a block cursor
                cx = int(x + draw.textlength(" ", font=text_f))
                draw.rectangle(
                    (cx, y + 2, cx + int(r["font_size"] * 0.6), y + line_h - 6), fill=ink
                )
        elif "Error" in line.split(":", 1)[0]:
            draw.text((x0, y), line, font=bold_f, fill=error_ink)
        else:
            draw.text((x0, y), line, font=text_f, fill=ink)
        y += line_h
    return shot


# --- chat ----------------------------------------------------------------------------------


def chat(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(len(record["lines"]) * 7 + 3)
    width, height = r["size"]
    shot = Image.new("RGB", (width, height), colour(r["background"]))
    draw = ImageDraw.Draw(shot)
    header = colour(r["header"])
    # Status bar, then the contact header.
    draw.rectangle((0, 0, width, 34), fill=tuple(c * 4 // 5 for c in header))
    draw.text((18, 17), r["time"], font=face(17), fill=(255, 255, 255), anchor="lm")
    draw.rounded_rectangle((width - 50, 10, width - 20, 24), 3, outline=(255, 255, 255), width=2)
    draw.rectangle((width - 47, 13, width - 28, 21), fill=(255, 255, 255))
    draw.rectangle((0, 34, width, 104), fill=header)
    draw.line((16, 69, 28, 57, 16, 69, 28, 81), fill=(255, 255, 255), width=3)  # back arrow
    draw.ellipse((42, 45, 90, 93), fill=(236, 170, 120))
    draw.text((66, 69), record["title"][0], font=face(26), fill=(255, 255, 255), anchor="mm")
    draw.text((104, 48), record["title"], font=face(24), fill=(255, 255, 255), stroke_width=1)
    draw.text((104, 78), "online", font=face(16), fill=(200, 220, 240))
    text_f, time_f = face(21), face(13)
    y = 130
    minute = 9
    for i, message in enumerate(record["lines"]):
        mine = i % 2 == 1
        lines = fit_lines(draw, message, text_f, width * 0.62)
        text_w = max(draw.textlength(line, font=text_f) for line in lines)
        box_w = int(text_w) + 30
        box_h = 28 * len(lines) + 38
        left = width - 14 - box_w if mine else 14
        fill = colour(r["mine"] if mine else r["theirs"])
        draw.rounded_rectangle((left, y, left + box_w, y + box_h), 14, fill=fill)
        for j, line in enumerate(lines):
            draw.text((left + 15, y + 10 + 28 * j), line, font=text_f, fill=(28, 28, 30))
        minute += rng.randint(1, 3)
        stamp = f"10:{minute:02d}"
        draw.text(
            (left + box_w - 12, y + box_h - 8),
            stamp,
            font=time_f,
            fill=(130, 130, 130),
            anchor="rb",
        )
        y += box_h + 16
    # The message box at the foot of the screen.
    draw.rectangle((0, height - 70, width, height), fill=(246, 246, 246))
    draw.rounded_rectangle(
        (14, height - 56, width - 74, height - 14),
        21,
        fill=(255, 255, 255),
        outline=(215, 215, 215),
    )
    draw.text((34, height - 35), "Message", font=face(19), fill=(165, 165, 165), anchor="lm")
    draw.ellipse((width - 62, height - 60, width - 14, height - 12), fill=header)
    draw.polygon(
        [(width - 48, height - 48), (width - 24, height - 36), (width - 48, height - 24)],
        fill=(255, 255, 255),
    )
    return shot


# --- poster --------------------------------------------------------------------------------


def poster(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(r["seed"])
    width, height = r["size"]
    ink, accent = colour(r["ink"]), colour(r["accent"])
    sky = Image.linear_gradient("L").resize((width, height))
    base = colour(r["background"])
    top = Image.new("RGB", (width, height), base)
    bottom = Image.new("RGB", (width, height), tuple(min(255, c + 40) for c in base))
    page = Image.composite(bottom, top, sky)
    draw = ImageDraw.Draw(page)
    for _ in range(140):  # stars
        x, y, s = rng.randrange(width), rng.randrange(height), rng.choice((1, 1, 2))
        draw.ellipse((x, y, x + s, y + s), fill=(230, 230, 250))
    draw.ellipse((width - 250, 50, width - 70, 230), fill=(248, 240, 205))
    draw.ellipse((width - 215, 40, width - 55, 200), fill=base)  # a crescent
    y = 250
    title_f = face(118)
    for word in record["title"].split():
        draw.text((60, y), word, font=title_f, fill=ink, stroke_width=2, stroke_fill=ink)
        y += 128
    y += 24
    draw.rectangle((60, y, 260, y + 8), fill=accent)
    y += 40
    sizes = (34, 40, 40, 28)
    fills = (accent, ink, ink, (220, 220, 235))
    for line, size, fill in zip(record["lines"], sizes, fills, strict=False):
        if line is record["lines"][-1]:
            y = height - 120
            tag_f = face(size)
            tag_w = draw.textlength(line, font=tag_f)
            draw.rounded_rectangle(
                (52, y - 14, 52 + tag_w + 32, y + size + 14), 10, outline=fill, width=2
            )
            draw.text((68, y), line, font=tag_f, fill=fill)
        else:
            draw.text((60, y), line, font=face(size), fill=fill)
            y += size + 26
    return page


# --- label ---------------------------------------------------------------------------------


def label(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(r["seed"])
    width, height = r["size"]
    ink, band = colour(r["ink"]), colour(r["band"])
    lw, lh = width - 110, height - 100
    card = Image.new("RGBA", (lw, lh), (0, 0, 0, 0))
    draw = ImageDraw.Draw(card)
    draw.rounded_rectangle((0, 0, lw - 1, lh - 1), 28, fill=colour(r["label"]) + (255,))
    draw.rounded_rectangle((10, 10, lw - 11, lh - 11), 22, outline=band + (255,), width=3)
    draw.rectangle((10, 40, lw - 11, 150), fill=band + (255,))
    draw.text(
        (lw // 2, 95),
        record["title"],
        font=face(62),
        fill=(255, 250, 238, 255),
        anchor="mm",
        stroke_width=1,
        stroke_fill=(255, 250, 238, 255),
    )
    weight, ingredients, *rest = record["lines"]
    draw.text((lw - 40, 172), weight, font=face(30), fill=ink + (255,), anchor="ra", stroke_width=1)
    y = 230
    body = face(27)
    for line in fit_lines(draw, ingredients, body, lw - 80):
        draw.text((40, y), line, font=body, fill=ink + (255,))
        y += 38
    y += 20
    for line in rest:
        draw.text((40, y), line, font=face(23), fill=ink + (230,))
        y += 34
    card = card.rotate(r["angle"], resample=Image.Resampling.BICUBIC, expand=True)
    backdrop = Image.new("RGB", (width, height), colour(r["backdrop"]))
    backdrop = speckle(backdrop, rng, 40, cell=3).filter(ImageFilter.GaussianBlur(1.2))
    drop_shadow(backdrop, card, ((width - card.width) // 2, (height - card.height) // 2), 6, 110)
    return speckle(vignette(backdrop, 45, from_left=False), rng, 10)


# --- shop sign -----------------------------------------------------------------------------


def shopsign(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(r["seed"])
    plate_c, ink = colour(r["plate"]), colour(r["ink"])
    title_f, line_f = face(120), face(50)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    text_w = max(
        [probe.textlength(record["title"], font=title_f)]
        + [probe.textlength(line, font=line_f) for line in record["lines"]]
    )
    pw, ph = int(text_w) + 140, 190 + 66 * len(record["lines"])
    plate = Image.new("RGBA", (pw, ph), (0, 0, 0, 0))
    draw = ImageDraw.Draw(plate)
    draw.rectangle((0, 0, pw - 1, ph - 1), fill=plate_c + (255,))
    draw.rectangle((14, 14, pw - 15, ph - 15), outline=ink + (255,), width=4)
    draw.rectangle((24, 24, pw - 25, ph - 25), outline=ink + (255,), width=1)
    for sx, sy in ((34, 34), (pw - 34, 34), (34, ph - 34), (pw - 34, ph - 34)):  # screws
        draw.ellipse((sx - 6, sy - 6, sx + 6, sy + 6), fill=(150, 150, 140, 255))
    draw.text(
        (pw // 2, 105),
        record["title"],
        font=title_f,
        fill=ink + (255,),
        anchor="mm",
        stroke_width=2,
        stroke_fill=ink + (255,),
    )
    for i, line in enumerate(record["lines"]):
        draw.text((pw // 2, 200 + 62 * i), line, font=line_f, fill=ink + (255,), anchor="mm")
    # Seen from the right: the far (left) edge comes out shorter, then the phone is tilted.
    squeeze = int(ph * r["lean"])
    plate = plate.transform(
        plate.size,
        Image.Transform.QUAD,
        (0, -squeeze, 0, ph + squeeze, pw, ph, pw, 0),
        resample=Image.Resampling.BICUBIC,
    )
    plate = plate.resize((int(pw * 0.88), ph), Image.Resampling.BICUBIC)
    plate = plate.rotate(r["angle"], resample=Image.Resampling.BICUBIC, expand=True)
    canvas = (plate.width + 240, plate.height + 320)
    photo = wood(canvas, colour(r["wall"]), rng, vertical=True)
    at = (120 + rng.randint(-30, 30), 140 + rng.randint(-30, 30))
    drop_shadow(photo, plate, at, 12, 140)
    photo = vignette(photo, 90, from_left=False)
    photo = speckle(photo, rng, 26)
    photo = photo.filter(ImageFilter.GaussianBlur(r["blur"]))
    scale = min(1.0, 1400 / max(photo.size))
    if scale < 1.0:
        photo = photo.resize(
            (int(photo.width * scale), int(photo.height * scale)), Image.Resampling.LANCZOS
        )
    return photo


# --- handwritten note ----------------------------------------------------------------------


def handwriting(text: str, rng: random.Random, size: int, ink: RGB, shear: float) -> Image.Image:
    """One line of slanted, unsteady 'handwriting': Aileron word by word, jittered, sheared."""
    fonts = {s: face(s) for s in range(size - 3, size + 4)}
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    width = int(sum(probe.textlength(w + " ", font=fonts[size + 3]) for w in text.split())) + 40
    height = int(size * 1.8)
    layer = Image.new("RGBA", (width + int(shear * height) + 20, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    x = 10.0
    baseline = int(size * 1.3)
    for word in text.split():
        chosen = fonts[size + rng.randint(-3, 3)]
        draw.text(
            (x, baseline + rng.randint(-3, 3)),
            word,
            font=chosen,
            fill=ink + (255,),
            anchor="ls",
            stroke_width=1,
            stroke_fill=ink + (255,),
        )
        x += draw.textlength(word + " ", font=chosen) + rng.randint(-2, 6)
    # Slant: the top of each letter moves right by shear * height.
    slanted = layer.transform(
        layer.size,
        Image.Transform.AFFINE,
        (1, shear, -shear * height, 0, 1, 0),
        resample=Image.Resampling.BICUBIC,
    )
    return slanted.rotate(rng.uniform(-1.0, 1.0), resample=Image.Resampling.BICUBIC, expand=True)


def note(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(r["seed"])
    width, height = r["size"]
    sheet_w, sheet_h = width - 120, height - 100
    sheet = Image.new("RGBA", (sheet_w, sheet_h), colour(r["paper"]) + (255,))
    draw = ImageDraw.Draw(sheet)
    gap, first = 78, 110
    for y in range(first, sheet_h - 20, gap):
        draw.line((0, y, sheet_w, y), fill=colour(r["rule"]) + (255,), width=2)
    draw.line((70, 0, 70, sheet_h), fill=colour(r["margin"]) + (255,), width=2)
    ink = colour(r["ink"])
    lines = record["lines"]
    size = r["font_size"]
    for i, line in enumerate(lines):
        written = handwriting(line, rng, size, ink, r["shear"])
        indent = 90 + rng.randint(0, 14)
        room = sheet_w - indent - 16
        if written.width > room:  # squeeze a long line rather than run off the paper
            scale = room / written.width
            written = written.resize((room, int(written.height * scale)), Image.Resampling.LANCZOS)
        if i == len(lines) - 1:  # the sign-off sits to the right
            indent = sheet_w - written.width - 60
        rule_y = first + gap * i
        sheet.alpha_composite(written, (indent, rule_y - written.height + 10))
    sheet = sheet.rotate(r["angle"], resample=Image.Resampling.BICUBIC, expand=True)
    desk = Image.new("RGB", (width, height), (122, 128, 134))
    desk = speckle(desk, rng, 30, cell=4).filter(ImageFilter.GaussianBlur(2))
    drop_shadow(desk, sheet, ((width - sheet.width) // 2, (height - sheet.height) // 2), 8, 100)
    photo = vignette(desk, 60)
    photo = speckle(photo, rng, 16)
    return photo.filter(ImageFilter.GaussianBlur(0.7))


# --- book cover ----------------------------------------------------------------------------


def ridge(width: int, top: int, rng: random.Random, rough: int) -> list[tuple[int, int]]:
    points = [(0, top)]
    y = top
    for x in range(0, width + 40, 40):
        y = max(top - 80, min(top + 80, y + rng.randint(-rough, rough)))
        points.append((x, y))
    return points


def book(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(r["seed"])
    width, height = r["size"]
    sky_c, hills = colour(r["sky"]), colour(r["hills"])
    cover = Image.new("RGB", (width, height), sky_c)
    draw = ImageDraw.Draw(cover)
    for band, top in enumerate((560, 640, 730)):  # three layers of hills, darker in front
        shade = tuple(max(0, c - 22 * band) + (2 - band) * 30 for c in hills)
        outline = ridge(width, top, rng, 28)
        draw.polygon(outline + [(width, height), (0, height)], fill=shade)
    for _ in range(90):  # falling snow
        x, y = rng.randrange(width), rng.randrange(height)
        s = rng.choice((2, 3, 4))
        draw.ellipse((x, y, x + s, y + s), fill=(250, 250, 252))
    subtitle, quote, author = record["lines"]
    ink = colour(r["ink"])
    draw.text((width // 2, 60), quote, font=face(21), fill=ink, anchor="mt")
    y = 180
    title_f = face(70)
    for line in fit_lines(draw, record["title"], title_f, width * 0.7):
        draw.text(
            (width // 2, y),
            line,
            font=title_f,
            fill=ink,
            anchor="mt",
            stroke_width=1,
            stroke_fill=ink,
        )
        y += 86
    draw.line((width // 2 - 60, y + 20, width // 2 + 60, y + 20), fill=ink, width=2)
    draw.text((width // 2, y + 44), subtitle, font=face(28), fill=ink, anchor="mt")
    draw.text(
        (width // 2, height - 70),
        author,
        font=face(44),
        fill=colour(r["author_ink"]),
        anchor="mm",
        stroke_width=1,
        stroke_fill=colour(r["author_ink"]),
    )
    return cover


# --- road sign -----------------------------------------------------------------------------


def roadsign(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(r["seed"])
    width, height = r["size"]
    sky = Image.linear_gradient("L").resize((width, height))
    scene = Image.composite(
        Image.new("RGB", (width, height), (214, 228, 236)),
        Image.new("RGB", (width, height), (92, 140, 196)),
        sky,
    )
    draw = ImageDraw.Draw(scene)
    horizon = int(height * 0.66)
    for _ in range(70):  # a line of trees
        x = rng.randrange(-40, width + 40)
        radius = rng.randint(30, 70)
        tone = rng.randint(-20, 20)
        draw.ellipse(
            (x - radius, horizon - radius * 2, x + radius, horizon + 10),
            fill=(60 + tone, 96 + tone, 58 + tone),
        )
    scene = scene.filter(ImageFilter.GaussianBlur(3))
    draw = ImageDraw.Draw(scene)
    draw.rectangle((0, horizon, width, height), fill=(104, 140, 72))  # verge
    draw.polygon(
        [(0, height), (width * 0.35, horizon), (width * 0.5, horizon), (width * 0.4, height)],
        fill=(88, 88, 92),
    )
    plate_c, ink = colour(r["plate"]), colour(r["ink"])
    title_f, line_f = face(104), face(54)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    text_w = max(
        [probe.textlength(record["title"], font=title_f)]
        + [probe.textlength(line, font=line_f) for line in record["lines"]]
    )
    pw, ph = int(text_w) + 110, 180 + 70 * len(record["lines"])
    post_h = 200
    layer = Image.new("RGBA", (pw, ph + post_h), (0, 0, 0, 0))
    sign_draw = ImageDraw.Draw(layer)
    for px in (pw // 4, 3 * pw // 4):  # two posts
        sign_draw.rectangle((px - 9, ph - 20, px + 9, ph + post_h), fill=(150, 152, 156, 255))
    sign_draw.rectangle((0, 0, pw - 1, ph - 1), fill=plate_c + (255,))
    sign_draw.rectangle((14, 14, pw - 15, ph - 15), outline=ink + (255,), width=8)
    sign_draw.text(
        (pw // 2, 100),
        record["title"],
        font=title_f,
        fill=ink + (255,),
        anchor="mm",
        stroke_width=3,
        stroke_fill=ink + (255,),
    )
    for i, line in enumerate(record["lines"]):
        sign_draw.text(
            (pw // 2, 190 + 66 * i),
            line,
            font=line_f,
            fill=ink + (255,),
            anchor="mm",
            stroke_width=1,
            stroke_fill=ink + (255,),
        )
    layer = layer.rotate(r["angle"], resample=Image.Resampling.BICUBIC, expand=True)
    at = ((width - layer.width) // 2 + 60, height - layer.height - 40)
    scene.paste(layer, at, layer)
    scene = speckle(scene, rng, 18)
    return scene.filter(ImageFilter.GaussianBlur(r["blur"]))


DRAW = {
    "receipt": receipt,
    "slide": slide,
    "terminal": terminal,
    "chat": chat,
    "poster": poster,
    "label": label,
    "shopsign": shopsign,
    "note": note,
    "book": book,
    "roadsign": roadsign,
}
PHOTO_LIKE = {"receipt", "label", "shopsign", "note", "roadsign"}  # saved as JPEG


def load_spec(spec: Path = SPEC) -> list[Record]:
    return json.loads(spec.read_text(encoding="utf-8"))["pictures"]


def generate(folder: Path) -> Iterator[tuple[Path, Record]]:
    """Draw each picture into `folder`, yielding (path, record) in the spec's order."""
    return draw_all(folder, load_spec(), DRAW, PHOTO_LIKE)


def main() -> None:
    draw_from_command_line(__doc__, "mmchat-textpics-heldout", generate)


if __name__ == "__main__":
    main()
