"""GGUF files straight to the fast path's int8 form, one tensor at a time.

The fp32 conversion (gguf.py) dequantizes the whole model and saves it: a 4 GB Q4 file of a 7B
model becomes ~28 GB, on disk and in memory. For the decoders the fast path runs (Llama and
Qwen2), this reads the file mapped (gguf-py's reader), dequantizes one tensor, quantizes it to
the int8 rows FastLlama packs and writes them at their place in a preallocated safetensors
file, so memory holds one fp32 tensor at a time. The embedding table stays fp32 in that file:
a token's lookup maps in its row only. Norms and biases are small and stay fp32 too.

The numbers are those of the fp32 conversion's model going through fastcache's quantization:
the same dequantization (gguf-py's), the same un-permuting of Llama's q/k rows (transformers'
LlamaTensorProcessor), the same per-row int8 rounding (fastpath.Int8Rows).

The folder (config, tokenizer, int8.safetensors) is published whole by assets.convert_once, so
a failed or interrupted build leaves nothing a later start would trust.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mmchat.engine.assets import convert_once
from mmchat.engine.base import EngineError, Progress, ProgressCallback
from mmchat.engine.fastcache import mapped_safetensors
from mmchat.engine.fastpath import FastLlama, Int8Rows, LlamaParts, int8_names
from mmchat.engine.gguf_size import GGUFTable, TensorEntry

FORMAT = 1
FILE = "int8.safetensors"
ARCHITECTURES = ("llama", "qwen2")  # GGUF's names for the decoders fastpath.supports runs

# GGUF's per-block tensor names -> transformers' (gguf-py's tensor map, for these two).
_BLOCK = {
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}
_TOP = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
}
_FUSED = {
    "qkv": ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"),
    "o": ("self_attn.o_proj",),
    "gate_up": ("mlp.gate_proj", "mlp.up_proj"),
    "down": ("mlp.down_proj",),
}


def hf_name(gguf_name: str) -> str | None:
    """transformers' name for a GGUF tensor of a Llama/Qwen2 decoder; None for others (Llama
    3's rope_freqs: the config's rope scaling says the same)."""
    if gguf_name in _TOP:
        return _TOP[gguf_name]
    parts = gguf_name.split(".")
    if len(parts) == 4 and parts[0] == "blk" and parts[2] in _BLOCK:
        return f"model.layers.{parts[1]}.{_BLOCK[parts[2]]}.{parts[3]}"
    return None


def _unpermute(weights: np.ndarray, heads: int) -> np.ndarray:
    """llama.cpp's converter interleaves Llama's q/k rows for its RoPE; transformers' order
    back (the same reshape as its LlamaTensorProcessor)."""
    dim = weights.shape[0] // heads // 2
    w = weights.reshape(heads, dim, 2, *weights.shape[1:])
    return w.swapaxes(2, 1).reshape(weights.shape)


class Tensors:
    """A GGUF file's tensors under transformers' names, dequantized a few rows at a time from
    the file's mapping (gguf_size reads the table: gguf-py's GGUFReader first turns every
    metadata field into numpy, a minute for a 0.5B model's file)."""

    def __init__(self, path: Path, table: GGUFTable, architecture: str, config: Any) -> None:
        self.mapped = np.memmap(path, dtype=np.uint8, mode="r")
        self.start = table.data_start
        self.by_name: dict[str, TensorEntry] = {}
        for entry in table.tensors:
            name = hf_name(entry.name)
            if name is not None:
                self.by_name[name] = entry
        self.architecture = architecture
        self.heads = int(config.num_attention_heads)
        self.kv_heads = int(config.num_key_value_heads or self.heads)

    def __contains__(self, name: str) -> bool:
        return name in self.by_name

    def _entry(self, name: str) -> TensorEntry:
        entry = self.by_name.get(name)
        if entry is None:
            raise EngineError(f"the GGUF file has no tensor for {name}")
        return entry

    def rows(self, name: str) -> int:
        return math.prod(self._entry(name).dims[1:])

    def permuted(self, name: str) -> bool:
        """Llama's q/k rows, interleaved per head by llama.cpp's converter: read whole."""
        return self.architecture == "llama" and (".q_proj." in name or ".k_proj." in name)

    def fp32(self, name: str, begin: int = 0, end: int | None = None) -> torch.Tensor:
        """Rows [begin, end) of the tensor (all of a 1-d one), in fp32 as gguf-py
        dequantizes them; Llama's q/k un-permuted (whole tensors only)."""
        from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, dequantize

        entry = self._entry(name)
        try:
            kind = GGMLQuantizationType(entry.kind)
            block, block_bytes = GGML_QUANT_SIZES[kind]
        except (ValueError, KeyError):
            message = f"{name} is of ggml type {entry.kind}, which mmchat cannot read"
            raise EngineError(message) from None
        width, rows = entry.dims[0], math.prod(entry.dims[1:])
        row_bytes = width // block * block_bytes
        first = self.start + entry.offset
        if first + rows * row_bytes > len(self.mapped):
            raise EngineError(f"the GGUF file is truncated: {name} ends past its end")
        end = rows if end is None else min(end, rows)
        data = self.mapped[first + begin * row_bytes : first + end * row_bytes]
        weights = dequantize(data.reshape(end - begin, row_bytes), kind)
        if len(entry.dims) == 1:
            weights = weights.reshape(width)
        if self.permuted(name):
            heads = self.heads if ".q_proj." in name else self.kv_heads
            weights = _unpermute(weights, heads)
        return torch.from_numpy(np.array(weights, dtype=np.float32))  # a writable copy


