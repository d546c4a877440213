"""A lean Llama forward for CPU decode: fused weights, a preallocated KV cache, no HF modules.

At int8 a token of SmolLM2-135M costs less matrix work than the Python and module dispatch the
transformers forward adds over its 30 layers. Here a layer is ~20 tensor ops and no module
calls: q/k/v are one linear, gate/up one linear, RoPE runs in place on the q/k block, and
keys/values go into a preallocated cache, kept from one answer to the next: a follow-up reads
only the part of its prompt that the last one did not (FastLlama.read_prompt).

The prompt is read in fp32 arithmetic and the answer's tokens in int8 (see FastLlama for why);
only int8 weights are resident (fbgemm's packed form for the answer's tokens, the plain rows
for the prompt): the prompt's fp32 weights are rebuilt from them one projection at a time
(DequantLinear). Each is transformers' own arithmetic, bit for bit
(tests/test_fastpath.py), given those weights: the same kernels in the same order (HF's
rotate-half RoPE, SDPA with `enable_gqa`, torch.ao's int8 weights and per-call activation
scales). That matters at int8, where the per-tensor activation scales make decoding chaotic: a
last-bit difference in one layer (a complex-multiply RoPE on pair-ordered rows, tried first)
flipped the greedy answer within 1-30 tokens on 4 of 4 prompts.

bench/decode.py measures it against transformers and llama.cpp (docs/PERFORMANCE.md).

Only fp32 Llama decoders and their close kin Qwen2 qualify (`supports`): Qwen2 differs by its
q/k/v biases, which ride along in the fused projections (fbgemm's packed bias, as torch.ao's
dynamic Linear does; unpacked with the weights for the prompt's fp32 `F.linear`). Anything else,
or a decoder with forward hooks (the fusion model's cross-attention inside `attend_to`), uses
the transformers path.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from mmchat.engine import faststep

Linear = Callable[[torch.Tensor], torch.Tensor]  # [T, in] -> [T, out]
Projections = tuple[Linear, Linear, Linear, Linear]  # a block's qkv, o, gate_up, down


class Int8Rows:
    """int8 weights with per-row scales: what quantize_int8_dynamic's observer makes of a
    Linear's weight, before fbgemm packs it. Kept apart so a cache can store them."""

    def __init__(self, values: torch.Tensor, scales: torch.Tensor) -> None:
        if values.dtype != torch.int8 or values.dim() != 2:
            raise ValueError(f"int8 rows must be a 2-d int8 tensor, not {values.dtype}")
        if scales.dtype != torch.float64 or scales.shape != (values.shape[0],):
            raise ValueError("one float64 scale per row expected")
        self.values = values
        self.scales = scales

    @classmethod
    def quantize(cls, weight: torch.Tensor) -> Int8Rows:
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
        return cls(q.int_repr(), q.q_per_channel_scales())

    def packed(self, bias: torch.Tensor | None = None) -> Any:
        """fbgemm's packed form, for linear_dynamic (the same bytes quantize_per_channel gives),
        with the fp32 bias torch.ao's dynamic Linear would pack beside it."""
        zero_point = torch.zeros(self.values.shape[0], dtype=torch.int64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's deprecation notice (see quant.py)
            q = torch._make_per_channel_quantized_tensor(self.values, self.scales, zero_point, 0)
        return torch.ops.quantized.linear_prepack(q, bias)


class Int8Linear:
    """int8 weights with per-row scales, activations quantized per call (fbgemm): the numbers of
    torch.ao's dynamic Linear under quantize_int8_dynamic, without the nn.Module wrapper."""

    def __init__(self, rows: Int8Rows | torch.Tensor, bias: torch.Tensor | None = None) -> None:
        if isinstance(rows, torch.Tensor):
            rows = Int8Rows.quantize(rows)
        self.packed = rows.packed(bias)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        # reduce_range=True, as torch.ao's dynamic Linear (version 4) calls it.
        result: torch.Tensor = torch.ops.quantized.linear_dynamic(x, self.packed, True)
        return result


class RowsLinear(torch.nn.Module):
    """One projection whose fp32 weight is rebuilt from int8 rows (int8 * per-row scale) at
    each call, then dropped; activations stay fp32. The prompt's projections are made of them
    (DequantLinear), and the picture turns' decoder takes them in place of its nn.Linear
    (rows_projections), so it never reads its fp32 projection weights (~425 MB of
    SmolLM2-135M's file). The rows, scales and bias are views, not parameters: they are not in
    a state dict."""

    def __init__(self, values: torch.Tensor, scales: torch.Tensor, bias: torch.Tensor | None):
        super().__init__()
        self.values, self.scales, self.bias = values, scales, bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.values.float().mul_(self.scales), self.bias)


