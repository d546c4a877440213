"""Pictures a person may attach that hold nothing to name, or that stress the image path.

    python3 bench/badpics.py [--out DIR] [--no-huge]

Each picture is drawn here, seeded, and comes with what a sensible answer looks like:

- expect "unsure": nothing recognisable; the answer should say so ("I can't make out ...",
  "it looks blank") and may name what it does see (a colour, noise). `accept` lists words of
  which any one found in the answer (matched as bench/keywords.py does) shows that.
- expect "see": something simple is there (a shape, a colour) despite the odd format; `accept`
  lists words naming it.
- expect "refuse": past what an image loader should open (decompression-bomb size); the right
  result is a clear one-line error, not an answer and not a crash.

Every answer, whatever the expectation, must be more than one word and must not crash the
conversation; the next text turn must still get its ordinary answer.
"""

from __future__ import annotations

import argparse
import random
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFilter

Record = dict[str, Any]
UNSURE = [
    "can't",
    "cannot",
    "not sure",
    "unsure",
    "unclear",
    "unable",
    "nothing",
    "hard to tell",
    "no recognisable",
    "no recognizable",
    "don't see",
    "do not see",
    "not clear",
]


def noise(size: tuple[int, int], rng: random.Random) -> Image.Image:
    return Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))


def gradient(size: tuple[int, int]) -> Image.Image:
    """A smooth abstract colour field: red across, green down, blue the other way."""
    across = Image.linear_gradient("L").rotate(90).resize(size)
    down = Image.linear_gradient("L").resize(size)
    return Image.merge("RGB", (across, down, across.rotate(180)))


