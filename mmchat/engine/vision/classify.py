"""What a photo shows, as common nouns: an ImageNet-1k classifier (EfficientNet-Lite0).

The weights ship in a package on the index (Apache-2.0). The network is defined here rather
than imported from a loader package: it is a short stack of MobileNetV2-style blocks. Lite0
named more photos right than torchvision's MobileNetV2, so Lite0 it is, though MobileNetV2 is
faster (bench/classify.py; docs/PERFORMANCE.md).

The checkpoint is a torch pickle: it is checked by sha256, read with `weights_only=True` once,
and saved as safetensors in the cache; later loads read only that file.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmchat.engine.assets import EFFICIENTNET_LITE0_PTH, convert_once, sha256_file
from mmchat.engine.vision.words import Label

if TYPE_CHECKING:
    import torch
    from PIL.Image import Image

CONVERTED_NAME = "efficientnet-lite0"
WEIGHTS_FILE = "model.safetensors"
IMAGE_SIZE = 224
CROP_FRACTION = 0.875  # the centre crop Lite0 was evaluated with: 224 of 256
# Lite0 was trained on pixels scaled to [-1, 1] (TF's mean 127, std 128); with ImageNet's
# mean and std instead, its exact class was top-1 on 15 of foolbox's 20 photos, not 18.
MEAN = 0.5
STD = 0.5
BLANK_STD = 0.02  # pixel spread (on the [-1, 1] scale) under which a picture is blank
LABELS_FILE = Path(__file__).resolve().parents[2] / "assets" / "imagenet_labels.tsv"

# (repeats, kernel, stride, expand, in, out) per stage: efficientnet_lite_builder.py, Lite0
# (width and depth multipliers 1.0, no squeeze-excite, ReLU6, stem and head not scaled).
_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
_BN_EPS = 1e-3


class ClassifierError(Exception):
    """The packaged classifier weights are damaged or not what we expect."""


@dataclass(frozen=True)
class ImageNetClass:
    index: int
    fine: str  # ImageNet's own name, e.g. "golden retriever"
    noun: str  # what a person would say, e.g. "dog"
    kind: str  # animal, vehicle, food, plant, place, person or object


@cache
def imagenet_classes() -> tuple[ImageNetClass, ...]:
    """The 1000 classes in the classifier's output order, from the packaged table."""
    text = LABELS_FILE.read_text(encoding="utf-8")
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    classes = tuple(ImageNetClass(int(i), fine, noun, kind) for i, fine, noun, kind in rows)
    if [c.index for c in classes] != list(range(1000)):
        raise ClassifierError(f"{LABELS_FILE.name} must list classes 0..999 in order")
    return classes


@cache
def _kinds() -> dict[str, str]:
    return {c.noun: c.kind for c in imagenet_classes()}


def noun_kind(noun: str) -> str | None:
    """The kind of a noun: "animal" for "dog", "vehicle" for "bicycle"; None if unknown."""
    return _kinds().get(noun)