class DequantLinear:
    """The prompt's projection: one RowsLinear for each projection a fused int8 projection
    joins (split at `sizes`), as transformers runs q, k and v apart.

    The rows are kept beside fbgemm's packed copy (~106 MB for SmolLM2-135M; file-mapped when
    they come from the cache, so clean pages the system may drop): rebuilding from them costs
    ~0.4 ms a layer, against ~9 ms for unpacking fbgemm's form, which was two thirds of a
    prompt's time. The weights are bit for bit those of fbgemm's unpack and dequantize."""

    def __init__(self, rows: Int8Rows, bias: torch.Tensor | None, sizes: list[int]) -> None:
        # [out, 1]: as torch's dequantize of a per-channel tensor, the float64 scales as fp32
        scales = rows.scales.float()[:, None]
        self.parts: list[RowsLinear] = []
        start = 0
        for size in sizes:
            end = start + size
            part_bias = None if bias is None else bias[start:end]
            self.parts.append(RowsLinear(rows.values[start:end], scales[start:end], part_bias))
            start = end

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if len(self.parts) == 1:
            result: torch.Tensor = self.parts[0](x)
            return result
        return torch.cat([part(x) for part in self.parts], dim=-1)


def rows_projections(fast: FastLlama) -> dict[str, RowsLinear]:
    """Each projection of the decoder FastLlama was made from (`model.layers.3.mlp.up_proj`
    ...) as the RowsLinear the prompt's projections use for it."""
    found: dict[str, RowsLinear] = {}
    for index, layer in enumerate(fast.layers):
        for kind, linear in zip(("qkv", "o", "gate_up", "down"), layer.prompt, strict=True):
            names = _fused_names(f"layers.{index}.{kind}")
            found.update(zip(names, linear.parts, strict=True))
    return found


class RowScaledLinear:
    """A projection over several tokens in int8, each token quantized against its own range:
    what FastLlama.states reads (the relevance gate's states, ~5x faster than DequantLinear).

    fbgemm scales activations per call: over a whole prompt, one token with outlier activations
    (SmolLM2 has them) would cost every other token its precision and derail the answer. So each
    row is divided by its largest magnitude first and multiplied back after: a linear map
    commutes with a per-row factor, and every row then spans the same range, so one call scales
    each token as finely as a generated token's own call does. fbgemm adds the bias inside the
    call, so it is taken out before the factor goes back on and added after. Not for prompts:
    an answer read from a knowledge-base passage changed ("seven years" -> "one year")."""

    def __init__(self, step: Int8Linear, bias: torch.Tensor | None) -> None:
        self.packed = step.packed
        self.bias = bias

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        scale = x.abs().amax(dim=-1, keepdim=True).clamp(min=torch.finfo(torch.float32).tiny)
        y: torch.Tensor = torch.ops.quantized.linear_dynamic(x / scale, self.packed, True)
        if self.bias is None:
            return y.mul_(scale)
        return y.sub_(self.bias).mul_(scale).add_(self.bias)


@dataclass
class _Layer:
    attn_norm: torch.Tensor  # [hidden]
    mlp_norm: torch.Tensor  # [hidden]
    # qkv (hidden -> (heads + 2 kv_heads) * head_dim), o, gate_up (hidden -> 2 * intermediate),
    # down: for one generated token at a time, for the prompt, and for `states`.
    steps: Projections
    prompt: tuple[DequantLinear, DequantLinear, DequantLinear, DequantLinear]
    scan: Projections


def supports(model: Any) -> str | None:
    """None when `model` can run here; otherwise why not, in a few words."""
    config = getattr(model, "config", None)
    if type(model).__name__ not in ARCHITECTURES or config is None:
        return f"{type(model).__name__} is not a plain Llama or Qwen2 decoder"
    if any(kind != "full_attention" for kind in getattr(config, "layer_types", None) or []):
        return "sliding-window attention"  # Qwen2 with use_sliding_window
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
    if model.lm_head.bias is not None:
        return "a biased LM head"
    for layer in model.model.layers:
        attn, mlp = layer.self_attn, layer.mlp
        for group in ((attn.q_proj, attn.k_proj, attn.v_proj), (mlp.gate_proj, mlp.up_proj)):
            if len({linear.bias is None for linear in group}) > 1:
                return "biases on some fused projections only"
    for module in model.modules():
        if module._forward_hooks or module._forward_pre_hooks:
            return "forward hooks present (cross-attention)"
    return None


