"""A lean Llama forward for CPU decode: fused weights, a preallocated KV cache, no HF modules.

At int8 a token of SmolLM2-135M costs less matrix work than the Python and module dispatch the
transformers forward adds over its 30 layers. Here a layer is ~20 tensor ops and no module
calls: q/k/v are one linear, gate/up one linear, RoPE runs in place on the q/k block, and
keys/values go into a cache allocated once per answer.

The prompt is read in fp32 and the answer's tokens in int8 (see FastLlama for why). Each is
transformers' own arithmetic, bit for bit (tests/test_fastpath.py): the same kernels in the same
order (HF's rotate-half RoPE, SDPA with `enable_gqa`, torch.ao's int8 weights and per-call
activation scales). That matters at int8, where the per-tensor activation scales make decoding
chaotic: a last-bit difference in one layer (a complex-multiply RoPE on pair-ordered rows, tried
first) flipped the greedy answer within 1-30 tokens on 4 of 4 prompts.

bench/decode.py measures it against transformers and llama.cpp (docs/PERFORMANCE.md).

Only plain fp32 Llama decoders qualify (`supports`); anything else, or a decoder with forward
hooks (the fusion model's cross-attention inside `attend_to`), uses the transformers path.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

Linear = Callable[[torch.Tensor], torch.Tensor]  # [T, in] -> [T, out]


class Int8Linear:
    """int8 weights with per-row scales, activations quantized per call (fbgemm): the numbers of
    torch.ao's dynamic Linear under quantize_int8_dynamic, without the nn.Module wrapper."""

    def __init__(self, weight: torch.Tensor) -> None:
        w = weight.detach().float()
        # What quantize_int8_dynamic's observer computes (PerChannelMinMaxObserver, qint8,
        # per_channel_symmetric): scale = max |w| / 127.5 per output row, zero point 0. Going
        # through torch.ao's modules instead left several copies of the int8 bytes resident.
        bound = torch.maximum(-w.amin(dim=1).clamp(max=0), w.amax(dim=1).clamp(min=0))
        scale = (bound / 127.5).clamp(min=torch.finfo(torch.float32).eps).double()
        zero_point = torch.zeros(w.shape[0], dtype=torch.int64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's deprecation notice (see quant.py)
            q = torch.quantize_per_channel(w, scale, zero_point, 0, torch.qint8)
        self.packed = torch.ops.quantized.linear_prepack(q, None)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        # reduce_range=True, as torch.ao's dynamic Linear (version 4) calls it.
        result: torch.Tensor = torch.ops.quantized.linear_dynamic(x, self.packed, True)
        return result


class SharedLinear:
    """fp32 projections that use the model's own weight tensors (no copy), side by side."""

    def __init__(self, *weights: torch.Tensor) -> None:
        self.weights = [w.detach() for w in weights]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if len(self.weights) == 1:
            return F.linear(x, self.weights[0])
        return torch.cat([F.linear(x, w) for w in self.weights], dim=-1)


@dataclass
class _Layer:
    attn_norm: torch.Tensor  # [hidden]
    mlp_norm: torch.Tensor  # [hidden]
    # qkv (hidden -> (heads + 2 kv_heads) * head_dim), o, gate_up (hidden -> 2 * intermediate),
    # down: for one generated token at a time, and for the prompt.
    steps: tuple[Linear, Linear, Linear, Linear]
    prompt: tuple[Linear, Linear, Linear, Linear]


def supports(model: Any) -> str | None:
    """None when `model` can run here; otherwise why not, in a few words."""
    config = getattr(model, "config", None)
    if type(model).__name__ != "LlamaForCausalLM" or config is None:
        return f"{type(model).__name__} is not a plain Llama decoder"
    if getattr(config, "attention_bias", False) or getattr(config, "mlp_bias", False):
        return "biased projections"
    if getattr(config, "hidden_act", "silu") != "silu":
        return f"activation {config.hidden_act}"
    rope = getattr(config, "rope_parameters", None) or {}
    if rope.get("rope_type", "default") not in ("default", "llama3", "linear"):
        return f"rope type {rope.get('rope_type')}"  # dynamic scaling changes with length
    for param in model.parameters():
        if param.device.type != "cpu":
            return "not on the CPU"
        if param.dtype != torch.float32:
            return f"{param.dtype} weights"  # half precision, or bitsandbytes
    linears = [model.lm_head]
    for layer in model.model.layers:
        linears += [layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj]
        linears += [layer.self_attn.o_proj, layer.mlp.gate_proj, layer.mlp.up_proj]
        linears.append(layer.mlp.down_proj)
    if any(type(linear) is not torch.nn.Linear for linear in linears):
        return "quantized projections"  # e.g. torch.ao's dynamic int8 Linear
    for module in model.modules():
        if module._forward_hooks or module._forward_pre_hooks:
            return "forward hooks present (cross-attention)"
    return None


class FastLlama:
    """Prefill and single-token steps for a LlamaForCausalLM's weights, on the CPU.

    It packs its own int8 copies of the linear weights for the generated tokens and reads the
    prompt with the model's own fp32 weights (the model stays as it is and must be kept).

    Why the prompt stays fp32: fbgemm's dynamic int8 scales activations per call, so over a
    whole prompt one token with outlier activations (SmolLM2 has them) costs every other token
    its precision, and the damaged key/value cache derails the answer. One token per call, as
    in decoding, is far milder. On 12 chat prompts, greedy tokens agreeing with fp32 before the
    first difference: int8 prompt + int8 decode 0.9 on average ("Name three colors." ->
    "The answer is: 3."), fp32 prompt + int8 decode 7.4, with sensible answers.
    """

    def __init__(self, model: Any) -> None:
        reason = supports(model)
        if reason is not None:
            raise ValueError(f"fast path unavailable: {reason}")
        config = model.config
        self.heads = config.num_attention_heads
        self.kv_heads = config.num_key_value_heads
        self.hidden = config.hidden_size
        self.head_dim = getattr(config, "head_dim", None) or self.hidden // self.heads
        self.eps = float(config.rms_norm_eps)
        self.max_positions = int(config.max_position_embeddings)
        inner = model.model
        self.layers = [self._layer(layer) for layer in inner.layers]
        self.embed = inner.embed_tokens.weight.detach()  # [vocab, hidden], shared
        self.final_norm = inner.norm.weight.detach()
        self.prompt_lm_head = SharedLinear(model.lm_head.weight)
        self.lm_head = Int8Linear(model.lm_head.weight)
        rotary = inner.rotary_emb
        self.inv_freq = rotary.inv_freq.detach().float()  # [head_dim / 2]
        self.rope_scale = float(getattr(rotary, "attention_scaling", 1.0))
        self.cache: torch.Tensor | None = None  # [layers, 2, kv_heads, capacity, head_dim]
        self.cos = self.sin = torch.empty(0)  # [capacity, 1, head_dim]
        self.length = 0

    def _layer(self, layer: Any) -> _Layer:
        attn, mlp = layer.self_attn, layer.mlp
        qkv = (attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight)
        gate_up = (mlp.gate_proj.weight, mlp.up_proj.weight)
        prompt = (
            SharedLinear(*qkv),
            SharedLinear(attn.o_proj.weight),
            SharedLinear(*gate_up),
            SharedLinear(mlp.down_proj.weight),
        )
        steps = (
            Int8Linear(torch.cat(qkv)),
            Int8Linear(attn.o_proj.weight),
            Int8Linear(torch.cat(gate_up)),
            Int8Linear(mlp.down_proj.weight),
        )
        return _Layer(
            attn_norm=layer.input_layernorm.weight.detach().float(),
            mlp_norm=layer.post_attention_layernorm.weight.detach().float(),
            steps=steps,
            prompt=prompt,
        )

    def reset(self, capacity: int) -> None:
        """Forget the cached tokens; make room for `capacity` positions."""
        capacity = min(capacity, self.max_positions)
        if self.cache is None or self.cache.shape[3] < capacity:
            shape = (len(self.layers), 2, self.kv_heads, capacity, self.head_dim)
            self.cache = torch.zeros(shape)
            self.cos, self.sin = self._rotary(capacity)
        self.length = 0

    def _rotary(self, capacity: int) -> tuple[torch.Tensor, torch.Tensor]:
        """cos and signed sin per position, computed as LlamaRotaryEmbedding does."""
        positions = torch.arange(capacity, dtype=torch.float32)
        freqs = positions[:, None] * self.inv_freq  # [capacity, head_dim / 2]
        angles = torch.cat((freqs, freqs), dim=-1)
        cos = angles.cos() * self.rope_scale
        sin = angles.sin() * self.rope_scale
        # rotate_half(x) * sin == roll(x, d/2) * (sin with its first half negated), exactly:
        # negating a factor of a product only flips the result's sign bit.
        half = self.head_dim // 2
        sin[:, :half].neg_()
        return cos[:, None, :], sin[:, None, :]

    @torch.inference_mode()
    def forward(self, ids: list[int]) -> torch.Tensor:
        """Append `ids` to the cached sequence; the last position's logits, [vocab]."""
        if self.cache is None:
            raise RuntimeError("call reset() before forward()")
        count, start = len(ids), self.length
        if start + count > self.cache.shape[3]:
            raise ValueError("the sequence outgrew the KV cache")
        if count > 1 and start > 0:
            raise ValueError("a multi-token forward must start an empty cache")  # causal mask
        heads, kv_heads, dim = self.heads, self.kv_heads, self.head_dim
        end = start + count
        reading_prompt = start == 0  # fp32 (see the class docstring); then the packed weights
        cos, sin = self.cos[start:end], self.sin[start:end]  # [T, 1, dim]
        x = self.embed[torch.tensor(ids)]  # [T, hidden]
        for layer, cache in zip(self.layers, self.cache, strict=True):
            qkv_of, o_of, gate_up_of, down_of = layer.prompt if reading_prompt else layer.steps
            h = F.rms_norm(x, (self.hidden,), layer.attn_norm, self.eps)
            qkv = qkv_of(h)  # [T, (heads + 2 kv_heads) * dim]
            qk = qkv[:, : (heads + kv_heads) * dim].view(count, heads + kv_heads, dim)
            rotated = qk.roll(dim // 2, dims=-1).mul_(sin)  # HF: rotate_half(x) * sin
            qk.mul_(cos).add_(rotated)  # RoPE on q and k, in place: x * cos + that
            kv = qkv[:, heads * dim :].view(count, 2, kv_heads, dim)
            cache[:, :, start:end].copy_(kv.permute(1, 2, 0, 3))
            q = qk[:, :heads].transpose(0, 1)  # [heads, T, dim]
            attn = F.scaled_dot_product_attention(
                q[None],
                cache[None, 0, :, :end],
                cache[None, 1, :, :end],
                is_causal=count > 1,
                enable_gqa=True,
            )  # [1, heads, T, dim]
            x = x + o_of(attn[0].transpose(0, 1).reshape(count, heads * dim))
            h = F.rms_norm(x, (self.hidden,), layer.mlp_norm, self.eps)
            gate, up = gate_up_of(h).chunk(2, dim=-1)
            x = x + down_of(F.silu(gate) * up)
        self.length = end
        last = F.rms_norm(x[-1:], (self.hidden,), self.final_norm, self.eps)
        head = self.prompt_lm_head if reading_prompt else self.lm_head
        return head(last)[0]