class _Plan:
    """A safetensors file laid out before any tensor is known: names, dtypes and shapes first
    (8-byte items first, so every tensor stays aligned), then rows of each written at their
    place in the preallocated file, in any order."""

    _CODES = {torch.float64: "F64", torch.float32: "F32", torch.int8: "I8"}

    def __init__(
        self, entries: dict[str, tuple[torch.dtype, tuple[int, ...]]], meta: dict[str, str]
    ) -> None:
        ordered = sorted(entries.items(), key=lambda kv: -_itemsize(kv[1][0]))
        header: dict[str, Any] = {"__metadata__": meta}
        offset = 0
        for name, (dtype, shape) in ordered:
            size = _itemsize(dtype) * math.prod(shape)
            header[name] = {
                "dtype": self._CODES[dtype],
                "shape": list(shape),
                "data_offsets": [offset, offset + size],
            }
            offset += size
        raw = json.dumps(header, separators=(",", ":")).encode()
        raw += b" " * (-len(raw) % 8)
        self.header, self.raw, self.data_size = header, raw, offset
        self.rows_written = {name: 0 for name in entries}
        self.path = Path()

    def start(self, path: Path) -> None:
        with path.open("wb") as handle:
            handle.write(len(self.raw).to_bytes(8, "little"))
            handle.write(self.raw)
            handle.truncate(8 + len(self.raw) + self.data_size)
        self.path = path

    def write(self, name: str, tensor: torch.Tensor, row: int = 0) -> None:
        """`tensor` as rows (items, for a 1-d one) `row`.. of `name`."""
        entry = self.header[name]
        shape = entry["shape"]
        count = tensor.shape[0] if tensor.dim() else 0
        fits = list(tensor.shape[1:]) == shape[1:] and row + count <= shape[0]
        if not fits or self._CODES[tensor.dtype] != entry["dtype"] or tensor.dim() != len(shape):
            raise EngineError(f"{name}: {tuple(tensor.shape)} does not fit the model's config")
        row_bytes = tensor.element_size() * math.prod(shape[1:])
        with self.path.open("r+b") as handle:
            handle.seek(8 + len(self.raw) + entry["data_offsets"][0] + row * row_bytes)
            handle.write(tensor.contiguous().numpy().tobytes())
        self.rows_written[name] += count

    def check_complete(self) -> None:
        for name, count in self.rows_written.items():
            if count != self.header[name]["shape"][0]:
                raise EngineError(f"the GGUF file has no complete tensor for {name}")


def _itemsize(dtype: torch.dtype) -> int:
    return torch.empty(0, dtype=dtype).element_size()


def gguf_config(path: Path) -> Any:
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(path.parent, gguf_file=path.name, trust_remote_code=False)


def _rotary(config: Any, architecture: str) -> tuple[torch.Tensor, float]:
    """The rotary frequencies and scale transformers computes for this config."""
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding
    from transformers.models.qwen2.modeling_qwen2 import Qwen2RotaryEmbedding

    rotary: Any = (Qwen2RotaryEmbedding if architecture == "qwen2" else LlamaRotaryEmbedding)(
        config=config
    )
    return rotary.inv_freq.detach().float(), float(getattr(rotary, "attention_scaling", 1.0))


