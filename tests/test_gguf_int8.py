"""GGUF files packed to the fast path's int8 form tensor by tensor (mmchat.engine.gguf_int8).

On the real files (SmolLM2-135M Q4_1, a Llama with permuted q/k rows; Qwen2.5-Coder-0.5B
Q4_K_M, a Qwen2 with q/k/v biases): the int8 rows, norms, biases, embedding and rotary
frequencies equal those the fp32 conversion's model gives the fast path, so answers are the
same; the engine runs `--model FILE.gguf` from them without a transformers model.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

from mmchat.engine import gguf_size
from mmchat.engine.assets import SMOLLM2_GGUF, converted_dir
from mmchat.engine.base import ChatMessage, Delta, EngineError, Finished, GenerationRequest
from mmchat.engine.decode import Sampler
from mmchat.engine.default_decoder import smollm2_dir
from mmchat.engine.fastcache import mapped_safetensors
from mmchat.engine.fastpath import FastLlama, LlamaParts, quantize_parts
from mmchat.engine.generate import FastStep, tokens
from mmchat.engine.gguf import converted_gguf_dir
from mmchat.engine.gguf_int8 import FILE, int8_gguf_dir, lean_gguf
from mmchat.engine.hf import HFEngine
from mmchat.engine.registry import resolve


@pytest.fixture(scope="module")
def qwen() -> Path:
    from test_tools_real_model import qwen_gguf  # the test extra installs its six parts

    return qwen_gguf()


def assert_same_as_conversion(int8_folder: Path, fp32_folder: Path) -> LlamaParts:
    """The int8 file holds what fastcache makes of the fp32 conversion's model."""
    model = AutoModelForCausalLM.from_pretrained(fp32_folder, dtype=torch.float32).eval()
    parts = LlamaParts.of(model)
    rows = quantize_parts(parts)
    packed = mapped_safetensors(int8_folder / FILE)
    for name, row in rows.items():
        assert torch.equal(packed[f"{name}.int8"], row.values), name
        assert torch.equal(packed[f"{name}.scale"], row.scales), name
    kept = [k for k in packed if k.startswith("model.")]
    assert "model.embed_tokens.weight" in kept and "model.norm.weight" in kept
    assert not any(k.endswith("_proj.weight") for k in kept)  # no fp32 projections
    for name in kept:
        assert torch.equal(packed[name], parts.tensors[name]), name
    assert torch.equal(packed["rotary.inv_freq"], parts.inv_freq)
    return parts


def greedy(fast: FastLlama, prompt: list[int], count: int) -> list[int]:
    answer = tokens(
        FastStep(fast, count),
        prompt,
        max_new_tokens=count,
        sampler=Sampler(0.0, 1.0, 0),
        eos_ids=set(),
        cancel=threading.Event(),
    )
    return list(answer)


def test_smollm2_gguf_packs_to_the_conversions_int8_rows() -> None:
    folder = int8_gguf_dir(SMOLLM2_GGUF.locate())
    assert folder is not None
    parts = assert_same_as_conversion(folder, smollm2_dir())  # Llama: q/k un-permuted
    prompt = [1, 9690, 198, 2683, 359, 253, 5356, 5646, 11173, 2, 198, 1, 4093, 198]
    assert greedy(lean_gguf(folder), prompt, 32) == greedy(FastLlama(parts), prompt, 32)


def test_engine_runs_a_qwen2_gguf_from_its_int8_pack(qwen: Path) -> None:
    engine = HFEngine(resolve(str(qwen)), quant="auto", threads=2)
    info = engine.load()
    try:
        assert engine.fast is not None and engine._model is None  # no transformers model
        assert info.quant == "int8" and info.device == "cpu" and not info.vision
        assert info.context_window >= 4096  # the config read from the GGUF, not the fallback
        request = GenerationRequest(
            [ChatMessage("user", "What is the capital of France?")],
            max_new_tokens=24,
            temperature=0.0,
        )
        events = list(engine.stream(request))
        assert isinstance(events[-1], Finished) and engine.last_path == "fast-int8"
        text = "".join(e.text for e in events if isinstance(e, Delta))
        assert "Paris" in text
        folder = int8_gguf_dir(qwen)
        assert folder is not None
        parts = assert_same_as_conversion(folder, converted_gguf_dir(qwen))
        prompt = engine.prompt_ids(request.messages)
        assert greedy(engine.fast, prompt, 24) == greedy(FastLlama(parts), prompt, 24)
    finally:
        engine.close()


def models_now() -> set[Path]:
    models = converted_dir("probe").parent
    return set(models.iterdir()) if models.exists() else set()


def test_a_gguf_that_cannot_fit_is_refused_with_int8_figures_and_nothing_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "smollm2.gguf"
    copy.write_bytes(SMOLLM2_GGUF.locate().read_bytes())  # a new key: never built
    size = gguf_size.read_size(copy)
    assert size.int8_memory_needed < size.memory_needed and size.int8_disk < size.fp32_bytes
    monkeypatch.setattr(gguf_size, "available_memory", lambda: size.int8_memory_needed - 1)
    before = models_now()
    with pytest.raises(EngineError) as refused:
        int8_gguf_dir(copy)
    message = str(refused.value)
    assert "\n" not in message and "packed to int8" in message and "GB of memory" in message
    assert models_now() == before


def test_a_truncated_gguf_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    source = SMOLLM2_GGUF.locate().read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(source[: len(source) * 2 // 3])  # the header whole, the weights cut
    before = models_now()
    with pytest.raises(EngineError, match="truncated") as refused:
        int8_gguf_dir(cut)
    assert "\n" not in str(refused.value)
    assert models_now() == before
