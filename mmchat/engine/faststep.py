"""The fast path's one-token step as one TorchScript graph: the same kernels, no Python per op.

After the prompt, each new token runs ~20 tensor ops in each of SmolLM2-135M's 30 layers. In
eager mode every op is a Python call (argument parsing, a Python tensor object per result),
about as much time as the int8 matrix work itself on a 2-core CPU. Scripted, the loop over the
layers runs in TorchScript's interpreter: the ops, their order and their kernels are
FastLlama.forward's own (fbgemm's `linear_dynamic`, `rms_norm`, SDPA), so every logit is the
same bit for bit (tests/test_faststep.py) and greedy answers are token for token the eager
path's. At int8 that matters: fbgemm scales activations per call, and a last-bit difference
anywhere changes the answer within a few tokens (FastLlama's module docstring).

Kept off: the graph executor's optimizations (profiling runs on the first calls, then
specialization). On a CPU they fuse nothing (torch's CPU fuser is off by default), and under
load their first calls took seconds. TorchInductor (torch.compile) was not tried: its generated
elementwise kernels need not round as eager's do, which at int8 would change answers, and it
needs a C++ compiler and compile time at a start.

Scripting needs the sources of this module and TorchScript (deprecated by torch, still
shipped); when either fails, `build` says why in one line and FastLlama decodes in eager mode.
`MMCHAT_FAST_STEP=eager` turns it off (for comparison, or should a torch release break it).
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any, Protocol

import torch
import torch.nn.functional as F

ENV = "MMCHAT_FAST_STEP"


class Source(Protocol):
    """What the step reads of a fastpath.FastLlama (named here, not imported: fastpath
    imports this module)."""

    @property
    def layers(self) -> Sequence[Any]: ...  # each with .steps (int8, .packed) and norms
    @property
    def lm_head(self) -> Any: ...
    @property
    def embed(self) -> torch.Tensor: ...
    @property
    def final_norm(self) -> torch.Tensor: ...
    @property
    def heads(self) -> int: ...
    @property
    def kv_heads(self) -> int: ...
    @property
    def head_dim(self) -> int: ...
    @property
    def hidden(self) -> int: ...
    @property
    def eps(self) -> float: ...


class Step(Protocol):
    """(token, position, cache, cos, sin) -> the next token's logits [vocab]; writes the
    token's keys and values into the cache at `position`."""

    def __call__(
        self,
        token: int,
        position: int,
        cache: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
    ) -> torch.Tensor: ...


class _OneToken(torch.nn.Module):
    """FastLlama.forward for one token after the prompt, op for op (keep the two in step)."""

    def __init__(self, fast: Source) -> None:
        super().__init__()
        # fbgemm's packed int8 weights (TorchScript holds them as LinearPackedParamsBase).
        self.qkv = [_packed(layer.steps[0]) for layer in fast.layers]
        self.o = [_packed(layer.steps[1]) for layer in fast.layers]
        self.gate_up = [_packed(layer.steps[2]) for layer in fast.layers]
        self.down = [_packed(layer.steps[3]) for layer in fast.layers]
        self.attn_norm = [layer.attn_norm for layer in fast.layers]
        self.mlp_norm = [layer.mlp_norm for layer in fast.layers]
        self.head = fast.lm_head.packed
        self.embed = fast.embed
        self.final_norm = fast.final_norm
        self.heads, self.kv_heads = fast.heads, fast.kv_heads
        self.dim, self.hidden = fast.head_dim, fast.hidden
        self.eps = fast.eps
        self.count = len(fast.layers)

    def forward(
        self,
        token: int,
        position: int,
        cache: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
    ) -> torch.Tensor:
        heads, kv_heads, dim = self.heads, self.kv_heads, self.dim
        end = position + 1
        cos, sin = cos[position:end], sin[position:end]  # [1, 1, dim]
        x = self.embed[token : token + 1]  # [1, hidden]
        for i in range(self.count):
            layer_cache = cache[i]
            h = F.rms_norm(x, [self.hidden], self.attn_norm[i], self.eps)
            qkv = torch.ops.quantized.linear_dynamic(h, self.qkv[i], True)
            qk = qkv[:, : (heads + kv_heads) * dim].view(1, heads + kv_heads, dim)
            rotated = qk.roll(dim // 2, dims=-1).mul_(sin)
            qk.mul_(cos).add_(rotated)
            kv = qkv[:, heads * dim :].view(1, 2, kv_heads, dim)
            layer_cache[:, :, position:end].copy_(kv.permute(1, 2, 0, 3))
            q = qk[:, :heads].transpose(0, 1)  # [heads, 1, dim]
            attn = F.scaled_dot_product_attention(
                q[None],
                layer_cache[None, 0, :, :end],
                layer_cache[None, 1, :, :end],
                enable_gqa=True,
            )
            mixed = attn[0].transpose(0, 1).reshape(1, heads * dim)
            x = x + torch.ops.quantized.linear_dynamic(mixed, self.o[i], True)
            h = F.rms_norm(x, [self.hidden], self.mlp_norm[i], self.eps)
            gate, up = torch.ops.quantized.linear_dynamic(h, self.gate_up[i], True).chunk(2, -1)
            x = x + torch.ops.quantized.linear_dynamic(F.silu(gate) * up, self.down[i], True)
        last = F.rms_norm(x, [self.hidden], self.final_norm, self.eps)
        logits: torch.Tensor = torch.ops.quantized.linear_dynamic(last, self.head, True)[0]
        return logits


def _packed(linear: object) -> Any:
    """The packed weights of one of FastLlama's int8 projections."""
    packed = getattr(linear, "packed", None)
    if packed is None:
        raise TypeError(f"{type(linear).__name__} is not an int8 projection")
    return packed


class _Unoptimized:
    """Runs a scripted module with the graph executor's optimizations off (module docstring)."""

    def __init__(self, module: Any) -> None:
        self.module = module

    def __call__(
        self,
        token: int,
        position: int,
        cache: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
    ) -> torch.Tensor:
        with torch.jit.optimized_execution(False):
            result: torch.Tensor = self.module(token, position, cache, cos, sin)
        return result


def build(fast: Source) -> Step | None:
    """The scripted step for `fast`'s weights, or None (eager decoding) with the reason on
    stderr when scripting is turned off or fails."""
    if os.environ.get(ENV, "").strip().lower() == "eager":
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.jit.script's deprecation notice
            module = torch.jit.script(_OneToken(fast))
    except Exception as exc:  # no sources, an unsupported torch, ...: eager still works
        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
        print(
            f"mmchat: decoding without the scripted step ({type(exc).__name__}: {reason})",
            file=sys.stderr,
        )
        return None
    return _Unoptimized(module)
