"""Pictures of text with known ground truth: scanned pages, app screenshots, signs, documents.

    python3 bench/textpics.py [--out DIR] [--render-documents]

bench/data/textpics.json holds each picture's title, its text, how to draw it, and questions
graded by keywords ("need" of them must appear in the answer). This module draws the picture
from that record with Pillow and the DejaVu fonts (Debian's fonts-dejavu-core), seeded, so the
same Pillow draws the same pixels:

- scan: a book page in a serif or sans face, title in large type, paragraphs below, then scan
  effects: grey paper, a 1-3 degree tilt, a dark scanner edge, grain, a slight blur, JPEG;
- screenshot: an app window (title bar, labels, a check box, buttons), lossless PNG;
- sign: a coloured plate with a border, tilted 8-12 degrees and foreshortened, on a brick or
  plaster wall, blurred a little and saved as JPEG, as a phone photo of a sign would be;
- document: a page that LibreOffice laid out from HTML and poppler rasterised at 100 dpi. Those
  tools are large, so the pages are committed under bench/data/text/; --render-documents
  remakes them when `libreoffice` and `pdftoppm` are installed.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
from html import escape
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

DATA = Path(__file__).parent / "data"
SPEC = DATA / "textpics.json"
DOCUMENTS = DATA / "text"
FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/TTF"),
    Path("/usr/local/share/fonts"),
)
FACES = {
    "sans": "DejaVuSans.ttf",
    "sans-bold": "DejaVuSans-Bold.ttf",
    "serif": "DejaVuSerif.ttf",
    "serif-bold": "DejaVuSerif-Bold.ttf",
}

Record = dict[str, Any]
RGB = tuple[int, int, int]


def font(face: str, size: int) -> ImageFont.FreeTypeFont:
    name = FACES[face]
    for folder in FONT_DIRS:
        if (folder / name).is_file():
            return ImageFont.truetype(str(folder / name), size)
    try:  # matplotlib ships the same DejaVu files
        import matplotlib

        path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name
        if path.is_file():
            return ImageFont.truetype(str(path), size)
    except ImportError:
        pass
    raise FileNotFoundError(f"font {name} not found: install fonts-dejavu-core (Debian)")


def wrap(
    draw: ImageDraw.ImageDraw, text: str, face: ImageFont.FreeTypeFont, width: int
) -> list[str]:
    """Greedy word wrap by rendered width, as a typesetter would break the lines."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if line and draw.textlength(trial, font=face) > width:
            lines.append(line)
            line = word
        else:
            line = trial
    if line:
        lines.append(line)
    return lines