def _build_network() -> torch.nn.Module:
    """EfficientNet-Lite0 with the checkpoint's module names, so its state dict loads as is."""
    from torch import nn
    from torch.nn import functional

    class SameConv(nn.Conv2d):
        """TensorFlow's 'SAME' padding: for stride 2 the extra pixel goes right and bottom.

        With stride 1 and an odd kernel that is the conv's own symmetric padding; only the
        stride-2 convolutions pad by hand, saving a copy of the activations per layer.
        """

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.same_by_hand = self.stride != (1, 1)
            if not self.same_by_hand:
                self.padding = tuple((k - 1) // 2 for k in self.kernel_size)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if not self.same_by_hand:
                return super().forward(x)
            pads: list[int] = []  # F.pad wants the last dimension (width) first
            sizes = zip(x.shape[-2:], self.kernel_size, self.stride, strict=True)
            for size, k, s in reversed(list(sizes)):
                total = max((math.ceil(size / s) - 1) * s + k - size, 0)
                pads += [total // 2, total - total // 2]
            return super().forward(functional.pad(x, pads))

    def bn(channels: int) -> nn.BatchNorm2d:
        return nn.BatchNorm2d(channels, eps=_BN_EPS)

    class Block(nn.Module):
        def __init__(self, kernel: int, stride: int, expand: int, cin: int, cout: int) -> None:
            super().__init__()
            hidden = cin * expand
            if expand != 1:
                self._expand_conv = SameConv(cin, hidden, 1, bias=False)
                self._bn0 = bn(hidden)
            self._depthwise_conv = SameConv(
                hidden, hidden, kernel, stride=stride, groups=hidden, bias=False
            )
            self._bn1 = bn(hidden)
            self._project_conv = SameConv(hidden, cout, 1, bias=False)
            self._bn2 = bn(cout)
            self.expand = expand != 1
            self.residual = stride == 1 and cin == cout

        def forward(self, inputs: torch.Tensor) -> torch.Tensor:
            x = inputs
            if self.expand:
                x = functional.relu6(self._bn0(self._expand_conv(x)))
            x = functional.relu6(self._bn1(self._depthwise_conv(x)))
            x = self._bn2(self._project_conv(x))
            result: torch.Tensor = x + inputs if self.residual else x
            return result

    class Lite0(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self._conv_stem = SameConv(3, 32, 3, stride=2, bias=False)
            self._bn0 = bn(32)
            blocks = []
            for repeats, kernel, stride, expand, cin, cout in _STAGES:
                for i in range(repeats):
                    blocks.append(Block(kernel, stride if i == 0 else 1, expand, cin, cout))
                    cin = cout
            self._blocks = nn.ModuleList(blocks)
            self._conv_head = SameConv(320, 1280, 1, bias=False)
            self._bn1 = bn(1280)
            self._fc = nn.Linear(1280, 1000)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = functional.relu6(self._bn0(self._conv_stem(x)))
            for block in self._blocks:
                x = block(x)
            x = functional.relu6(self._bn1(self._conv_head(x)))
            result: torch.Tensor = self._fc(x.mean(dim=(2, 3)))
            return result

    return Lite0()


def _convert(out: Path) -> None:
    import torch
    from safetensors.torch import save_file

    path = EFFICIENTNET_LITE0_PTH.locate()
    if sha256_file(path) != EFFICIENTNET_LITE0_PTH.sha256:
        raise ClassifierError(
            f"{path} is damaged (sha256 mismatch); {EFFICIENTNET_LITE0_PTH.install_hint}"
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    network = _build_network()
    missing, unexpected = network.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ClassifierError(f"weights do not fit Lite0: missing {missing}, extra {unexpected}")
    save_file({k: v.contiguous() for k, v in network.state_dict().items()}, out / WEIGHTS_FILE)


def classifier_dir() -> Path:
    """The converted classifier folder, converting the packaged checkpoint on first use."""
    return convert_once(CONVERTED_NAME, _convert)


def preprocess(image: Image) -> torch.Tensor:
    """A picture -> (1, 3, 224, 224): centre crop of 87.5% of the short side, bicubic, [-1, 1]."""
    import numpy as np
    import torch
    from PIL import Image as PILImage

    rgb = as_rgb(image)
    width, height = rgb.size
    side = max(1, round(min(width, height) * CROP_FRACTION))
    left, top = (width - side) // 2, (height - side) // 2
    # box= crops while resizing (no copy of a huge photo); reducing_gap box-reduces it first,
    # far faster for a huge photo and the same to the eye.
    resized = rgb.resize(
        (IMAGE_SIZE, IMAGE_SIZE),
        PILImage.Resampling.BICUBIC,
        box=(left, top, left + side, top + side),
        reducing_gap=3.0,
    )
    pixels = np.asarray(resized, dtype=np.float32)
    pixels = (pixels / 255.0 - MEAN) / STD
    return torch.from_numpy(pixels.transpose(2, 0, 1).copy()).unsqueeze(0)


def as_rgb(image: Image) -> Image:
    """RGB, with transparent parts shown on white (as mmchat shows attachments)."""
    from PIL import Image as PILImage

    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = PILImage.new("RGBA", rgba.size, (255, 255, 255, 255))
        return PILImage.alpha_composite(white, rgba).convert("RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return image.point(lambda v: v / 256).convert("L").convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


class Classifier:
    """ImageNet-1k labels for a picture, merged into the common nouns a person would use.

    `load()` is lazy and cached; `labels()` loads on first use. Thread-safe loading, since the
    engine may warm it up in the background while a turn arrives.
    """

    def __init__(self, folder: Path | None = None) -> None:
        self._folder = folder
        self._network: torch.nn.Module | None = None
        self._lock = threading.Lock()

    def load(self) -> torch.nn.Module:
        with self._lock:
            if self._network is None:
                from safetensors.torch import load_file

                folder = self._folder or classifier_dir()
                network = _build_network()
                network.load_state_dict(load_file(folder / WEIGHTS_FILE))
                self._network = network.eval()
                imagenet_classes()
            return self._network

    def probabilities(self, image: Image) -> torch.Tensor:
        """The 1000 ImageNet probabilities for one picture."""
        import torch

        network = self.load()
        with torch.inference_mode():
            result: torch.Tensor = network(preprocess(image)).softmax(dim=-1)[0]
            return result

    def labels(self, image: Image, k: int = 5) -> list[Label]:
        """The top `k` common nouns, each with the summed probability of its fine classes.

        Five dog breeds at 0.15 each give "dog" 0.75; `detail` is the likeliest fine class.
        A blank picture (one flat colour) shows nothing: no labels, rather than the network's
        guess, which for a white page is a dog breed.
        """
        pixels = preprocess(image)
        if float(pixels[0].flatten(1).std(dim=1).max()) < BLANK_STD:  # spread within a channel
            return []
        import torch

        network = self.load()
        with torch.inference_mode():
            probabilities = network(pixels).softmax(dim=-1)[0]
        return merge_labels(probabilities.tolist(), k)


def merge_labels(probabilities: list[float], k: int = 5) -> list[Label]:
    """Sum fine-class probabilities per common noun; the `k` likeliest nouns, best first."""
    totals: dict[str, float] = {}
    best: dict[str, tuple[float, str]] = {}
    for cls, p in zip(imagenet_classes(), probabilities, strict=True):
        totals[cls.noun] = totals.get(cls.noun, 0.0) + p
        if p > best.get(cls.noun, (-1.0, ""))[0]:
            best[cls.noun] = (p, cls.fine)
    ranked = sorted(totals.items(), key=lambda item: item[1], reverse=True)[: max(0, k)]
    return [Label(name=noun, score=score, detail=best[noun][1]) for noun, score in ranked]