def circle(mode: str, size: int, ink: Any, paper: Any) -> Image.Image:
    picture = Image.new(mode, (size, size), paper)
    ImageDraw.Draw(picture).ellipse((size // 4, size // 4, 3 * size // 4, 3 * size // 4), fill=ink)
    return picture


def blurred_noise(rng: random.Random) -> Image.Image:
    """Soft colour blotches: abstract, no edges an object detector could lock on."""
    return (
        noise((80, 60), rng)
        .resize((640, 480), Image.Resampling.BICUBIC)
        .filter(ImageFilter.GaussianBlur(12))
    )


def transparent_circle() -> Image.Image:
    picture = Image.new("RGBA", (400, 400), (0, 0, 0, 0))
    ImageDraw.Draw(picture).ellipse((100, 100, 300, 300), fill=(220, 30, 30, 160))
    return picture


def animated() -> list[Image.Image]:
    frames = []
    for i, colour in enumerate(("blue", "blue", "blue")):
        frame = Image.new("RGB", (300, 300), "white")
        ImageDraw.Draw(frame).ellipse((60 + 20 * i, 60, 240 + 20 * i, 240), fill=colour)
        frames.append(frame)
    return frames


# id -> (maker, file suffix, record). Makers take a seeded Random so each output is fixed.
Maker = Callable[[random.Random], Image.Image | list[Image.Image]]
PICTURES: dict[str, tuple[Maker, str, Record]] = {
    "blank_white": (
        lambda rng: Image.new("RGB", (640, 480), "white"),
        ".png",
        {
            "what": "plain white, 640x480",
            "expect": "unsure",
            "accept": ["blank", "white", "empty", "plain"] + UNSURE,
        },
    ),
    "blank_black": (
        lambda rng: Image.new("RGB", (640, 480), "black"),
        ".png",
        {
            "what": "plain black, 640x480",
            "expect": "unsure",
            "accept": ["black", "dark", "blank", "empty", "plain"] + UNSURE,
        },
    ),
    "single_red": (
        lambda rng: Image.new("RGB", (500, 500), (200, 30, 40)),
        ".png",
        {"what": "one flat red, 500x500", "expect": "unsure", "accept": ["red"], "colour": "red"},
    ),
    "single_green_jpeg": (
        lambda rng: Image.new("RGB", (800, 600), (40, 150, 60)),
        ".jpg",
        {
            "what": "one flat green, 800x600, JPEG",
            "expect": "unsure",
            "accept": ["green"],
            "colour": "green",
        },
    ),
    "tiny_8x8": (
        lambda rng: noise((8, 8), rng),
        ".png",
        {
            "what": "8x8 pixels of colour noise",
            "expect": "unsure",
            "accept": ["small", "tiny", "pixel"] + UNSURE,
        },
    ),
    "tiny_1x1": (
        lambda rng: Image.new("RGB", (1, 1), (30, 90, 200)),
        ".png",
        {
            "what": "a single blue pixel",
            "expect": "unsure",
            "accept": ["blue", "pixel", "small", "tiny"] + UNSURE,
        },
    ),
    "strip_4000x6": (
        lambda rng: gradient((4000, 6)),
        ".png",
        {
            "what": "a 4000x6 strip of gradient (extreme aspect ratio)",
            "expect": "unsure",
            "accept": ["strip", "line", "gradient"] + UNSURE,
        },
    ),
    "noise": (
        lambda rng: noise((640, 480), rng),
        ".png",
        {
            "what": "uniform colour noise, 640x480",
            "expect": "unsure",
            "accept": ["noise", "static", "random", "pixels"] + UNSURE,
        },
    ),
    "gradient": (
        lambda rng: gradient((640, 480)),
        ".png",
        {
            "what": "smooth abstract colour gradient",
            "expect": "unsure",
            "accept": ["gradient", "abstract", "colour", "color"] + UNSURE,
        },
    ),
    "blotches": (
        blurred_noise,
        ".jpg",
        {
            "what": "soft blurred colour blotches",
            "expect": "unsure",
            "accept": ["abstract", "blur", "colour", "color"] + UNSURE,
        },
    ),
    "grey_circle": (
        lambda rng: circle("L", 400, 40, 220),
        ".png",
        {
            "what": "greyscale (mode L): a dark grey circle on light grey",
            "expect": "see",
            "accept": ["circle", "round", "ball", "dot", "disc"],
        },
    ),
    "grey16_circle": (
        lambda rng: circle("I;16", 300, 8000, 60000),
        ".png",
        {
            "what": "16-bit greyscale PNG (mode I;16): a dark circle on light grey",
            "note": "Pillow's plain convert('RGB') clips every pixel to white here: scale first",
            "expect": "see",
            "accept": ["circle", "round", "ball", "dot", "disc"],
        },
    ),
    "bilevel_circle": (
        lambda rng: circle("1", 300, 0, 255),
        ".png",
        {
            "what": "1-bit black and white (mode 1): a black circle on white",
            "expect": "see",
            "accept": ["circle", "round", "ball", "dot", "disc"],
        },
    ),
    "palette_circle": (
        lambda rng: circle("RGB", 300, (240, 200, 0), (255, 255, 255)).convert(
            "P", palette=Image.Palette.ADAPTIVE, colors=4
        ),
        ".png",
        {
            "what": "palette image (mode P): a yellow circle on white",
            "expect": "see",
            "accept": ["circle", "round", "ball", "dot", "disc", "yellow"],
        },
    ),
    "cmyk_circle": (
        lambda rng: circle("CMYK", 300, (0, 0, 0, 255), (0, 0, 0, 0)),
        ".jpg",
        {
            "what": "CMYK JPEG: a black circle on white",
            "expect": "see",
            "accept": ["circle", "round", "ball", "dot", "disc"],
        },
    ),
    "rgba_transparent": (
        lambda rng: Image.new("RGBA", (400, 400), (0, 0, 0, 0)),
        ".png",
        {
            "what": "RGBA, every pixel fully transparent (onto white: blank)",
            "note": "a plain convert('RGB') makes it black; composited onto white it is blank",
            "expect": "unsure",
            "accept": ["blank", "empty", "transparent", "white", "plain"] + UNSURE,
        },
    ),
    "rgba_circle": (
        lambda rng: transparent_circle(),
        ".png",
        {
            "what": "RGBA: a half-transparent red circle on a transparent background",
            "note": "a plain convert('RGB') puts it on black; onto white it is a pink-red circle",
            "expect": "see",
            "accept": ["circle", "round", "ball", "dot", "disc", "red", "pink"],
        },
    ),
    "animated_gif": (
        lambda rng: animated(),
        ".gif",
        {
            "what": "animated GIF, 3 frames of a moving blue circle",
            "expect": "see",
            "accept": ["circle", "round", "ball", "dot", "disc", "blue"],
        },
    ),
}

HUGE: dict[str, tuple[Maker, str, Record]] = {
    "huge_noise": (
        lambda rng: noise((8000, 6000), rng),
        ".jpg",
        {
            "what": "8000x6000 colour noise, JPEG (48 Mpx, a ~43 MB file)",
            "expect": "unsure",
            "accept": ["noise", "static", "random", "pixels"] + UNSURE,
        },
    ),
    "huge_gradient": (
        lambda rng: gradient((8000, 6000)),
        ".png",
        {
            "what": "8000x6000 gradient PNG (48 Mpx in a small file)",
            "expect": "unsure",
            "accept": ["gradient", "abstract", "colour", "color"] + UNSURE,
        },
    ),
    "bomb_10000x10000": (
        lambda rng: Image.new("L", (10000, 10000), 255),
        ".png",
        {
            "what": "10000x10000 white PNG: 100 Mpx, past Pillow's bomb warning (89 Mpx)",
            "expect": "refuse",
            "accept": [],
        },
    ),
}


def _save(picture: Image.Image | list[Image.Image], path: Path) -> None:
    if isinstance(picture, list):
        picture[0].save(path, save_all=True, append_images=picture[1:], duration=200, loop=0)
    elif path.suffix == ".jpg":
        picture.save(path, quality=90)
    else:
        picture.save(path)


def generate(out: Path, huge: bool = True) -> list[tuple[Path, Record]]:
    """Write each picture into `out` (kept if already there) and return (path, record) pairs."""
    out.mkdir(parents=True, exist_ok=True)
    table = PICTURES | (HUGE if huge else {})
    pairs: list[tuple[Path, Record]] = []
    for seed, (name, (maker, suffix, record)) in enumerate(table.items()):
        path = out / f"{name}{suffix}"
        if not path.is_file():
            partial = out / f".part-{path.name}"  # a killed run leaves no half-written picture
            _save(maker(random.Random(1000 + seed)), partial)
            partial.replace(path)
        pairs.append((path, {"id": name, **record}))
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "mmchat-badpics")
    parser.add_argument("--no-huge", action="store_true", help="skip the 48-100 Mpx pictures")
    args = parser.parse_args()
    for path, record in generate(args.out, huge=not args.no_huge):
        print(f"{record['expect']:7} {path}  ({record['what']})")


if __name__ == "__main__":
    main()
