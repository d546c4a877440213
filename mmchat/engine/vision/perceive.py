"""All perception modules on one picture: visual words, computed once per picture.

Each module loads on first use. A module that cannot run (its weights not installed, its
library missing) is left out with a one-line reason in `problems`; the others still run, so a
picture never fails a turn because one way of looking at it is unavailable.

Looking at a picture allocates large short-lived buffers (OCR detector and recogniser
activations, resized copies). glibc keeps the pages of freed heap memory, so each picture left
the process a few hundred MB larger (a scanned page: ~300 MB kept); the heap is trimmed after
each module, so one module's freed buffers do not sit beside the next one's (trimmed once a
picture, the classifier's, the detector's and OCR's buffers added up to the peak). Lowering
glibc's mmap threshold while the modules run cut the peak too, but OCR then took ~40% more
CPU (every buffer freshly mapped and zeroed), so it is not done.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import cache
from typing import TYPE_CHECKING, Any

from mmchat.engine.vision.words import VisualWords

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger(__name__)

# Objects detected at least this surely get their own colours (scene_answers' PRESENT_SCORE:
# the ones "Is there a ...?" would say yes to).
BOX_COLOR_SCORE = 0.4


class Perception:
    def __init__(self, ocr: bool = True) -> None:
        self._classifier: Any = None
        self._reader: Any = None
        self._detector: Any = None
        self._ocr = ocr
        self._cache: dict[str, VisualWords] = {}
        self.problems: dict[str, str] = {}  # module -> why it is left out

    def words(self, key: str, image: Image | Callable[[], Image]) -> VisualWords:
        """The picture's visual words; `key` (its sha256) caches them for follow-ups.

        `image` may be a function that opens the picture: a follow-up then finds the words
        cached without decoding the picture again (a phone photo takes ~0.1 s to decode).
        """
        if key not in self._cache:
            self._cache[key] = self._look(image if not callable(image) else image())
        return self._cache[key]

    def cached(self, key: str) -> VisualWords | None:
        """The picture's words if they were found before (no work otherwise)."""
        return self._cache.get(key)

    def _look(self, image: Image) -> VisualWords:
        words = VisualWords(width=image.width, height=image.height)
        self._run("objects", words, lambda: self._classify(image, words))
        self._run("detect", words, lambda: self._detect(image, words))
        self._run("colors", words, lambda: self._colors(image, words))
        self._run("object colors", words, lambda: self._object_colors(image, words))
        self._run("shapes", words, lambda: self._shapes(image, words))
        if self._ocr:
            self._run("text", words, lambda: self._read(image, words))
        return words

    def _run(self, name: str, words: VisualWords, step: Callable[[], None]) -> None:
        if name in self.problems:
            return
        started = time.perf_counter()
        try:
            with _memory_returned():
                step()
        except Exception as exc:  # a module that cannot run is left out, never the turn
            self.problems[name] = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
            log.warning("perception module %s left out: %s", name, self.problems[name])
        words.seconds[name] = time.perf_counter() - started

    def _classify(self, image: Image, words: VisualWords) -> None:
        from mmchat.engine.vision.classify import Classifier

        if self._classifier is None:
            self._classifier = Classifier()
        words.objects = self._classifier.labels(image, k=5)

    def _detect(self, image: Image, words: VisualWords) -> None:
        from mmchat.engine.vision.detect import Detector, name_main_thing

        if self._detector is None:
            self._detector = Detector()
        words.detections = self._detector.detect(image)
        words.objects = name_main_thing(words.objects, words.detections)

    def _colors(self, image: Image, words: VisualWords) -> None:
        from mmchat.engine.vision.colors import dominant_colors

        words.colors = dominant_colors(image, k=3)

    def _object_colors(self, image: Image, words: VisualWords) -> None:
        """Each sure object's own colours, for "What colour is the bicycle?"."""
        from mmchat.engine.vision.colors import region_colors

        sure = [d for d in words.detections if d.score >= BOX_COLOR_SCORE]
        if sure:
            colours = region_colors(image, [d.box for d in sure])
            coloured = {
                id(d): replace(d, colors=tuple(c)) for d, c in zip(sure, colours, strict=True)
            }
            words.detections = [coloured.get(id(d), d) for d in words.detections]

    def _shapes(self, image: Image, words: VisualWords) -> None:
        from mmchat.engine.vision.shapes import find_shapes

        words.shapes = find_shapes(image)

    def _read(self, image: Image, words: VisualWords) -> None:
        from mmchat.engine.vision.ocr import TextReader

        if self._reader is None:
            self._reader = TextReader()
        words.text = self._reader.read(image)


@cache
def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


@contextmanager
def _memory_returned() -> Iterator[None]:
    """The heap's free pages handed back once the modules are done (glibc only)."""
    try:
        yield
    finally:
        if (libc := _glibc()) is not None:  # another C library (musl, macOS): nothing to do
            libc.malloc_trim(0)
