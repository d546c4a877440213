"""Embeddings: the packaged all-MiniLM-L6-v2 offline, other models by id or folder."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmchat_kb.embed import Embedder, EmbedderError, get_embedder, packaged_model_dir
from mmchat_kb.onnx_query import OnnxQueryEncoder, fingerprint


def test_packaged_model_gives_unit_vectors_that_mean_something() -> None:
    folder = packaged_model_dir("all-MiniLM-L6-v2")
    assert folder is not None and (folder / "model.safetensors").is_file()
    vectors = get_embedder().encode(
        ["How do I reset my password?", "Steps to change a forgotten password", "Soup recipes"]
    )
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert vectors[0] @ vectors[1] > 0.5 > vectors[0] @ vectors[2]


def test_a_model_folder_works_as_an_id() -> None:
    folder = packaged_model_dir("all-MiniLM-L6-v2")
    by_folder = Embedder(str(folder)).encode(["same text"])
    assert np.allclose(by_folder, get_embedder().encode(["same text"]), atol=1e-5)


def test_unknown_model_offline_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EmbedderError, match="cannot load embedding model 'no-such/model-xyz'"):
        Embedder("no-such/model-xyz").encode(["x"])


QUESTIONS = [
    "How do I reset the device?",
    "  a question with spaces around it \n",
    "Ünïcödé naïve café — 東京 🚀",
    "word " * 400,  # past the model's 256 tokens: truncated the same way
    "",
    "\tTabs\tand\nnewlines",
]


@pytest.mark.parametrize("text", QUESTIONS)
def test_a_question_embeds_as_sentence_transformers_embeds_it(text: str) -> None:
    """encode_query runs the exported model in ONNX Runtime (onnx_query.py); the vector must be
    the one sentence-transformers gives, or questions would miss the chunks it embedded."""
    embedder = get_embedder()
    question = embedder.encode_query(text)
    assert embedder._questions is not None  # the packaged MiniLM takes the ONNX path
    assert question.dtype == np.float32 and question.shape == (384,)
    assert np.abs(question - reference(text)).max() < 1e-5


def reference(text: str) -> np.ndarray:
    return (
        get_embedder()
        ._load()
        .encode([text], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)[
            0
        ]
    )


def test_the_export_is_made_once_and_reused(tmp_path: Path) -> None:
    model, name = get_embedder()._load(), get_embedder().model_id
    first = OnnxQueryEncoder.open(model, tmp_path, name)
    assert first is not None
    (path,) = tmp_path.glob("*.onnx")
    assert path.name == f"{name}-{fingerprint(model)}.onnx"
    made = path.stat().st_mtime_ns
    second = OnnxQueryEncoder.open(model, tmp_path, name)
    assert second is not None and path.stat().st_mtime_ns == made  # read, not written again
    assert (
        np.abs(
            second.encode("Where is the cafeteria?") - reference("Where is the cafeteria?")
        ).max()
        < 1e-5
    )


def test_a_damaged_export_is_made_again(tmp_path: Path) -> None:
    model, name = get_embedder()._load(), get_embedder().model_id
    assert OnnxQueryEncoder.open(model, tmp_path, name) is not None
    (path,) = tmp_path.glob("*.onnx")
    path.write_bytes(path.read_bytes()[:100_000])  # cut short, as by a full disk or a crash
    again = OnnxQueryEncoder.open(model, tmp_path, name)
    assert again is not None and path.stat().st_size > 1_000_000
    assert np.abs(again.encode("reset") - reference("reset")).max() < 1e-5


def test_other_weights_get_their_own_export(tmp_path: Path) -> None:
    """An export is named after a digest of the weights: a model changed in place (a new
    version under the same id) never reads the old file, which is removed."""
    from sentence_transformers import SentenceTransformer

    folder = packaged_model_dir("all-MiniLM-L6-v2")
    model = SentenceTransformer(str(folder), device="cpu")
    assert OnnxQueryEncoder.open(model, tmp_path, "m") is not None
    (old,) = tmp_path.glob("*.onnx")
    with torch.no_grad():
        model[0].auto_model.pooler.dense.bias.add_(0.0)  # unused by mean pooling: same vectors
        model[0].auto_model.encoder.layer[0].output.dense.bias.mul_(1.5)
    changed = OnnxQueryEncoder.open(model, tmp_path, "m")
    assert changed is not None
    (new,) = tmp_path.glob("*.onnx")
    assert new != old
    text = "How long is the warranty?"
    expected = model.encode([text], normalize_embeddings=True, show_progress_bar=False)[0]
    assert np.abs(changed.encode(text) - expected).max() < 1e-5
    assert np.abs(expected - reference(text)).max() > 1e-3  # the change did change the vector


def test_without_the_export_questions_use_sentence_transformers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed export (here a full disk) costs speed, not answers: no file is left half
    written, and the question gets the same vector through sentence-transformers."""

    def full_disk(module: object, args: object, f: str, **kwargs: object) -> None:
        Path(f).write_bytes(b"\x08\x07partial")  # what was written before the disk filled
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch.onnx, "export", full_disk)
    monkeypatch.setenv("MMCHAT_CACHE_DIR", str(tmp_path))
    folder = packaged_model_dir("all-MiniLM-L6-v2")
    embedder = Embedder(str(folder))
    question = embedder.encode_query("How do I reset the device?")
    assert embedder._questions is None
    assert list((tmp_path / "kb-onnx").iterdir()) == []
    assert np.abs(question - reference("How do I reset the device?")).max() < 1e-5


def test_without_onnxruntime_questions_use_sentence_transformers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    model, name = get_embedder()._load(), get_embedder().model_id
    assert OnnxQueryEncoder.open(model, tmp_path, name) is None
    assert not list(tmp_path.iterdir())
