"""A question's embedding in a fresh process, without sentence-transformers or torch.

Importing sentence-transformers (and torch with it) takes 4-12 s here, far more than a search.
Once onnx_query.py has exported a model and checked it against sentence-transformers, it
writes a sidecar beside the .onnx: what the model folder held (each file's size and mtime,
and the sha256 of the small ones), the library versions, the graph's input names, the
sequence limit, and the probe embeddings sentence-transformers gave. A later process whose
model folder and libraries still match loads only `tokenizers` (the folder's tokenizer.json,
with the model's own truncation and no padding) and onnxruntime, and trusts the graph only
if it reproduces the saved probes. Anything missing, changed or different returns None, and
the caller takes the sentence-transformers path, which exports and writes the sidecar again.

The folder needs no new trust check here: the sidecar is written only after the folder
passed the embedder's checks (model_check.py), and any file added, removed or changed since
(a .py file, other weights) changes its fingerprint. Nothing from the folder runs as code.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

FORMAT = 1
SMALL = 4 << 20  # files up to this size are hashed (configs, vocabularies); larger: size+mtime
LIBRARIES = ("sentence-transformers", "transformers", "tokenizers", "onnxruntime")
PROBES = ("How do I reset the device?", "A longer probe: " + "many words here " * 20)
TOLERANCE = 1e-4  # the exported graph reorders some sums; vectors agree to ~1e-7


def sidecar_path(onnx_path: Path) -> Path:
    return onnx_path.with_suffix(".json")


def folder_fingerprint(folder: Path) -> dict[str, list[Any]]:
    """Every file under `folder` by relative name: [size, mtime_ns, sha256 or None]."""
    found: dict[str, list[Any]] = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        stat = path.stat()
        digest = None
        if stat.st_size <= SMALL:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        found[path.relative_to(folder).as_posix()] = [stat.st_size, stat.st_mtime_ns, digest]
    return found


def library_versions() -> dict[str, str | None]:
    """Installed versions, read from package metadata: no import of the libraries."""
    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def write_sidecar(
    onnx_path: Path, folder: Path, names: list[str], max_length: int, probes: np.ndarray
) -> None:
    """Record what the cold path checks, atomically (a crash leaves no half file)."""
    data = {
        "format": FORMAT,
        "folder": str(folder.resolve()),
        "files": folder_fingerprint(folder),
        "libraries": library_versions(),
        "inputs": names,
        "max_length": max_length,
        "probes": [[float(x) for x in row] for row in probes],
    }
    path = sidecar_path(onnx_path)
    tmp = path.with_name(f".{path.stem}-{os.getpid()}.json.tmp")
    try:
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def find_sidecar(cache: Path, slug: str, folder: Path) -> tuple[Path, dict[str, Any]] | None:
    """The export made from `folder` as it is now, with these libraries: (.onnx, sidecar)."""
    where = str(folder.resolve())
    for path in sorted(cache.glob(f"{slug}-*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            continue
        if data.get("folder") != where:
            continue
        if data.get("libraries") != library_versions():
            log.info("%s: libraries changed since the export", path.name)
            continue
        if data.get("files") != folder_fingerprint(folder):
            log.info("%s: the model folder changed since the export", path.name)
            continue
        onnx_path = path.with_suffix(".onnx")
        if onnx_path.is_file():
            return onnx_path, data
    return None


class ColdQueryEncoder:
    """tokenizers + onnxruntime, set up as the sidecar says; `encode` as OnnxQueryEncoder."""

    def __init__(self, session: Any, tokenizer: Any, names: list[str]) -> None:
        self.session = session
        self.tokenizer = tokenizer
        self.names = names

    @classmethod
    def open(cls, folder: Path, cache: Path, slug: str) -> ColdQueryEncoder | None:
        """The encoder for the model in `folder`, or None (and a logged reason)."""
        try:
            found = find_sidecar(cache, slug, folder)
            if found is None:
                return None
            onnx_path, data = found
            encoder = cls(onnx_session(onnx_path), _tokenizer(folder, data), _names(data))
            if encoder.matches(data["probes"]):
                return encoder
            log.info("%s does not reproduce its probes", onnx_path.name)
        except Exception as exc:  # noqa: BLE001  any failure: the sentence-transformers path
            log.info("no cold query encoder: %s", exc)
        return None

    def encode(self, text: str) -> np.ndarray:
        """The unit-length float32 embedding of `text`."""
        import numpy as np

        encoding = self.tokenizer.encode(text)
        columns = {
            "input_ids": encoding.ids,
            "attention_mask": encoding.attention_mask,
            "token_type_ids": encoding.type_ids,
        }
        feed = {n: np.asarray([columns[n]], dtype=np.int64) for n in self.names}
        return self.session.run(None, feed)[0][0]

    def matches(self, probes: Any) -> bool:
        import numpy as np

        expected = np.asarray(probes, dtype=np.float32)
        mine = np.stack([self.encode(text) for text in PROBES])
        return mine.shape == expected.shape and float(np.abs(mine - expected).max()) < TOLERANCE


def _names(data: dict[str, Any]) -> list[str]:
    names = data["inputs"]
    known = {"input_ids", "attention_mask", "token_type_ids"}
    if not isinstance(names, list) or not names or not set(names) <= known:
        raise ValueError(f"unexpected input names {names!r:.80}")
    return names


def _tokenizer(folder: Path, data: dict[str, Any]) -> Any:
    """The folder's tokenizer.json, cut as sentence-transformers cuts a question: at the
    model's max_seq_length (not the file's own setting), longest first, with no padding."""
    from tokenizers import Tokenizer

    max_length = data["max_length"]
    if not isinstance(max_length, int) or max_length <= 0:
        raise ValueError(f"unexpected max_length {max_length!r:.40}")
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(max_length, strategy="longest_first", direction="right")
    tokenizer.no_padding()
    return tokenizer


def onnx_session(path: Path) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    # One question is a few milliseconds of work: a second thread would only wait on the
    # first, and would take the core the full-text search runs on meanwhile (search.py).
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
