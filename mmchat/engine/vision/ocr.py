"""Text in pictures: PP-OCRv4 detection and recognition through rapidocr's ONNX pipeline.

rapidocr-onnxruntime is installed with --no-deps (it declares opencv-python, which needs libGL);
mmchat provides opencv-python-headless, pyclipper, shapely and PyYAML, the modules it imports.
Its model files are checked by sha256 before the first session opens.

Detection costs grow with pixels and recognition with the number of lines, so the detector
sees the picture shrunk to DETECT_SIDE while the recogniser crops each line from a copy of up
to RECOGNISE_SIDE, where small print keeps enough pixels.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from mmchat.engine.assets import (
    OCR_CLASSIFIER_ONNX,
    OCR_DETECTOR_ONNX,
    OCR_RECOGNISER_ONNX,
    PackagedFile,
    sha256_file,
)
from mmchat.engine.vision.ctc_spaces import SpacedDecoder
from mmchat.engine.vision.words import Box, TextLine
from mmchat.images import to_rgb

if TYPE_CHECKING:  # rapidocr imports OpenCV and onnxruntime: only when text is read
    from rapidocr_onnxruntime import RapidOCR

# The detector at 960 px still finds 30 px body text on an A4 page at 150 dpi and on the same
# page scanned at 300 dpi; the library's default (shortest side scaled up to 736) is several
# times slower on a page (bench/ocr_shapes.py; docs/PERFORMANCE.md).
DETECT_SIDE = 960
RECOGNISE_SIDE = 2000
# Measured on 27 photos (Debian darknet's and foolbox's samples): guesses at texture scored
# 0.08-0.48 and fragments of real lettering 0.65-0.75; rendered and scanned text read 0.97+.
MIN_SCORE = 0.8
# Each line read costs time (docs/PERFORMANCE.md); a book page holds about 40 lines, so 60
# reads a page and bounds the worst case.
MAX_LINES = 60
# Intra-op threads per session: cores - 1, as the engine's own threads. On a 2-core CPU two
# threads won while the machine was quiet and lost badly while other work ran
# (bench/ocr_shapes.py --threads; docs/PERFORMANCE.md).
THREADS = max(1, (os.cpu_count() or 2) - 1)
# Recognition batches run side by side, one thread each: the batches share nothing, so a
# core taken by other work slows one batch instead of stalling a team of threads, which is
# what made two intra-op threads lose under load.
RECOGNISERS = max(1, min(4, os.cpu_count() or 1))


class OcrError(Exception):
    """The OCR models are missing or damaged; the message says how to reinstall them."""


def _verified(asset: PackagedFile) -> str:
    path = asset.locate()
    if sha256_file(path) != asset.sha256:
        raise OcrError(f"{path} is damaged (sha256 mismatch); {asset.install_hint}")
    return str(path)


def _shrunk(pixels: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    """`pixels` with its longest side at most `side`, and the factor applied."""
    import cv2

    height, width = pixels.shape[:2]
    scale = min(1.0, side / max(height, width))
    if scale == 1.0:
        return pixels, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA), scale


def _reading_indices(boxes: list[Box]) -> list[int]:
    """Top to bottom, and left to right within a row of boxes that overlap vertically."""
    rows: list[list[int]] = []
    for i in sorted(range(len(boxes)), key=lambda i: boxes[i][1] + boxes[i][3]):
        centre = (boxes[i][1] + boxes[i][3]) / 2
        if rows and boxes[rows[-1][0]][1] <= centre <= boxes[rows[-1][0]][3]:
            rows[-1].append(i)
        else:
            rows.append([i])
    return [i for row in rows for i in sorted(row, key=lambda i: boxes[i][0])]


def reading_order(lines: list[TextLine]) -> list[TextLine]:
    return [lines[i] for i in _reading_indices([line.box for line in lines])]


class TextReader:
    """Reads the lines of text in a picture; models load on first use."""

    def __init__(
        self,
        min_score: float = MIN_SCORE,
        threads: int = THREADS,
        upside_down: bool = False,
        max_lines: int = MAX_LINES,
        recognisers: int = RECOGNISERS,
    ) -> None:
        self.min_score = min_score
        self.max_lines = max_lines  # the first lines in reading order: a bounded time
        self.threads = threads
        self.recognisers = recognisers  # recognition batches read side by side
        # PP-OCR's 0/180 degree classifier turned a right-way-up line of a rendered page
        # upside down (read as "o psan sm qoea pue"); screenshots and scans are upright.
        self.upside_down = upside_down
        self._ocr: RapidOCR | None = None
        self._lock = threading.Lock()
        self._workers: ThreadPoolExecutor | None = None

    def load(self) -> None:
        with self._lock:
            if self._ocr is not None:
                return
            # Checked before the import, so a missing package says how to install it.
            paths = [
                _verified(a) for a in (OCR_DETECTOR_ONNX, OCR_CLASSIFIER_ONNX, OCR_RECOGNISER_ONNX)
            ]
            from rapidocr_onnxruntime import RapidOCR

            self._ocr = RapidOCR(
                det_model_path=paths[0],
                cls_model_path=paths[1],
                rec_model_path=paths[2],
                intra_op_num_threads=self.threads,
                inter_op_num_threads=1,
                # Our own scaling decides the detector's input (the default, shortest side
                # up to 736, turned a 700x200 strip into 2560x736, slowly).
                det_limit_type="max",
                det_limit_side_len=DETECT_SIDE,
            )
            # The spaces the recogniser scored but did not write (ctc_spaces.py).
            self._ocr.text_rec.postprocess_op = SpacedDecoder(self._ocr.text_rec.postprocess_op)
            # The two sessions that run on every picture, remade to give memory back.
            self._ocr.text_det.infer.session = _ShrinkingSession(paths[0], self.threads)
            self._ocr.text_rec.session.session = _ShrinkingSession(paths[2], 1)
            self._workers = ThreadPoolExecutor(self.recognisers, thread_name_prefix="mmchat-ocr")

    def read(self, image: Image.Image) -> list[TextLine]:
        """The lines read with at least `min_score` confidence, in reading order."""
        self.load()
        assert self._ocr is not None
        if min(image.size) == 0:
            return []
        # A phone photo is box-reduced by a whole factor first, as Pillow holds it: its
        # full-size RGB and BGR copies cost ~150 MB at 24 Mpx and are not needed.
        factor = max(image.size) // RECOGNISE_SIDE
        if factor >= 2 and image.mode in ("RGB", "L"):
            image = image.reduce(factor)
        # The library wants BGR, OpenCV's order.
        full = np.ascontiguousarray(np.asarray(to_rgb(image))[:, :, ::-1])
        full, _ = _shrunk(full, RECOGNISE_SIDE)
        height, width = full.shape[:2]
        with self._lock:  # onnxruntime sessions are thread-safe, the pipeline's state is not
            quads = self._detect(full)
            boxes = [_box(quad, width, height) for quad in quads]
            order = _reading_indices(boxes)[: self.max_lines]
            if not order:
                return []
            crops = self._ocr.get_crop_img_list(full, [quads[i] for i in order])
            if self.upside_down:
                crops, _, _ = self._ocr.text_cls(crops)
            results = self._recognise(crops)
        return [
            TextLine(text=text.strip(), score=float(score), box=boxes[i])
            for i, (text, score, *_rest) in zip(order, results, strict=True)
            if float(score) >= self.min_score and text.strip()
        ]

    def _recognise(self, crops: list[np.ndarray]) -> list[tuple[Any, ...]]:
        """(text, score, ...) per crop: rapidocr's own batches (crops sorted by width, then
        `rec_batch_num` at a time, each padded to its widest), run on the workers. The same
        batches as the library's, so the same text, token for token."""
        assert self._ocr is not None and self._workers is not None
        recogniser = self._ocr.text_rec
        widths = np.array([crop.shape[1] / float(crop.shape[0]) for crop in crops])
        order = np.argsort(widths)
        size = recogniser.rec_batch_num
        batches = [order[i : i + size] for i in range(0, len(order), size)]

        def read(batch: np.ndarray) -> list[tuple[Any, ...]]:
            lines: list[tuple[Any, ...]] = recogniser([crops[i] for i in batch], False)[0]
            return lines

        results: list[tuple[Any, ...]] = [("", 0.0)] * len(crops)
        for batch, lines in zip(batches, self._workers.map(read, batches), strict=True):
            for i, line in zip(batch, lines, strict=True):
                results[int(i)] = line
        return results

    def _detect(self, full: np.ndarray) -> list[np.ndarray]:
        """Line quadrilaterals (4x2, float32) in `full`'s pixels."""
        assert self._ocr is not None
        small, scale = _shrunk(full, DETECT_SIDE)
        # Upscales tiny pictures, pads very wide strips; `record` lets the library undo both.
        small, ratio_h, ratio_w = self._ocr.preprocess(small)
        record: dict[str, Any] = {"preprocess": {"ratio_h": ratio_h, "ratio_w": ratio_w}}
        small, record = self._ocr.maybe_add_letterbox(small, record)
        quads, _ = self._ocr.auto_text_det(small)
        if quads is None or len(quads) == 0:
            return []
        height, width = full.shape[:2]
        points = self._ocr._get_origin_points(quads, record, height * scale, width * scale)
        return [np.ascontiguousarray(quad / scale, dtype=np.float32) for quad in points]