def grain(size: tuple[int, int], rng: random.Random, amplitude: int) -> Image.Image:
    """Seeded uniform noise in [0, amplitude] (Image.effect_noise has no seed)."""
    raw = Image.frombytes("L", size, rng.randbytes(size[0] * size[1]))
    return raw.point(lambda v: v * amplitude // 255)


def add_grain(picture: Image.Image, rng: random.Random, amplitude: int) -> Image.Image:
    """Zero-mean noise: add one grain layer, subtract another."""
    plus = grain(picture.size, rng, amplitude).convert(picture.mode)
    minus = grain(picture.size, rng, amplitude).convert(picture.mode)
    return ImageChops.subtract(ImageChops.add(picture, plus), minus)


def scan(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(r["seed"])
    width, height, margin = 1000, 1400, 90
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    body_face = font(r["font"], 26)
    title_face = font(f"{r['font']}-bold", 54)
    y = margin + 20
    for line in wrap(draw, record["title"], title_face, width - 2 * margin):
        draw.text((margin, y), line, font=title_face, fill=20)
        y += 70
    y += 30
    for paragraph in record["lines"]:
        for line in wrap(draw, paragraph, body_face, width - 2 * margin):
            draw.text((margin, y), line, font=body_face, fill=35)
            y += 38
        y += 22
    draw.text(
        (width // 2 - 12, height - margin), str(rng.randint(11, 240)), font=body_face, fill=60
    )
    # Paper tone: white becomes the paper's grey, ink stays dark.
    paper = Image.new("RGB", page.size, tuple(r["paper"]))
    tinted = ImageChops.multiply(page.convert("RGB"), paper)
    tilted = tinted.rotate(
        r["angle"], resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(70, 70, 68)
    )
    # The scanner's lid leaves a dark band along one edge.
    shade = ImageDraw.Draw(tilted)
    shade.rectangle((0, 0, 14, tilted.height), fill=(55, 55, 52))
    noisy = add_grain(tilted, rng, 26)
    return noisy.filter(ImageFilter.GaussianBlur(0.7))


def screenshot(record: Record) -> Image.Image:
    r = record["render"]
    width, height = r["window"]
    accent: RGB = tuple(r["accent"])
    shot = Image.new("RGB", (width + 80, height + 80), (96, 118, 140))  # desktop behind the window
    draw = ImageDraw.Draw(shot)
    x0, y0 = 40, 40
    draw.rounded_rectangle(
        (x0, y0, x0 + width, y0 + height), 10, fill=(246, 246, 246), outline=(150, 150, 150)
    )
    draw.rounded_rectangle((x0, y0, x0 + width, y0 + 44), 10, fill=(222, 222, 224))
    draw.rectangle((x0, y0 + 30, x0 + width, y0 + 44), fill=(222, 222, 224))
    for i, colour in enumerate(((236, 95, 87), (245, 190, 79), (98, 197, 84))):
        cx = x0 + 22 + 22 * i
        draw.ellipse((cx - 7, y0 + 15, cx + 7, y0 + 29), fill=colour)
    title_face, label_face, button_face = (
        font("sans-bold", 34),
        font("sans", 22),
        font("sans-bold", 21),
    )
    draw.text(
        (x0 + width // 2, y0 + 22),
        record["title"],
        font=font("sans", 17),
        fill=(60, 60, 60),
        anchor="mm",
    )
    draw.text((x0 + 36, y0 + 74), record["title"], font=title_face, fill=(25, 25, 25))
    labels = record["lines"][: r["label_rows"]]
    y = y0 + 140
    for i, label in enumerate(labels):
        text_x = x0 + 36
        if len(labels) > 1:  # a settings list: one check box per row, the first ticked
            draw.rectangle(
                (text_x, y + 2, text_x + 22, y + 24),
                outline=(90, 90, 90),
                width=2,
                fill=(255, 255, 255),
            )
            if i == 0:
                draw.line(
                    (text_x + 4, y + 13, text_x + 10, y + 20, text_x + 19, y + 5),
                    fill=accent,
                    width=3,
                )
            text_x += 36
        for line in wrap(draw, label, label_face, width - (text_x - x0) - 36):
            draw.text((text_x, y), line, font=label_face, fill=(40, 40, 40))
            y += 32
        y += 18
    right = x0 + width - 30
    for i, name in enumerate(r["buttons"]):
        text_width = int(draw.textlength(name, font=button_face))
        left = right - text_width - 48
        top, bottom = y0 + height - 78, y0 + height - 30
        primary = i == 0
        draw.rounded_rectangle(
            (left, top, right, bottom),
            8,
            fill=accent if primary else (255, 255, 255),
            outline=(120, 120, 120),
        )
        ink = (255, 255, 255) if primary else (30, 30, 30)
        draw.text(
            ((left + right) // 2, (top + bottom) // 2),
            name,
            font=button_face,
            fill=ink,
            anchor="mm",
        )
        right = left - 16
    return shot


def wall(kind: str, size: tuple[int, int], rng: random.Random) -> Image.Image:
    width, height = size
    if kind == "brick":
        surface = Image.new("RGB", size, (190, 190, 185))  # mortar
        draw = ImageDraw.Draw(surface)
        brick_w, brick_h = 120, 44
        for row in range(height // brick_h + 1):
            offset = (row % 2) * brick_w // 2
            for col in range(-1, width // brick_w + 2):
                x = col * brick_w - offset
                y = row * brick_h
                tone = rng.randint(-22, 22)
                draw.rectangle(
                    (x + 4, y + 4, x + brick_w - 4, y + brick_h - 4),
                    fill=(150 + tone, 70 + tone // 2, 50 + tone // 2),
                )
    else:
        surface = Image.new("RGB", size, (214, 206, 188))
        draw = ImageDraw.Draw(surface)
        for _ in range(60):  # stains and patches in the plaster
            x, y, radius = rng.randrange(width), rng.randrange(height), rng.randint(20, 120)
            tone = rng.randint(-18, 10)
            draw.ellipse(
                (x - radius, y - radius, x + radius, y + radius),
                fill=(214 + tone, 206 + tone, 188 + tone),
            )
        surface = surface.filter(ImageFilter.GaussianBlur(18))
    # Light falls off towards the bottom right, as in a photo taken outdoors.
    falloff = Image.linear_gradient("L").resize(size).point(lambda v: 255 - v // 4)
    return ImageChops.multiply(surface, Image.merge("RGB", (falloff, falloff, falloff)))


def sign(record: Record) -> Image.Image:
    r = record["render"]
    rng = random.Random(r["seed"])
    plate_colour: RGB = tuple(r["plate"])
    ink: RGB = tuple(r["ink"])
    big, small = font("sans-bold", 96), font("sans-bold", 44)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    width = int(
        max(
            [probe.textlength(record["title"], font=big)]
            + [probe.textlength(s, font=small) for s in record["lines"]]
        )
    )
    width += 120
    height = 170 + 64 * len(record["lines"])
    plate = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(plate)
    draw.rounded_rectangle((0, 0, width - 1, height - 1), 24, fill=plate_colour + (255,))
    draw.rounded_rectangle((12, 12, width - 13, height - 13), 16, outline=ink + (255,), width=6)
    draw.text((width // 2, 95), record["title"], font=big, fill=ink + (255,), anchor="mm")
    for i, line in enumerate(record["lines"]):
        draw.text((width // 2, 175 + 60 * i), line, font=small, fill=ink + (255,), anchor="mm")
    # Foreshorten (seen from a little to the left), then tilt.
    squeeze = int(height * 0.08)
    plate = plate.transform(
        plate.size,
        Image.Transform.QUAD,
        (0, 0, 0, height, width, height + squeeze, width, -squeeze),
        resample=Image.Resampling.BICUBIC,
    )
    plate = plate.rotate(r["angle"], resample=Image.Resampling.BICUBIC, expand=True)
    canvas = (plate.width + 360, plate.height + 300)
    photo = wall(r["wall"], canvas, rng)
    shadow = Image.new("RGBA", plate.size, (0, 0, 0, 0))
    shadow.putalpha(plate.getchannel("A").point(lambda a: a * 90 // 255))
    at = (180 + rng.randint(-40, 40), 150 + rng.randint(-30, 30))
    photo.paste(shadow, (at[0] + 10, at[1] + 12), shadow.filter(ImageFilter.GaussianBlur(8)))
    photo.paste(plate, at, plate)
    photo = add_grain(photo, rng, 18)
    return photo.filter(ImageFilter.GaussianBlur(1.0))


def document(record: Record) -> Image.Image:
    path = DOCUMENTS / f"{record['id']}.png"
    if not path.is_file():
        raise FileNotFoundError(f"{path} missing: run bench/textpics.py --render-documents")
    with Image.open(path) as page:
        return page.convert("RGB")


def document_html(record: Record) -> str:
    """The page as LibreOffice will lay it out: the title as the heading, one paragraph a line."""
    paragraphs = "\n".join(f"<p>{escape(line)}</p>" for line in record["lines"])
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        "<style>body{font-family:'DejaVu Serif';font-size:13pt} h1{font-family:'DejaVu Sans';"
        "font-size:26pt}</style>"
        f"<title>{escape(record['title'])}</title></head><body>"
        f"<h1>{escape(record['title'])}</h1>\n{paragraphs}\n</body></html>\n"
    )


def render_documents(records: list[Record]) -> None:
    """Remake bench/data/text/<id>.png with LibreOffice (HTML -> PDF) and pdftoppm (PDF -> PNG)."""
    office, raster = (
        shutil.which("libreoffice") or shutil.which("soffice"),
        shutil.which("pdftoppm"),
    )
    if not office or not raster:
        sys.exit(
            "needs libreoffice and pdftoppm: apt-get install libreoffice-writer-nogui poppler-utils"
        )
    DOCUMENTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for record in records:
            source = work / f"{record['id']}.html"
            source.write_text(document_html(record), encoding="utf-8")
            profile = f"-env:UserInstallation=file://{work}/profile"
            subprocess.run(
                [office, profile, "--headless", "--infilter=HTML (StarWriter)"]
                + ["--convert-to", "pdf:writer_pdf_Export", "--outdir", tmp, str(source)],
                check=True,
                capture_output=True,
            )
            dpi = str(record["render"]["dpi"])
            stem = work / record["id"]
            subprocess.run(
                [
                    raster,
                    "-png",
                    "-gray",
                    "-r",
                    dpi,
                    "-f",
                    "1",
                    "-l",
                    "1",
                    "-singlefile",
                    str(stem.with_suffix(".pdf")),
                    str(stem),
                ],
                check=True,
            )
            shutil.copyfile(stem.with_suffix(".png"), DOCUMENTS / f"{record['id']}.png")


DRAW = {"scan": scan, "screenshot": screenshot, "sign": sign, "document": document}
SUFFIX = {"scan": ".jpg", "screenshot": ".png", "sign": ".jpg", "document": ".png"}
QUALITY = {"sign": 80}


def load_spec(spec: Path = SPEC) -> list[Record]:
    return json.loads(spec.read_text(encoding="utf-8"))["pictures"]


def generate(out: Path) -> list[tuple[Path, Record]]:
    """Draw every picture into `out` and return (path, record) pairs in the spec's order."""
    out.mkdir(parents=True, exist_ok=True)
    pairs: list[tuple[Path, Record]] = []
    for record in load_spec():
        kind = record["kind"]
        picture = DRAW[kind](record)
        path = out / f"{record['id']}{SUFFIX[kind]}"
        if SUFFIX[kind] == ".jpg":
            quality = record["render"].get("quality", QUALITY.get(kind, 75))
            picture.convert("RGB").save(path, quality=quality)
        else:
            picture.save(path)
        pairs.append((path, record))
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "mmchat-textpics")
    parser.add_argument("--render-documents", action="store_true", help="remake the document pages")
    args = parser.parse_args()
    if args.render_documents:
        render_documents([r for r in load_spec() if r["kind"] == "document"])
    for path, record in generate(args.out):
        print(f"{record['kind']:10} {path}  title: {record['title']!r}")


if __name__ == "__main__":
    main()
