"""COCO objects in a photo, with boxes: the things ImageNet's classes leave out (a person, a
horse, a giraffe) and how many of each there are.

The detector is TF.js's COCO-SSD (SSDLite MobileNetV2, 300x300, Apache-2.0), run by
tfjs_graph.py. Its graph starts with a TensorFlow 1 while-loop that resizes each picture of a
batch; that loop is done here instead (the same bilinear resize, on one picture) and the graph
is fed where the loop ends. Its outputs are 1917 anchor boxes, already decoded, and a
sigmoid score per class for each; overlapping boxes are merged by non-maximum suppression,
written here in a few lines of torch, since torchvision's does not install beside this torch.
"""

from __future__ import annotations

import json
import threading
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from mmchat.engine.assets import COCO_SSD
from mmchat.engine.vision.words import Detection, Label

if TYPE_CHECKING:
    import numpy as np
    import torch
    from PIL.Image import Image

    from mmchat.engine.vision.tfjs_graph import GraphModel

CLASSES_FILE = Path(__file__).resolve().parents[2] / "assets" / "coco-classes.json"
INPUT_SIZE = 300
FEED = "Preprocessor/map/TensorArrayStack/TensorArrayGatherV3"  # the resize loop's output
SCORES = "Postprocessor/Slice"  # [1, 1917, 90]: the background column sliced off
BOXES = "Postprocessor/ExpandDims_1"  # [1, 1917, 1, 4]: y0, x0, y1, x1 as fractions
MIN_SCORE = 0.3  # kept for callers to judge; coco-ssd's own default cut is 0.5
# Another class this sure of a box is kept beside the best: the detector often reads a horse
# as a cow or a sheep, and "Is there a horse?" should still find it.
ALSO_SCORE = 0.4
OVERLAP = 0.5  # boxes of one class overlapping more than this are one object (coco-ssd's)
MAX_OBJECTS = 20
MAIN_SCORE = 0.6  # a detection this sure may name the picture's main thing
SURE_LABEL = 0.45  # a classifier label this sure is kept, unless it cannot name the thing
# A huge photo is box-reduced to about this side first: resizing to 300 samples few pixels.
REDUCE_ABOVE = 1200


@cache
def coco_classes() -> dict[int, str]:
    """Output column -> COCO class name ("person", "bicycle", ...)."""
    data = json.loads(CLASSES_FILE.read_text(encoding="utf-8"))
    return {int(index) - 1: name for index, name in data["classes"].items()}


class Detector:
    """COCO objects in a picture; the graph loads on first use, once, thread-safely."""

    def __init__(self, folder: Path | None = None) -> None:
        self._folder = folder
        self._graph: GraphModel | None = None
        self._lock = threading.Lock()

    def load(self) -> GraphModel:
        from mmchat.engine.vision.tfjs_graph import GraphModel

        with self._lock:
            if self._graph is None:
                self._graph = GraphModel(self._folder or COCO_SSD.locate())
            return self._graph

    def detect(self, image: Image, min_score: float = MIN_SCORE) -> list[Detection]:
        """Objects found, most confident first; boxes as fractions of width and height."""
        import torch

        graph = self.load()
        scores, boxes = graph.run({FEED: model_input(image)}, [SCORES, BOXES])
        best, column = scores[0].max(dim=-1)
        keep = best >= min_score
        every, boxes = scores[0][keep], boxes[0, :, 0][keep]
        best, column = best[keep], column[keep]
        names = coco_classes()
        found: list[Detection] = []
        for i in non_max_suppression(boxes, best, column, OVERLAP)[:MAX_OBJECTS]:
            y0, x0, y1, x1 = (min(max(float(v), 0.0), 1.0) for v in boxes[i])
            name = names.get(int(column[i]))
            others = tuple(
                (names[int(c)], float(every[i, c]))
                for c in torch.nonzero(every[i] >= ALSO_SCORE).flatten().tolist()
                if c != int(column[i]) and int(c) in names
            )
            if name is not None:
                found.append(Detection(name, float(best[i]), (x0, y0, x1, y1), others))
        return found


