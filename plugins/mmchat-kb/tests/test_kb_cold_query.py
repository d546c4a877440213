"""A question embedded in a fresh process from the ONNX export's sidecar (onnx_cold.py):
no torch, no sentence-transformers, the same answers; anything damaged falls back."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mmchat_kb.embed import Embedder, get_embedder, packaged_model_dir
from mmchat_kb.ingest import add_paths
from mmchat_kb.onnx_cold import ColdQueryEncoder, find_sidecar
from mmchat_kb.search import search
from mmchat_kb.store import KnowledgeBase

from mmchat.hooks import plugin_cache_dir

MODEL = "all-MiniLM-L6-v2"
HEAVY = ("torch", "sentence_transformers", "transformers")
# `mmchat kb search` as the CLI runs it; on exit, which heavy modules the process imported.
COLD_SEARCH = (
    "import atexit, json, runpy, sys\n"
    f"heavy = {HEAVY!r}\n"
    "atexit.register(lambda: print(json.dumps(sorted(set(heavy) & set(sys.modules))),"
    " file=sys.stderr))\n"
    "sys.argv = ['mmchat', 'kb', 'search', 'manuals', sys.argv[1], '--json']\n"
    "runpy.run_module('mmchat.cli', run_name='__main__')\n"
)


def sentence_transformers_embedder() -> Embedder:
    """An embedder whose questions go through SentenceTransformer.encode: the reference."""
    embedder = Embedder(MODEL)
    embedder._questions_tried = True  # no ONNX encoder: encode_query uses the loaded model
    return embedder


def export_with_sidecar() -> tuple[Path, Path]:
    """The shared cache's export and its sidecar, made by a question if not there yet."""
    get_embedder().encode_query("make the export")
    folder = packaged_model_dir(MODEL)
    assert folder is not None
    found = find_sidecar(plugin_cache_dir("kb-onnx"), MODEL, folder)
    assert found is not None, "a question through the model writes the sidecar"
    return found[0], found[0].with_suffix(".json")


def test_a_cold_search_imports_neither_torch_nor_sentence_transformers(docs: Path) -> None:
    with KnowledgeBase.create("manuals", MODEL) as kb:
        add_paths(kb, get_embedder(), [docs])
    export_with_sidecar()
    reference = sentence_transformers_embedder()
    for question in ("How long does the Zorblax warranty last?", "where can visitors park"):
        run = subprocess.run(
            [sys.executable, "-c", COLD_SEARCH, question], capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stderr.strip().splitlines()[-1]) == []
        cold = [json.loads(line) for line in run.stdout.splitlines()]
        with KnowledgeBase.open("manuals") as kb:
            warm = search(kb, reference, question, k=5)
        assert cold and [(h["path"], h["location"]) for h in cold] == [
            (h.path, h.location) for h in warm
        ]
        assert np.allclose([h["similarity"] for h in cold], [h.similarity for h in warm], atol=1e-5)
    assert reference._model is not None  # the reference did load sentence-transformers


def test_the_cold_encoder_embeds_as_sentence_transformers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_cache(tmp_path, monkeypatch)
    embedder = Embedder(MODEL)
    texts = ["How do I reset the device?", "  spaces \n", "Ünïcödé — 東京 🚀", "word " * 400, ""]
    vectors = [embedder.encode_query(text) for text in texts]
    assert isinstance(embedder._questions, ColdQueryEncoder)
    assert embedder._model is None  # nothing loaded the model
    expected = get_embedder().encode(texts)
    assert np.abs(np.stack(vectors) - expected).max() < 1e-5


def copy_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A private cache holding a copy of the export and its sidecar, to damage."""
    onnx, sidecar = export_with_sidecar()
    cache = tmp_path / "cache"
    (cache / "kb-onnx").mkdir(parents=True)
    monkeypatch.setenv("MMCHAT_CACHE_DIR", str(cache))
    return (
        Path(shutil.copy2(onnx, cache / "kb-onnx")),
        Path(shutil.copy2(sidecar, cache / "kb-onnx")),
    )


def edit(change: Callable[[dict[str, Any]], None]) -> Callable[[Path, Path], None]:
    def damage(onnx: Path, sidecar: Path) -> None:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
        change(data)
        sidecar.write_text(json.dumps(data), encoding="utf-8")

    return damage


def nudge_probe(data: dict[str, Any]) -> None:
    data["probes"][0][0] += 0.01


DAMAGE: dict[str, Callable[[Path, Path], None]] = {
    "sidecar cut short": lambda onnx, sidecar: sidecar.write_bytes(sidecar.read_bytes()[:50]),
    "sidecar removed": lambda onnx, sidecar: sidecar.unlink(),
    "probe vector differs": edit(nudge_probe),
    "shorter max length": edit(lambda d: d.update(max_length=8)),
    "unknown input name": edit(lambda d: d.update(inputs=["input_ids", "pixel_values"])),
    "input left out": edit(lambda d: d.update(inputs=["input_ids"])),
    "another library version": edit(lambda d: d["libraries"].update(tokenizers="0.0.1")),
    "model folder changed": edit(lambda d: d["files"]["config.json"].__setitem__(0, 1)),
    "another folder": edit(lambda d: d.update(folder="/elsewhere")),
    "onnx cut short": lambda onnx, sidecar: onnx.write_bytes(onnx.read_bytes()[:100_000]),
    "onnx removed": lambda onnx, sidecar: onnx.unlink(),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_sidecar_or_export_falls_back_and_is_mended(
    damage: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    onnx, sidecar = copy_cache(tmp_path, monkeypatch)
    DAMAGE[damage](onnx, sidecar)
    embedder = Embedder(MODEL)
    question = "How long is the warranty?"
    vector = embedder.encode_query(question)
    assert embedder._model is not None  # the sentence-transformers path was taken
    expected = get_embedder().encode([question])[0]
    assert np.abs(vector - expected).max() < 1e-5
    assert embedder._questions is not None  # through a checked (re-)export
    folder = packaged_model_dir(MODEL)
    assert folder is not None
    mended = ColdQueryEncoder.open(folder, onnx.parent, MODEL)
    assert mended is not None  # the next process takes the cold path again
    assert np.abs(mended.encode(question) - expected).max() < 1e-5
