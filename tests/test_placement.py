"""What the engine reports about where the model runs is what its parameters hold.

The status line shows `ModelInfo.device` and `.quant`; they must be read from the loaded model,
never copied from the request (a default model asked for 4-bit used to show "4bit" while its
weights sat in fp32).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
from PIL import Image, ImageDraw

from mmchat.engine.base import ChatMessage, Delta, GenerationRequest
from mmchat.engine.hf import HFEngine
from mmchat.engine.placement import device_of, weight_form
from mmchat.engine.quant import quantize_int8_dynamic
from mmchat.engine.registry import resolve

CUDA = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs an NVIDIA GPU with CUDA; this machine has none"
)


def small_net() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))


def test_the_weight_form_is_read_from_the_modules() -> None:
    net = small_net()
    assert (device_of(net), weight_form(net)) == ("cpu", "fp32")
    assert weight_form(small_net().to(torch.bfloat16)) == "bf16"
    assert weight_form(small_net().half()) == "fp16"
    assert weight_form(quantize_int8_dynamic(small_net())) == "int8"


# Where CUDA is present models go to the GPU, so the CPU's forms are checked where it is not.
CPU_ONLY = pytest.mark.skipif(
    torch.cuda.is_available(), reason="checks the CPU's forms; CUDA is present here"
)


def first_words(engine: HFEngine) -> str:
    request = GenerationRequest(
        [ChatMessage("user", "What is the capital of France?")], max_new_tokens=12, temperature=0
    )
    return "".join(e.text for e in engine.stream(request) if isinstance(e, Delta))


@CPU_ONLY
def test_bitsandbytes_4bit_on_the_cpu_is_reported_as_such() -> None:
    pytest.importorskip("bitsandbytes", reason="the test extra installs bitsandbytes")
    engine = HFEngine(resolve("smollm2"), quant="4bit", threads=2)
    info = engine.load()
    try:
        kinds = {type(module).__name__ for module in engine.model.modules()}
        assert "Linear4bit" in kinds
        assert (info.device, info.quant) == ("cpu", "4bit")
        assert first_words(engine).strip()  # the 4-bit model answers, it is not a label
    finally:
        engine.close()


@CPU_ONLY
def test_a_request_the_default_cannot_honour_is_not_reported() -> None:
    """The default model's fusion path has no 4-bit form: it loads fp32 and says so."""
    engine = HFEngine(resolve("default"), quant="4bit", threads=2)
    info = engine.load()
    try:
        assert engine.fast is None
        assert (info.device, info.quant) == (device_of(engine.model), weight_form(engine.model))
        assert (info.device, info.quant) == ("cpu", "fp32")
    finally:
        engine.close()


@pytest.mark.cuda
@CUDA
@pytest.mark.parametrize(
    ("model", "quant"),
    [("smollm2", "auto"), ("default", "4bit")],  # a hub model's auto is 4-bit; the default's not
)
def test_on_cuda_4bit_runs_on_the_gpu_and_is_reported_as_such(model: str, quant: str) -> None:
    pytest.importorskip("bitsandbytes", reason="the cuda extra installs bitsandbytes")
    assert_answers_in_4bit_on_the_gpu(model, quant)


def assert_answers_in_4bit_on_the_gpu(model: str, quant: str) -> None:
    engine = HFEngine(resolve(model), quant=quant, threads=2)
    info = engine.load()
    try:
        assert info.device.startswith("cuda") and info.quant == "4bit"
        assert all(p.device.type == "cuda" for p in engine.model.parameters())
        assert "Paris" in first_words(engine)
    finally:
        engine.close()


@pytest.mark.cuda
@CUDA
def test_on_cuda_a_gguf_file_loads_layer_by_layer_in_4bit(tmp_path: Path) -> None:
    """A GGUF file goes to bitsandbytes on the GPU tensor by tensor (gguf_bnb.py), with no
    fp32 conversion written to the cache."""
    pytest.importorskip("bitsandbytes", reason="the cuda extra installs bitsandbytes")
    from mmchat.engine.assets import SMOLLM2_GGUF, converted_dir
    from mmchat.engine.gguf import file_key

    gguf = tmp_path / "smollm2.gguf"
    gguf.write_bytes(SMOLLM2_GGUF.locate().read_bytes())  # a new cache key
    assert_answers_in_4bit_on_the_gpu(str(gguf), "auto")
    assert not converted_dir(f"gguf-{file_key(gguf)}").exists()


def red_circle() -> bytes:
    picture = Image.new("RGB", (224, 224), "white")
    ImageDraw.Draw(picture).ellipse((50, 50, 170, 170), fill=(220, 30, 30))
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    return buffer.getvalue()


def reply(engine: HFEngine, messages: list[ChatMessage]) -> str:
    request = GenerationRequest(messages, max_new_tokens=24, temperature=0)
    return "".join(e.text for e in engine.stream(request) if isinstance(e, Delta))


@pytest.mark.cuda
@CUDA
def test_on_cuda_the_default_runs_on_the_gpu_in_half_precision() -> None:
    engine = HFEngine(resolve("default"), quant="auto", threads=2)
    info = engine.load()
    try:
        assert info.device.startswith("cuda") and info.quant in ("bf16", "fp16")
        assert engine.fast is None  # the CPU's int8 path is not used there
        assert {p.device.type for p in engine.fusion.parameters()} == {"cuda"}
        assert "Paris" in first_words(engine)
        asked = [ChatMessage("user", "What color is the shape?", [red_circle()])]
        assert "red" in reply(engine, asked).lower()
        assert engine.last_plan is not None and engine.last_plan.way == "fusion"
        assert engine.fusion.encoder.device.type == "cuda"  # it loads where the decoder is
        follow_up = [
            *asked,
            ChatMessage("assistant", "red"),
            ChatMessage("user", "What is the capital of France?"),
        ]
        assert "Paris" in reply(engine, follow_up)  # the relevance gate ran on the GPU
    finally:
        engine.close()


@pytest.mark.cuda
@CUDA
def test_on_cuda_int8_keeps_the_default_on_its_cpu_path_and_says_so() -> None:
    engine = HFEngine(resolve("default"), quant="int8", threads=2)
    info = engine.load()
    try:
        assert (info.device, info.quant) == ("cpu", "int8") and engine.fast is not None
    finally:
        engine.close()
