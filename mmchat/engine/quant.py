"""Quantization choice.

On a CPU, torch's dynamic int8 decodes about twice as fast as fp32 and bitsandbytes is slower
than fp32 (bench/decode.py; docs/PERFORMANCE.md has the figures). So `auto` takes bitsandbytes
4-bit only where CUDA is present, and dynamic int8 on CPU: never a CPU path slower than fp32.
bitsandbytes on CPU stays available when asked for by name (it saves memory, not time).

On the CPU, int8 text turns run mmchat.engine.fastpath: the prompt read with the fp32 weights,
each new token with int8 ones (int8 over a whole prompt derailed answers; FastLlama says why).
Without the fast path, `auto` keeps fp32 and `int8` quantizes the model in place. The fusion
model's decoder stays fp32 for image turns (int8 cost easy-vqa accuracy).
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
        # several times slower (docs/PERFORMANCE.md); keep the faster one until that changes.
        warnings.simplefilter("ignore")
        # Per-channel scales: per-tensor int8 measurably broke SmolLM2-135M's instruction
        # following (it ignored the system prompt); per-channel keeps it.
        spec = {torch.nn.Linear: per_channel_dynamic_qconfig}
        return quantize_dynamic(model, spec, dtype=torch.qint8, inplace=True)
