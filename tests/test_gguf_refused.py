"""GGUF files mmchat cannot run: one line naming the file and the reason, nothing left in the
cache. Real GGUF files, written by the `gguf` package (as llama.cpp's converters write them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mmchat.engine.base import EngineError
from mmchat.engine.hf import HFEngine
from mmchat.engine.registry import resolve


def write_gguf(path: Path, architecture: str, with_tokens: bool) -> Path:
    import gguf

    writer = gguf.GGUFWriter(str(path), architecture)
    writer.add_block_count(1)
    writer.add_context_length(64)
    writer.add_embedding_length(8)
    writer.add_feed_forward_length(16)
    writer.add_head_count(2)
    writer.add_head_count_kv(2)
    writer.add_tokenizer_model("gpt2")
    if with_tokens:
        writer.add_token_list([f"t{i}" for i in range(16)])
    writer.add_tensor("token_embd.weight", np.zeros((16, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.mark.parametrize(
    ("architecture", "with_tokens", "reason"),
    [
        ("frobnicator", True, "frobnicator"),  # an architecture transformers does not load
        ("llama", False, "tokens"),  # a tokenizer without its token list
    ],
)
def test_a_gguf_mmchat_cannot_run_is_one_line_and_leaves_no_cache(
    tmp_path: Path, architecture: str, with_tokens: bool, reason: str
) -> None:
    from mmchat.config import cache_dir

    path = write_gguf(tmp_path / f"{architecture}.gguf", architecture, with_tokens)
    models = cache_dir() / "models"
    before = set(models.iterdir()) if models.is_dir() else set()
    engine = HFEngine(resolve(str(path)), quant="none")
    with pytest.raises(EngineError) as info:
        engine.load()
    message = str(info.value)
    assert "\n" not in message and str(path) in message and reason in message
    after = set(models.iterdir()) if models.is_dir() else set()
    assert after == before  # no folder, no temporary left behind