# transformers' classes that run here: Qwen2 is Llama with q/k/v biases (and other defaults).
ARCHITECTURES = ("LlamaForCausalLM", "Qwen2ForCausalLM")
PROMPT_CACHE_ENV = "MMCHAT_PROMPT_CACHE"  # "off": every prompt read whole (read_prompt)
# Tokens per read_aside() call: ~24 ms to rebuild the fp32 weights plus ~1.6 ms a token on this
# 2-core CPU, so a message that arrives meanwhile waits ~0.2 s at most.
ASIDE_CHUNK = 128


def _shared(cached: list[int], prompt: list[int]) -> int:
    """How many tokens `prompt` starts with that `cached` starts with too."""
    count, limit = 0, min(len(cached), len(prompt))
    while count < limit and cached[count] == prompt[count]:
        count += 1
    return count


@dataclass
class _Sequence:
    """A cached token sequence with its keys and values (FastLlama's aside sequence)."""

    cache: torch.Tensor  # [layers, 2, kv_heads, capacity, head_dim]
    cos: torch.Tensor
    sin: torch.Tensor
    ids: list[int] = field(default_factory=list)
    logits: tuple[int, torch.Tensor] | None = None


@dataclass
class LlamaParts:
    """What FastLlama reads of a Llama decoder: its sizes, its fp32 weights under
    transformers' state-dict names, and the rotary frequencies transformers computed."""

    heads: int
    kv_heads: int
    hidden: int
    head_dim: int
    eps: float
    max_positions: int
    layers: int
    intermediate: int  # the MLP's width
    tensors: Mapping[str, torch.Tensor]  # "model.layers.0.self_attn.q_proj.weight", ...
    inv_freq: torch.Tensor  # [head_dim / 2]
    rope_scale: float

    @classmethod
    def of(cls, model: Any) -> LlamaParts:
        reason = supports(model)
        if reason is not None:
            raise ValueError(f"fast path unavailable: {reason}")
        config, inner = model.config, model.model
        heads, hidden = config.num_attention_heads, config.hidden_size
        tensors = {
            name: value.detach() for name, value in inner.state_dict(prefix="model.").items()
        }
        tensors["lm_head.weight"] = model.lm_head.weight.detach()  # tied: the embeddings
        rotary = inner.rotary_emb
        return cls(
            heads=heads,
            kv_heads=config.num_key_value_heads,
            hidden=hidden,
            head_dim=getattr(config, "head_dim", None) or hidden // heads,
            eps=float(config.rms_norm_eps),
            max_positions=int(config.max_position_embeddings),
            layers=len(inner.layers),
            intermediate=int(config.intermediate_size),
            tensors=tensors,
            inv_freq=rotary.inv_freq.detach().float(),
            rope_scale=float(getattr(rotary, "attention_scaling", 1.0)),
        )

    @classmethod
    def from_config(
        cls,
        config: Mapping[str, Any],
        tensors: Mapping[str, torch.Tensor],
        inv_freq: torch.Tensor,
        rope_scale: float,
    ) -> LlamaParts:
        """From a config.json's fields, for loaders that read weights without transformers."""
        heads, hidden = int(config["num_attention_heads"]), int(config["hidden_size"])
        return cls(
            heads=heads,
            kv_heads=int(config.get("num_key_value_heads") or heads),
            hidden=hidden,
            head_dim=int(config.get("head_dim") or hidden // heads),
            eps=float(config["rms_norm_eps"]),
            max_positions=int(config["max_position_embeddings"]),
            layers=int(config["num_hidden_layers"]),
            intermediate=int(config["intermediate_size"]),
            tensors=tensors,
            inv_freq=inv_freq,
            rope_scale=rope_scale,
        )

    def weight(self, name: str) -> torch.Tensor:
        try:
            return self.tensors[name]
        except KeyError:
            raise ValueError(f"the decoder's weights have no {name}") from None


def int8_names(layers: int) -> list[str]:
    """The int8 projections FastLlama packs, in order: per layer qkv, o, gate_up, down; the
    LM head last."""
    per_layer = ("qkv", "o", "gate_up", "down")
    return [f"layers.{i}.{kind}" for i in range(layers) for kind in per_layer] + ["lm_head"]


# The model's projections each int8 projection fuses (concatenated along the output rows).
_FUSED = {
    "qkv": ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"),
    "o": ("self_attn.o_proj",),
    "gate_up": ("mlp.gate_proj", "mlp.up_proj"),
    "down": ("mlp.down_proj",),
}


def _fused_names(name: str) -> list[str]:
    """`layers.3.qkv` -> the state-dict prefixes of its projections; `lm_head` -> lm_head."""
    if name == "lm_head":
        return ["lm_head"]
    _, index, kind = name.split(".")
    return [f"model.layers.{index}.{n}" for n in _FUSED[kind]]


def _shapes(parts: LlamaParts, name: str) -> list[tuple[int, int]]:
    """The [out, in] shapes of the projections an int8 projection fuses, from the sizes alone
    (a cache's parts need not hold the fp32 weights)."""
    heads, kv, dim = parts.heads * parts.head_dim, parts.kv_heads * parts.head_dim, parts.hidden
    kind = name.rsplit(".", 1)[-1]
    if kind == "lm_head":
        return [(parts.weight("model.embed_tokens.weight").shape[0], dim)]
    return {
        "qkv": [(heads, dim), (kv, dim), (kv, dim)],
        "o": [(dim, heads)],
        "gate_up": [(parts.intermediate, dim)] * 2,
        "down": [(dim, parts.intermediate)],
    }[kind]


def _fp32_sources(parts: LlamaParts, name: str) -> list[torch.Tensor]:
    """The fp32 weights an int8 projection is made of (several are concatenated)."""
    return [parts.weight(f"{n}.weight") for n in _fused_names(name)]


def _biases(parts: LlamaParts, name: str) -> list[torch.Tensor] | None:
    """The fp32 biases of an int8 projection's parts (Qwen2's q/k/v), or None when unbiased."""
    found = [parts.tensors.get(f"{n}.bias") for n in _fused_names(name)]
    if all(b is None for b in found):
        return None
    if any(b is None for b in found):
        raise ValueError(f"biases on some of {name}'s projections only")
    return [b for b in found if b is not None]


def quantize_parts(parts: LlamaParts) -> dict[str, Int8Rows]:
    """Every int8 projection of `parts`, quantized (the slow part of building a FastLlama)."""
    rows = {}
    for name in int8_names(parts.layers):
        sources = _fp32_sources(parts, name)
        rows[name] = Int8Rows.quantize(sources[0] if len(sources) == 1 else torch.cat(sources))
    return rows


def _joined(biases: list[torch.Tensor] | None) -> torch.Tensor | None:
    return None if biases is None else torch.cat(biases).float().contiguous()


class FastLlama:
    """Prefill and single-token steps for a LlamaForCausalLM's weights, on the CPU.

    It packs its own int8 copies of the linear weights and reads nothing else of the decoder's
    weights but its norms and embedding rows (file-mapped `parts` are not paged in beyond them).
    `int8` gives those int8 weights already quantized (a cache: mmchat.engine.fastcache); their
    shapes are checked, a mismatch is a ValueError.

    Why the prompt runs in fp32: fbgemm's dynamic int8 scales activations per call, so over a
    whole prompt one token with outlier activations (SmolLM2 has them) costs every other token
    its precision, and the damaged key/value cache derails the answer. One token per call, as
    in decoding, is far milder. On 12 chat prompts, greedy tokens agreeing with fp32 before the
    first difference: int8 prompt + int8 decode 0.9 on average ("Name three colors." ->
    "The answer is: 3."), fp32 prompt + int8 decode 7.4, with sensible answers. The prompt's
    fp32 weights are the int8 ones dequantized, one projection at a time (DequantLinear): the
    weights' rounding is per row and mild; it is the activations' that derailed.
    """

    def __init__(self, model: Any, int8: Mapping[str, Int8Rows] | None = None) -> None:
        parts = model if isinstance(model, LlamaParts) else LlamaParts.of(model)
        rows = quantize_parts(parts) if int8 is None else int8
        for name in int8_names(parts.layers):
            expected = _shapes(parts, name)
            shape = (sum(out for out, _ in expected), expected[0][1])
            found = rows.get(name)
            if found is None or tuple(found.values.shape) != shape:
                raise ValueError(f"int8 weights for {name} missing or of the wrong shape")
        self.parts = parts  # kept for the shapes and for a deferred decoder (hf.py)
        self.heads, self.kv_heads = parts.heads, parts.kv_heads
        self.hidden, self.head_dim = parts.hidden, parts.head_dim
        self.eps = parts.eps
        self.max_positions = parts.max_positions
        self.layers = [self._layer(parts, i, rows) for i in range(parts.layers)]
        # [vocab, hidden], shared: a lookup reads (and, mapped from a file, pages in) its rows
        self.embed = parts.weight("model.embed_tokens.weight")
        self.final_norm = parts.weight("model.norm.weight").float()
        # int8 for the prompt's last position too: one row, as each generated token's.
        self.lm_head = Int8Linear(rows["lm_head"])
        self.inv_freq = parts.inv_freq  # [head_dim / 2]
        self.rope_scale = parts.rope_scale
        self.cache: torch.Tensor | None = None  # [layers, 2, kv_heads, capacity, head_dim]
        self.cos = self.sin = torch.empty(0)  # [capacity, 1, head_dim]
        self.ids: list[int] = []  # the tokens whose keys and values fill cache[..., :length, :]
        # (positions, logits) of the last prompt read, while the cache still holds that prompt
        self._prompt_logits: tuple[int, torch.Tensor] | None = None
        # A second sequence kept beside this one (read_aside): a chat's form without a
        # picture's note, read while the person types, for a next turn that leaves it out.
        self._aside: _Sequence | None = None
        self.reuse_prompts = os.environ.get(PROMPT_CACHE_ENV, "on") != "off"
        # Each generated token as one TorchScript call (faststep.py); None: eager, below.
        self.step: faststep.Step | None = faststep.build(self)

    def _layer(self, parts: LlamaParts, index: int, rows: Mapping[str, Int8Rows]) -> _Layer:
        name = f"layers.{index}."
        prefix = f"model.{name}"
        kinds = ("qkv", "o", "gate_up", "down")
        biases = {k: _biases(parts, name + k) for k in kinds}
        joined = [_joined(biases[k]) for k in kinds]
        steps = [Int8Linear(rows[name + k], bias) for k, bias in zip(kinds, joined, strict=True)]
        sizes = [[out for out, _ in _shapes(parts, name + k)] for k in kinds]
        qkv, o, gate_up, down = (
            DequantLinear(rows[name + k], bias, n)
            for k, bias, n in zip(kinds, joined, sizes, strict=True)
        )
        scan = [RowScaledLinear(s, b) for s, b in zip(steps, joined, strict=True)]
        return _Layer(
            attn_norm=parts.weight(prefix + "input_layernorm.weight").float(),
            mlp_norm=parts.weight(prefix + "post_attention_layernorm.weight").float(),
            steps=(steps[0], steps[1], steps[2], steps[3]),
            prompt=(qkv, o, gate_up, down),
            scan=(scan[0], scan[1], scan[2], scan[3]),
        )

    def reset(self, capacity: int) -> None:
        """Forget the cached tokens, the aside sequence's too; make room for `capacity`."""
        self.ids, self._prompt_logits, self._aside = [], None, None
        self._make_room(capacity)

    @property
    def length(self) -> int:
        """How many positions of the cache hold keys and values: one per token of `ids`."""
        return len(self.ids)

    def shared(self, prompt: list[int]) -> int:
        """How many of the prompt's first tokens the cache holds."""
        return _shared(self.ids, prompt)

    def held(self, prompt: list[int]) -> int:
        """How many of the prompt's first tokens the cache or the aside sequence holds."""
        aside = _shared(self._aside.ids, prompt) if self._aside is not None else 0
        return max(self.shared(prompt), aside)

    def read_aside(
        self, ids: list[int], stop: Callable[[], bool] = lambda: False, chunk: int = ASIDE_CHUNK
    ) -> int:
        """Read `ids` into a second sequence kept beside the cache's, which read_prompt takes
        instead when a prompt shares more with it; the one in use is left as it is.

        For the engine's idle time after a turn whose prompt held words the next turns may
        not (a picture's note): one that leaves them out then reads only its new message.
        Read `chunk` tokens at a time, checking `stop` between them, so a request that
        arrives meanwhile waits for one chunk at most; what was read by then is kept. The
        start it shares with the sequence in use is copied, not read. Returns tokens read."""
        if not self.reuse_prompts or self.cache is None or not ids:
            return 0
        self._swap()  # work on the aside sequence; the one in use waits in its place
        in_use = self._aside
        assert in_use is not None
        if (kept := _shared(in_use.ids, ids)) > self.shared(ids):
            self.cache, self.cos, self.sin = (
                in_use.cache[..., :kept, :].clone(),
                in_use.cos,
                in_use.sin,
            )
            self.ids, self._prompt_logits = ids[:kept], None
        rest = self.resume(ids, len(ids)) if self.shared(ids) < len(ids) else []
        read = 0
        while rest and not stop():
            part, rest = rest[:chunk], rest[chunk:]
            self.forward(part, prompt=True)
            read += len(part)
        self._swap()  # back to the sequence in use
        return read

    def _swap(self) -> None:
        """Exchange the cache's sequence with the aside one (an empty one if none)."""
        assert self.cache is not None
        kept = self.cache  # set aside without the room left for its answer, unused there
        if kept.shape[3] > self.length:
            kept = kept[..., : self.length, :].clone()
        current = _Sequence(kept, self.cos, self.sin, self.ids, self._prompt_logits)
        empty = torch.zeros(0, 0, 0, 0, 0)
        other = self._aside or _Sequence(empty, torch.empty(0), torch.empty(0))
        self.cache, self.cos, self.sin = other.cache, other.cos, other.sin
        self.ids, self._prompt_logits = other.ids, other.logits
        self._aside = current

    def read_prompt(self, prompt: list[int], capacity: int) -> torch.Tensor:
        """Read a prompt, with room for `capacity` positions; its last position's logits.

        A chat's next prompt is the last one, its answer and a new message, so only what the
        cache does not hold yet is read (llama.cpp's prompt cache does the same): each new
        token sees the kept ones through forward()'s mask. The kept answer tokens' keys and
        values are the int8 steps' that wrote them, as the answer itself read them. The same
        prompt again (a regenerated answer) reads nothing: the logits its last read ended with
        are kept too, so it starts from the same numbers. MMCHAT_PROMPT_CACHE=off reads every
        prompt whole."""
        if (
            self.reuse_prompts
            and self._aside is not None
            and _shared(self._aside.ids, prompt) > self.shared(prompt)
        ):
            self._swap()  # the sequence read aside fits this prompt better
        if (
            self.reuse_prompts
            and self._prompt_logits is not None
            and self._prompt_logits[0] == len(prompt)
            and self.ids[: len(prompt)] == prompt
        ):
            del self.ids[len(prompt) :]  # the answer read after it
            self._make_room(capacity)
            return self._prompt_logits[1].clone()  # a sampler may change its logits in place
        logits = self.forward(self.resume(prompt, capacity), prompt=True)
        self._prompt_logits = (len(prompt), logits.clone())
        return logits

    def resume(self, prompt: list[int], capacity: int) -> list[int]:
        """Keep the cached tokens this prompt starts with, make room for `capacity` positions,
        and return the rest of the prompt, to be given to forward(): at least its last token,
        whose logits the answer starts from."""
        kept = 0
        if self.reuse_prompts:
            kept = min(self.shared(prompt), len(prompt) - 1)
        del self.ids[kept:]
        if self._prompt_logits is not None and kept < self._prompt_logits[0]:
            self._prompt_logits = None  # positions that read ended on are about to be rewritten
        self._make_room(capacity)
        return prompt[kept:]

    def _make_room(self, capacity: int) -> None:
        """At least `capacity` positions (up to the model's), the kept ones copied over."""
        capacity = min(capacity, self.max_positions)
        if self.cache is None or self.cache.shape[3] < capacity:
            shape = (len(self.layers), 2, self.kv_heads, capacity, self.head_dim)
            grown = torch.zeros(shape)
            if self.cache is not None and self.length:
                grown[..., : self.length, :] = self.cache[..., : self.length, :]
            self.cache = grown
            self.cos, self.sin = self._rotary(capacity)

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
    def forward(self, ids: list[int], *, prompt: bool | None = None) -> torch.Tensor:
        """Append `ids` to the cached sequence; the last position's logits, [vocab]. `prompt`:
        whether they are read as a prompt (fp32) or as generated tokens (int8); by default
        several tokens, or any at the start, are a prompt."""
        if self.cache is None:
            raise RuntimeError("call reset() before forward()")
        count, start = len(ids), self.length
        if start + count > self.cache.shape[3]:
            raise ValueError("the sequence outgrew the KV cache")
        end = start + count
        # Prompts (a whole one, or the new part of one) in fp32 arithmetic (see the class
        # docstring), generated tokens in int8.
        reading_prompt = (start == 0 or count > 1) if prompt is None else prompt
        if not reading_prompt and self.step is not None:
            try:
                logits = self.step(ids[0], start, self.cache, self.cos, self.sin)
            except RuntimeError as exc:  # eager rewrites this position's keys and values
                print(
                    f"mmchat: the scripted step failed, decoding eagerly ({exc})"[:200],
                    file=sys.stderr,
                )
                self.step = None
            else:
                self.ids.extend(ids)
                return logits
        rope = self.cos[start:end], self.sin[start:end]  # [T, 1, dim] each, for every block
        x = self.embed[torch.tensor(ids)].float()  # [T, hidden]
        for layer, cache in zip(self.layers, self.cache, strict=True):
            linears = layer.prompt if reading_prompt else layer.steps
            x = self._block(x, layer, linears, cache, start, rope)
        self.ids.extend(ids)
        last = F.rms_norm(x[-1:], (self.hidden,), self.final_norm, self.eps)
        return self.lm_head(last)[0]

    @torch.inference_mode()
    def states(self, ids: list[int], blocks: int) -> torch.Tensor:
        """The hidden states after the first `blocks` blocks, [T, hidden] (transformers'
        hidden_states[blocks]) in int8, each token scaled to its own range (RowScaledLinear);
        the answer's cache is left as it was."""
        count = len(ids)
        if not 0 < count <= self.max_positions or not 0 <= blocks <= len(self.layers):
            raise ValueError("states of 1 to max_positions tokens, after 0 to all blocks")
        if self.cos.shape[0] < count:
            self.cos, self.sin = self._rotary(count)
        scratch = torch.zeros(2, self.kv_heads, count, self.head_dim)
        rope = self.cos[:count], self.sin[:count]
        x = self.embed[torch.tensor(ids)].float()
        for layer in self.layers[:blocks]:
            x = self._block(x, layer, layer.scan, scratch, 0, rope)
        return x

    def _block(
        self,
        x: torch.Tensor,
        layer: _Layer,
        linears: Projections,
        cache: torch.Tensor,
        start: int,
        rope: tuple[torch.Tensor, torch.Tensor],
    ) -> torch.Tensor:
        """One decoder block over x, [T, hidden], at positions start.. (keys and values into
        `cache`, [2, kv_heads, capacity, dim]; `rope`: those positions' cos and signed sin)."""
        heads, kv_heads, dim = self.heads, self.kv_heads, self.head_dim
        count = x.shape[0]
        end = start + count
        cos, sin = rope
        qkv_of, o_of, gate_up_of, down_of = linears
        h = F.rms_norm(x, (self.hidden,), layer.attn_norm, self.eps)
        qkv = qkv_of(h)  # [T, (heads + 2 kv_heads) * dim]
        qk = qkv[:, : (heads + kv_heads) * dim].view(count, heads + kv_heads, dim)
        rotated = qk.roll(dim // 2, dims=-1).mul_(sin)  # HF: rotate_half(x) * sin
        qk.mul_(cos).add_(rotated)  # RoPE on q and k, in place: x * cos + that
        kv = qkv[:, heads * dim :].view(count, 2, kv_heads, dim)
        cache[:, :, start:end].copy_(kv.permute(1, 2, 0, 3))
        q = qk[:, :heads].transpose(0, 1)  # [heads, T, dim]
        # Causal: token i sees positions up to start + i. SDPA's is_causal aligns the mask to
        # the top left, right only when the cache held nothing before these tokens.
        mask = None
        if count > 1 and start > 0:
            mask = torch.ones(count, end, dtype=torch.bool).tril(diagonal=start)
        attn = F.scaled_dot_product_attention(
            q[None],
            cache[None, 0, :, :end],
            cache[None, 1, :, :end],
            attn_mask=mask,
            is_causal=count > 1 and start == 0,
            enable_gqa=True,
        )  # [1, heads, T, dim]
        x = x + o_of(attn[0].transpose(0, 1).reshape(count, heads * dim))
        h = F.rms_norm(x, (self.hidden,), layer.mlp_norm, self.eps)
        gate, up = gate_up_of(h).chunk(2, dim=-1)
        return x + down_of(F.silu(gate) * up)