def _layout(config: Any, biased: bool) -> dict[str, tuple[torch.dtype, tuple[int, ...]]]:
    hidden, heads = int(config.hidden_size), int(config.num_attention_heads)
    kv_heads = int(config.num_key_value_heads or heads)
    dim = int(getattr(config, "head_dim", None) or hidden // heads)
    inter, vocab = int(config.intermediate_size), int(config.vocab_size)
    outs = {
        "qkv": ((heads + 2 * kv_heads) * dim, hidden),
        "o": (hidden, heads * dim),
        "gate_up": (2 * inter, hidden),
        "down": (hidden, inter),
        "lm_head": (vocab, hidden),
    }
    entries: dict[str, tuple[torch.dtype, tuple[int, ...]]] = {
        "rotary.inv_freq": (torch.float32, (dim // 2,)),
        "model.embed_tokens.weight": (torch.float32, (vocab, hidden)),
        "model.norm.weight": (torch.float32, (hidden,)),
    }
    for name in int8_names(int(config.num_hidden_layers)):
        shape = outs[name.rsplit(".", 1)[-1]]
        entries[f"{name}.int8"] = (torch.int8, shape)
        entries[f"{name}.scale"] = (torch.float64, (shape[0],))
    for i in range(int(config.num_hidden_layers)):
        prefix = f"model.layers.{i}."
        entries[prefix + "input_layernorm.weight"] = (torch.float32, (hidden,))
        entries[prefix + "post_attention_layernorm.weight"] = (torch.float32, (hidden,))
        if biased:
            for part, size in (("q", heads * dim), ("k", kv_heads * dim), ("v", kv_heads * dim)):
                entries[f"{prefix}self_attn.{part}_proj.bias"] = (torch.float32, (size,))
    return entries


CHUNK = 4096  # rows dequantized at a time: the embedding table is the one large tensor


def _pack(
    plan: _Plan, tensors: Tensors, sources: list[str], target: str, fp32: str | None = None
) -> None:
    """`sources` (fused along their rows) as int8 rows `target`, CHUNK rows at a time; their
    fp32 rows too, as `fp32`. Int8Rows rounds each row on its own scale, so rows quantized
    apart are those of the whole joined matrix."""
    row = 0
    for name in sources:
        total = tensors.rows(name)
        step = total if tensors.permuted(name) else CHUNK
        for begin in range(0, total, step):
            weights = tensors.fp32(name, begin, min(begin + step, total))
            if fp32 is not None:
                plan.write(fp32, weights, row + begin)
            rows = Int8Rows.quantize(weights)
            del weights
            plan.write(f"{target}.int8", rows.values, row + begin)
            plan.write(f"{target}.scale", rows.scales, row + begin)
        row += total


def build(path: Path, out: Path, table: GGUFTable, report: Callable[[float], None]) -> None:
    """Write `path`'s model into `out`: config.json, generation_config.json, the tokenizer and
    int8.safetensors (the int8 rows, the fp32 embedding, norms and biases, rotary
    frequencies)."""
    from transformers import AutoTokenizer, GenerationConfig

    architecture = table.architecture
    config = gguf_config(path)
    _check_supported(config)
    report(0.1)
    tokenizer = AutoTokenizer.from_pretrained(
        path.parent, gguf_file=path.name, trust_remote_code=False
    )
    report(0.2)
    tensors = Tensors(path, table, architecture, config)
    biased = "model.layers.0.self_attn.q_proj.bias" in tensors
    inv_freq, rope_scale = _rotary(config, architecture)
    layers = int(config.num_hidden_layers)
    meta = {
        "format": str(FORMAT),
        "names": json.dumps(int8_names(layers)),
        "rope_scale": repr(rope_scale),
    }
    plan = _Plan(_layout(config, biased), meta)
    plan.start(out / FILE)
    plan.write("rotary.inv_freq", inv_freq)
    for i in range(layers):
        prefix = f"model.layers.{i}."
        small = [
            f"{prefix}{norm}.weight" for norm in ("input_layernorm", "post_attention_layernorm")
        ]
        if biased:
            small += [f"{prefix}self_attn.{part}_proj.bias" for part in ("q", "k", "v")]
        for name in small:
            plan.write(name, tensors.fp32(name))
        for kind, members in _FUSED.items():
            _pack(plan, tensors, [f"{prefix}{m}.weight" for m in members], f"layers.{i}.{kind}")
        report(0.2 + 0.7 * (i + 1) / layers)
    plan.write("model.norm.weight", tensors.fp32("model.norm.weight"))
    embed = "model.embed_tokens.weight"
    if "lm_head.weight" in tensors:
        for begin in range(0, tensors.rows(embed), CHUNK):
            plan.write(embed, tensors.fp32(embed, begin, begin + CHUNK), begin)
        _pack(plan, tensors, ["lm_head.weight"], "lm_head")
    else:  # tied: the LM head is the embedding table
        _pack(plan, tensors, [embed], "lm_head", fp32=embed)
    plan.check_complete()
    config.save_pretrained(out)
    GenerationConfig.from_model_config(config).save_pretrained(out)
    tokenizer.save_pretrained(out)


class Unsupported(Exception):
    """A decoder the fast path does not run (found in its config): the fp32 conversion runs it."""


def _check_supported(config: Any) -> None:
    rope = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {}
    kind = rope.get("rope_type", rope.get("type", "default"))
    if kind not in ("default", "llama3", "linear"):
        raise Unsupported(f"rope type {kind}")
    if getattr(config, "use_sliding_window", False):
        raise Unsupported("sliding-window attention")
    if getattr(config, "hidden_act", "silu") != "silu":
        raise Unsupported(f"activation {config.hidden_act}")


def check_extent(path: Path, table: GGUFTable) -> None:
    """Every tensor's data inside the file: a truncated download fails here, in one line."""
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

    size = path.stat().st_size
    for entry in table.tensors:
        try:
            block, block_bytes = GGML_QUANT_SIZES[GGMLQuantizationType(entry.kind)]
        except (ValueError, KeyError):
            continue  # a type nothing here reads; a tensor the decoder needs fails by name
        length = math.prod(entry.dims) // block * block_bytes
        if table.data_start + entry.offset + length > size:
            raise EngineError(f"{path} is truncated: {entry.name} ends past the end of the file")


def int8_gguf_dir(path: Path, progress: ProgressCallback | None = None) -> Path | None:
    """The int8 folder for the GGUF file at `path`, built once (refused in one line, with the
    figures, when it cannot fit); None when its decoder is not one the fast path runs."""
    from mmchat.engine.assets import converted_dir
    from mmchat.engine.gguf import file_key
    from mmchat.engine.gguf_size import check_fits, read_table

    if not path.is_file():
        raise EngineError(f"no GGUF file at {path}")
    table = read_table(path)
    if table.architecture not in ARCHITECTURES:
        return None
    name = f"gguf-int8-{FORMAT}-{file_key(path)}"

    def report(fraction: float) -> None:
        if progress:
            progress(Progress(f"packing {path.name} to int8 (once)", fraction))

    def run(out: Path) -> None:
        try:
            build(path, out, table, report)
        except (ValueError, KeyError, IndexError, TypeError, OSError) as exc:
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            raise EngineError(
                f"cannot read {path} as a GGUF model ({first or type(exc).__name__}); the file "
                "is damaged or truncated"
            ) from None

    if not (converted_dir(name) / ".complete").is_file():
        check_fits(path, converted_dir(name).parent, int8=True)  # before anything is written
        check_extent(path, table)
        report(0.0)
    try:
        return convert_once(name, run)
    except Unsupported:
        return None


def lean_gguf(folder: Path) -> FastLlama:
    """A FastLlama from an int8 folder, without transformers' model: the int8 rows are packed
    from the file's mapping, the embedding rows read from it as tokens need them."""
    config = json.loads((folder / "config.json").read_text())
    mapped = mapped_safetensors(folder / FILE)
    layers = int(config["num_hidden_layers"])
    rows = {n: Int8Rows(mapped[f"{n}.int8"], mapped[f"{n}.scale"]) for n in int8_names(layers)}
    tensors = {k: v for k, v in mapped.items() if k.startswith("model.")}
    with (folder / FILE).open("rb") as handle:
        size = int.from_bytes(handle.read(8), "little")
        meta = json.loads(handle.read(size)).get("__metadata__", {})
    rope_scale = float(meta.get("rope_scale", "1.0"))
    parts = LlamaParts.from_config(config, tensors, mapped["rotary.inv_freq"], rope_scale)
    return FastLlama(parts, rows)