class _ShrinkingSession:
    """An onnxruntime session that hands its activations back after every run.

    rapidocr opens its sessions without the memory arena, yet ~250-350 MB stayed with the
    process after reading a page or two (each new input shape kept its buffers; malloc_trim
    gave none back). With the arena, memory patterns off (buffers freed as tensors die) and
    the arena shrunk at the end of each run, a run's peak fell from ~355 to ~190 MB above the
    process and ~45 MB stayed; the same outputs, and no more CPU time (docs/PERFORMANCE.md).
    """

    def __init__(self, path: str, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 4
        options.enable_cpu_mem_arena = True
        options.enable_mem_pattern = False
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        provider = ("CPUExecutionProvider", {"arena_extend_strategy": "kSameAsRequested"})
        self._session = ort.InferenceSession(path, sess_options=options, providers=[provider])
        self._run_options = ort.RunOptions()
        self._run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def run(self, outputs: list[str] | None, feeds: dict[str, Any]) -> list[Any]:
        result: list[Any] = self._session.run(outputs, feeds, self._run_options)
        return result

    def __getattr__(self, name: str) -> Any:  # get_inputs, get_modelmeta, ...: the session's
        return getattr(self._session, name)


def _box(quad: np.ndarray, width: int, height: int) -> Box:
    x0, y0 = quad.min(axis=0)
    x1, y1 = quad.max(axis=0)
    return (
        max(0.0, float(x0) / width),
        max(0.0, float(y0) / height),
        min(1.0, float(x1) / width),
        min(1.0, float(y1) / height),
    )
