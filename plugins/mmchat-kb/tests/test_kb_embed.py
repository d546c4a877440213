"""Embeddings: the packaged all-MiniLM-L6-v2 offline, other models by id or folder."""

from __future__ import annotations

import numpy as np
import pytest
from mmchat_kb.embed import Embedder, EmbedderError, get_embedder, packaged_model_dir


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
    """encode_query runs BERT's layers directly (query_encoder.py); the vector must be the
    one sentence-transformers gives, or questions would miss the chunks it embedded."""
    embedder = get_embedder()
    question = embedder.encode_query(text)
    assert embedder._lean is not None  # the packaged MiniLM takes the lean path
    reference = embedder._load().encode(
        [text], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )[0]
    assert question.dtype == np.float32 and question.shape == (384,)
    assert np.abs(question - reference).max() < 1e-5


def test_only_the_checked_model_shape_takes_the_lean_path() -> None:
    from mmchat_kb.query_encoder import LeanBertEncoder
    from sentence_transformers import SentenceTransformer

    model = get_embedder()._load()
    assert LeanBertEncoder.fits(model)
    unnormalised = SentenceTransformer(modules=[model[0], model[1]], device="cpu")
    assert not LeanBertEncoder.fits(unnormalised)  # another model's output: not unit length
    pooling = model[1]
    try:
        pooling.pooling_mode = "cls"
        assert not LeanBertEncoder.fits(model)
    finally:
        pooling.pooling_mode = "mean"
    assert LeanBertEncoder.fits(model)