def model_input(image: Image) -> torch.Tensor:
    """[1, 300, 300, 3] float pixels 0-255, resized as TensorFlow 1's ResizeBilinear without
    half-pixel centres (the graph's own loop); another resize lost the dog of darknet's
    dog.jpg to "cat"."""
    import numpy as np
    import torch

    from mmchat.engine.vision.classify import as_rgb

    rgb = as_rgb(image)
    factor = max(rgb.width, rgb.height) // REDUCE_ABOVE
    if factor > 1:
        rgb = rgb.reduce(factor)
    pixels = np.asarray(rgb)
    rows, row_weight = _samples(pixels.shape[0])
    cols, col_weight = _samples(pixels.shape[1])
    top = torch.from_numpy(pixels[rows[0]]).float()
    bottom = torch.from_numpy(pixels[rows[1]]).float()
    band = top + (bottom - top) * row_weight[:, None, None]
    left, right = band[:, cols[0]], band[:, cols[1]]
    return (left + (right - left) * col_weight[None, :, None]).unsqueeze(0)


def _samples(size: int) -> tuple[tuple[np.ndarray, np.ndarray], torch.Tensor]:
    """For each output pixel: the two source indices and the weight of the second."""
    import numpy as np
    import torch

    source = np.arange(INPUT_SIZE, dtype=np.float64) * (size / INPUT_SIZE)
    low = np.floor(source).astype(np.int64)
    high = np.minimum(low + 1, size - 1)
    return (low, high), torch.from_numpy(source - low).float()


def non_max_suppression(
    boxes: torch.Tensor, scores: torch.Tensor, classes: torch.Tensor, overlap: float
) -> list[int]:
    """Indices kept, best first: a box is dropped when a better one of its class overlaps it
    by more than `overlap` (intersection over union). Classes are kept apart, so a rider
    does not hide the horse."""
    import torch

    order = torch.argsort(scores, descending=True)
    area = (boxes[:, 2] - boxes[:, 0]).clamp(min=0) * (boxes[:, 3] - boxes[:, 1]).clamp(min=0)
    kept: list[int] = []
    suppressed = torch.zeros(len(scores), dtype=torch.bool)
    for index in order.tolist():
        if suppressed[index]:
            continue
        kept.append(index)
        low = torch.maximum(boxes[index, :2], boxes[:, :2])
        high = torch.minimum(boxes[index, 2:], boxes[:, 2:])
        inter = (high - low).clamp(min=0).prod(dim=1)
        iou = inter / (area[index] + area - inter).clamp(min=1e-9)
        suppressed |= (iou > overlap) & (classes == classes[index])
    return kept


def name_main_thing(labels: list[Label], detections: list[Detection]) -> list[Label]:
    """The classifier's labels, with the detector's surest object put first where the
    classifier is unsure, or where that object is a thing it has no class for (a person, a
    giraffe): for those the classifier surely names whatever it knows beside them (the zebra
    next to the giraffe, the dog at the walker's feet)."""
    from mmchat.engine.vision.classify import noun_kind

    sure = [d for d in detections if d.score >= MAIN_SCORE]
    if not sure:
        return labels
    main = max(sure, key=lambda d: d.score)
    top = labels[0] if labels else None
    if top is not None and top.score >= SURE_LABEL:
        if top.name == main.name or noun_kind(main.name) is not None:
            return labels
        # A sure label of a COCO class the detector did not find: the two name one object
        # differently (a dalmatian taken for a giraffe by its spots), and the classifier,
        # with a thousand finer classes, is the one to believe.
        found = {d.name for d in detections}
        if top.name in coco_classes().values() and top.name not in found:
            return labels
    first = Label(main.name, main.score, box=main.box)
    return [first, *(label for label in labels if label.name != main.name)]
