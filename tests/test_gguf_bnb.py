"""GGUF files read tensor by tensor into bitsandbytes' forms (mmchat.engine.gguf_bnb).

bitsandbytes 0.50 quantizes on the CPU as on a GPU, so the loader's numbers are checked here
against transformers' own bitsandbytes loading of the fp32 conversion: the same state and the
same logits. tests/test_placement.py runs it on CUDA where a GPU is present.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_gguf_int8 import models_now  # the cache's model folders
from transformers import AutoModelForCausalLM

from mmchat.engine import gguf_size
from mmchat.engine.assets import SMOLLM2_GGUF
from mmchat.engine.base import ChatMessage, Delta, EngineError, GenerationRequest
from mmchat.engine.default_decoder import smollm2_dir
from mmchat.engine.gguf import file_key
from mmchat.engine.gguf_bnb import load
from mmchat.engine.hf import HFEngine
from mmchat.engine.quant import bnb_config
from mmchat.engine.registry import resolve

pytest.importorskip("bitsandbytes", reason="the test extra installs bitsandbytes")

IDS = torch.tensor([[1, 9690, 198, 2683, 359, 253, 5356, 5646, 11173, 2, 198]])


def fresh_copy(tmp_path: Path) -> Path:
    """The SmolLM2 GGUF under a new path: a cache key no earlier test has built."""
    copy = tmp_path / "smollm2.gguf"
    copy.write_bytes(SMOLLM2_GGUF.locate().read_bytes())
    return copy


CUDA = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs an NVIDIA GPU with CUDA; this machine has none"
)
DEVICES = [
    pytest.param("cpu", torch.float32, id="cpu"),
    pytest.param("cuda", torch.bfloat16, marks=[pytest.mark.cuda, CUDA], id="cuda"),
]


@pytest.mark.parametrize(("device", "dtype"), DEVICES)
@pytest.mark.parametrize("quant", ["4bit", "8bit"])
def test_layer_by_layer_equals_transformers_loading_the_fp32_conversion(
    quant: str, device: str, dtype: torch.dtype
) -> None:
    config = bnb_config(quant)
    ours, _tokenizer = load(SMOLLM2_GGUF.locate(), config, device, dtype)
    theirs = AutoModelForCausalLM.from_pretrained(
        smollm2_dir(), quantization_config=config, device_map={"": device}, dtype=dtype
    ).eval()
    kinds = {type(m).__name__ for m in ours.modules()}
    assert ("Linear4bit" if quant == "4bit" else "Linear8bitLt") in kinds
    mine, reference = ours.state_dict(), theirs.state_dict()
    assert mine.keys() == reference.keys()
    for name, value in reference.items():
        assert torch.equal(mine[name], value), name
    assert ours.lm_head.weight is ours.model.embed_tokens.weight  # tied, as in the file
    with torch.no_grad():
        assert torch.equal(ours(IDS.to(device)).logits, theirs(IDS.to(device)).logits)


def test_the_engine_loads_a_gguf_in_4bit_without_an_fp32_conversion(tmp_path: Path) -> None:
    gguf = fresh_copy(tmp_path)
    before = models_now()
    engine = HFEngine(resolve(str(gguf)), quant="4bit", threads=2)
    info = engine.load()
    try:
        assert (info.device, info.quant) == ("cpu", "4bit")
        assert "Linear4bit" in {type(m).__name__ for m in engine.model.modules()}
        request = GenerationRequest(
            [ChatMessage("user", "What is the capital of France?")],
            max_new_tokens=12,
            temperature=0,
        )
        assert "Paris" in "".join(e.text for e in engine.stream(request) if isinstance(e, Delta))
    finally:
        engine.close()
    # Only the config and tokenizer were written: no fp32 (gguf-KEY) nor int8 folder.
    assert {p.name for p in models_now() - before} == {f"gguf-meta-{file_key(gguf)}"}


PEAK = """
import json, sys, torch
from pathlib import Path
from mmchat.engine.gguf_bnb import load
from mmchat.engine.quant import bnb_config
import bitsandbytes, transformers.models.qwen2.modeling_qwen2  # counted in the baseline

def status(field):  # this process's own figures (ru_maxrss would carry the parent's over exec)
    line = next(x for x in open("/proc/self/status") if x.startswith(field + ":"))
    return int(line.split()[1]) * 1024

base = status("VmRSS")
load(Path(sys.argv[1]), bnb_config("4bit"), "cpu", torch.bfloat16)
print(json.dumps(status("VmHWM") - base))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux's /proc")
def test_loading_never_holds_the_whole_model_in_fp32() -> None:
    from test_tools_real_model import qwen_gguf  # the test extra installs its six parts

    gguf = qwen_gguf()
    fp32 = gguf_size.read_size(gguf).fp32_bytes  # ~2.0 GB for Qwen2.5-Coder-0.5B
    done = subprocess.run(
        [sys.executable, "-c", PEAK, str(gguf)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    grown = json.loads(done.stdout.strip().splitlines()[-1])
    # What stays: the embedding table and the LM head in bf16 (0.54 GB), the 4-bit layers
    # (0.2 GB) and the file's pages (0.4 GB); the fp32 conversion held more than the fp32
    # model (2.4 GB) before transformers even began quantizing.
    print(f"peak grew {grown / 2**20:.0f} MB; the fp32 model is {fp32 >> 20} MB")
    assert grown < fp32 * 0.75, f"peak grew {grown >> 20} MB; the fp32 model is {fp32 >> 20} MB"


def test_a_model_that_cannot_fit_is_refused_in_one_line_and_nothing_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gguf = fresh_copy(tmp_path)
    monkeypatch.setattr(gguf_size, "available_memory", lambda: 64 << 20)
    before = models_now()
    with pytest.raises(EngineError) as refused:
        load(gguf, bnb_config("4bit"), "cpu", torch.float32)
    message = str(refused.value)
    assert "\n" not in message and "device memory in 4-bit" in message
    assert "0.1 GB is free" in message and "needs about" in message
    assert models_now() == before
