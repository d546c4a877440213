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
