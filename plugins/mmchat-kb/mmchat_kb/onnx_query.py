"""One question's embedding through ONNX Runtime, for the search path.

A search embeds one short text. PyTorch's CPU matrix products are slow at that shape (a dozen
tokens against 384 x 1536 weights: MKL streams the weights well below what one core can
read), so all-MiniLM-L6-v2 embeds a question in about half the time through ONNX Runtime,
with the same vector (bench/kb.py; docs/PERFORMANCE.md). At 1M chunks that is a large share
of a search.

The sentence-transformers pipeline as a whole (transformer, pooling, normalisation) is
exported once with torch.onnx and kept in the cache folder under a fingerprint of its modules
and weights, so another model or changed weights get their own file. Every load checks probe
embeddings against sentence-transformers' own; any failure (onnxruntime missing, a model the
exporter cannot trace, a damaged file, a full disk) leaves questions on
`SentenceTransformer.encode`, slower and otherwise the same. Ingest always uses `encode`:
batches of chunks keep the matrix products busy already. Once an export reproduces the model,
a sidecar beside it lets later processes embed questions without loading the model at all
(onnx_cold.py).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmchat_kb.onnx_cold import PROBES, TOLERANCE, onnx_session, sidecar_path, write_sidecar

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class OnnxQueryEncoder:
    def __init__(self, session: Any, model: Any, names: list[str], path: Path) -> None:
        self.session = session
        self.names = names
        self.path = path
        self.preprocess = _tokenizer(model)
        self.reference: np.ndarray | None = None  # sentence-transformers' probes, once checked

    @classmethod
    def open(
        cls, model: Any, folder: Path, name: str, source: Path | None = None
    ) -> OnnxQueryEncoder | None:
        """The encoder for `model` (called `name`), exported into `folder` if it is not there
        yet; None (and a logged reason) when it cannot be made or does not reproduce
        `model.encode`. With `source`, the model folder it was loaded from, a sidecar for
        cold loads is written beside the export (onnx_cold.py)."""
        encoder = cls._open(model, folder, name)
        if encoder is not None and encoder.reference is not None and source is not None:
            try:
                limit = model.max_seq_length
                write_sidecar(encoder.path, source, encoder.names, limit, encoder.reference)
            except (OSError, ValueError) as exc:  # later processes load the model instead
                log.info("no sidecar for %s: %s", encoder.path.name, exc)
        return encoder

    @classmethod
    def _open(cls, model: Any, folder: Path, name: str) -> OnnxQueryEncoder | None:
        try:
            import onnxruntime  # noqa: F401  (optional: without it, questions use encode)

            path = folder / f"{slug(name)}-{fingerprint(model)}.onnx"
            names = [n for n in INPUTS if n in _features(model, PROBES[0])]
            if path.is_file():
                try:
                    encoder = cls(onnx_session(path), model, names, path)
                    if encoder.matches(model):
                        return encoder
                    log.info("re-exporting %s: it does not reproduce the model", path.name)
                except Exception as exc:  # noqa: BLE001  damaged: made again below
                    log.info("re-exporting %s: %s", path.name, exc)
            _export(model, names, path)
            encoder = cls(onnx_session(path), model, names, path)
            if encoder.matches(model):
                return encoder
            log.info("query embeddings stay on sentence-transformers: %s differs", path.name)
        except Exception as exc:  # noqa: BLE001  any failure only costs speed
            log.info("query embeddings stay on sentence-transformers: %s", exc)
        return None

    def encode(self, text: str) -> np.ndarray:
        """The unit-length float32 embedding of `text`, as `model.encode` gives it."""
        features = self.preprocess([text])
        feed = {n: features[n].numpy() for n in self.names}
        return self.session.run(None, feed)[0][0]

    def matches(self, model: Any) -> bool:
        import numpy as np

        reference = model.encode(
            list(PROBES), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        mine = np.stack([self.encode(text) for text in PROBES])
        ok = mine.shape == reference.shape and float(np.abs(mine - reference).max()) < TOLERANCE
        self.reference = reference if ok else None
        return ok


def fingerprint(model: Any) -> str:
    """A digest of the pipeline's module kinds, sequence limit and weights."""
    digest = hashlib.blake2b(digest_size=8)
    digest.update(repr([type(m).__name__ for m in model]).encode())
    digest.update(str(model.max_seq_length).encode())
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def slug(name: str) -> str:
    """A file-name part from a model id or folder: its last part, in safe characters."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", Path(name).name)[:64] or "model"


def _tokenizer(model: Any) -> Any:
    """The model's own tokenisation (`preprocess` from sentence-transformers 6, `tokenize`
    before), so a question is cut and cased exactly as `encode` does it."""
    return getattr(model, "preprocess", None) or model.tokenize


def _features(model: Any, text: str) -> dict[str, Any]:
    return _tokenizer(model)([text])


def _export(model: Any, names: list[str], path: Path) -> None:
    """Trace `model` (features in, sentence embedding out) into `path`, atomically: a crash or
    a full disk leaves no file under the final name."""
    import torch

    class Pipeline(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return self.model(dict(zip(names, tensors, strict=True)))["sentence_embedding"]

    features = _features(model, PROBES[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}-{os.getpid()}.tmp")
    try:
        # The tracer warns about shapes it fixed and ops it rewrote, on the person's terminal;
        # whether the graph is right is what `matches` checks.
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Pipeline().eval(),
                tuple(features[n] for n in names),
                str(tmp),
                input_names=names,
                output_names=["embedding"],
                dynamic_axes={n: {0: "texts", 1: "tokens"} for n in names}
                | {"embedding": {0: "texts"}},
                opset_version=17,
                dynamo=False,  # the TorchScript tracer: no onnxscript needed
            )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    for old in path.parent.glob(f"{path.stem.rsplit('-', 1)[0]}-*.onnx"):
        if old != path:  # the same model's export from other weights: never read again
            old.unlink(missing_ok=True)
            sidecar_path(old).unlink(missing_ok=True)
