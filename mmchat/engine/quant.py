"""Quantization choice.

Measured on a 2-core AVX2 CPU with SmolLM2-135M (see bench/decode.py and BENCH_TARGETS):
fp32 14-15 tok/s, torch dynamic int8 31-33 tok/s, bitsandbytes 8-bit/nf4 on CPU 5.5-7 tok/s,
llama.cpp on the Q4_1 GGUF 99-108. So `auto` takes bitsandbytes 4-bit only where CUDA is present,
and dynamic int8 on CPU: never a CPU path slower than fp32. bitsandbytes on CPU stays available
when asked for by name (it saves memory, not time).

On the CPU, int8 text turns run mmchat.engine.fastpath: the prompt read with the fp32 weights,
each new token with int8 ones (int8 over a whole prompt derailed answers; FastLlama says why).
Without the fast path, `auto` keeps fp32 and `int8` quantizes the model in place. The fusion
model's decoder stays fp32 for image turns (int8 cost easy-vqa accuracy: 67% vs 89.6%).

bench/decode.py, one run on a 2-core AVX2 CPU (this run's machine was ~35% slower than the
anchors above), 128 greedy tokens: llama.cpp 64 tok/s; mmchat's engine in-process 31.5 (0.49x),
through ProcessEngine as the app runs it 25.5 (0.40x); transformers + dynamic int8 19.6 (0.31x);
transformers fp32 8.6 (0.13x). Peak RSS of the default model answering a text and an image
question: ~1.3 GB (fp32 decoder 540 MB + encoder 88 MB + int8 copies ~130 MB + runtime); fp32
only ~0.93 GB.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Literal

from mmchat.engine.base import EngineError

if TYPE_CHECKING:
    import torch

Quant = Literal["auto", "none", "int8", "4bit", "8bit"]
QUANT_CHOICES: tuple[str, ...] = ("auto", "none", "int8", "4bit", "8bit")


def resolve_quant(requested: str, device: str) -> str:
    if requested not in QUANT_CHOICES:
        raise EngineError(
            f"unknown quantization {requested!r}: use one of {', '.join(QUANT_CHOICES)}"
        )
    if requested != "auto":
        if requested == "int8" and device != "cpu":
            raise EngineError("int8 (torch dynamic) is a CPU path; on a GPU use 8bit or 4bit")
        return requested
    if device.startswith("cuda") and bitsandbytes_available():
        return "4bit"
    return "int8" if device == "cpu" else "none"


def bitsandbytes_available() -> bool:
    try:
        import bitsandbytes  # noqa: F401  (import only to see whether it works here)
    except Exception:
        return False
    return True


def bnb_config(quant: str) -> Any:
    """The transformers BitsAndBytesConfig for `4bit` / `8bit`, or None."""
    if quant not in ("4bit", "8bit"):
        return None
    if not bitsandbytes_available():
        raise EngineError(
            f"--quant {quant} needs bitsandbytes: pip install 'mmchat[cuda]' (or use --quant auto)"
        )
    import torch
    from transformers import BitsAndBytesConfig

    if quant == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    compute = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    return BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=compute
    )


def quantize_int8_dynamic(model: torch.nn.Module) -> torch.nn.Module:
    """Weights int8, activations quantized per call: the fastest CPU path measured here."""
    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():
        # torch marks torch.ao deprecated in favour of torchao, whose CPU int8 path measured
        # 3-4x slower here; keep the faster one until that changes.
        warnings.simplefilter("ignore")
        # Per-channel scales: per-tensor int8 measurably broke SmolLM2-135M's instruction
        # following (it ignored the system prompt); per-channel keeps it.
        spec = {torch.nn.Linear: per_channel_dynamic_qconfig}
        quantized: torch.nn.Module = quantize_dynamic(model, spec, dtype=torch.qint8, inplace=True)
        return quantized
