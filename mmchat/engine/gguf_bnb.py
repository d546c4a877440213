"""GGUF files straight into bitsandbytes' 4-bit or 8-bit form (or half precision) on the
device that runs them, one tensor at a time.

The fp32 conversion (gguf.py) dequantizes the whole model and saves it before transformers
loads and quantizes it: a 4 GB Q4 file of a 7B model becomes ~28 GB on disk and in memory on
the way to ~4 GB on the GPU. Here the model is built empty (accelerate's init_empty_weights),
its linear layers are bitsandbytes' own, and each tensor is dequantized from the file's
mapping (gguf_int8's reader), cast, and handed to bitsandbytes, which quantizes it on the
device; then it is dropped. Memory holds one tensor at a time in the run's dtype (read 4096
rows at a time; the embedding table is the largest), and nothing is written but the config
and tokenizer.

The numbers are those of transformers' own bitsandbytes loading of the fp32 conversion: the
same dequantized values, cast to the same dtype, quantized by the same bitsandbytes calls, and
the same modules kept out of quantization (the LM head). tests/test_gguf_bnb.py checks the
logits are equal.

Only the decoders gguf_int8 reads (Llama and Qwen2); others go through the fp32 conversion.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

import torch

from mmchat.engine import gguf_size
from mmchat.engine.assets import convert_once
from mmchat.engine.base import EngineError, Progress, ProgressCallback
from mmchat.engine.gguf_int8 import ARCHITECTURES, CHUNK, Tensors, check_extent, gguf_config
from mmchat.engine.gguf_size import GGUFSize, read_table, size_of

GPU_OVERHEAD = 1 << 30  # the CUDA context, activations and the KV cache of a long answer
KEPT = ("lm_head",)  # left in `dtype`, as transformers' bitsandbytes loading leaves it


def supported(path: Path) -> bool:
    """Whether `path` holds a decoder this loader reads (the header only)."""
    return read_table(path).architecture in ARCHITECTURES


def bytes_needed(size: GGUFSize, quant: str) -> int:
    """Device memory to run the model: the linear weights at bitsandbytes' size (a half byte
    or a byte a weight, plus their scales), the embedding table in half precision."""
    per_weight = {"4bit": 0.53, "8bit": 1.02}.get(quant, 2.0)
    return int((size.weights - size.largest) * per_weight) + 2 * size.largest + GPU_OVERHEAD


def check_device_fits(path: Path, size: GGUFSize, quant: str, free: int | None) -> None:
    """An EngineError naming what the model needs against what `free` (bytes) offers."""
    needed = bytes_needed(size, quant)
    if free is not None and needed > free:
        form = {"4bit": "in 4-bit", "8bit": "in 8-bit"}.get(quant, "in half precision")
        raise EngineError(
            f"{path.name} ({size.architecture}, {size.weights / 1e9:.1f}B weights) needs about "
            f"{needed / 2**30:.1f} GB of device memory {form} and {free / 2**30:.1f} GB is free: "
            "use --quant 4bit, a smaller model, or llama.cpp's server through [servers]"
        )


def device_free(device: str) -> int | None:
    if device.startswith("cuda"):
        free, _total = torch.cuda.mem_get_info(torch.device(device))
        return int(free)
    return gguf_size.available_memory()  # read through the module: tests set the figure


def meta_dir(path: Path) -> Path:
    """config.json, generation_config.json and the tokenizer of `path`, read from its header
    once (transformers' GGUF tokenizer reading takes seconds to minutes on a large file)."""
    from mmchat.engine.gguf import file_key

    def build(out: Path) -> None:
        from transformers import AutoTokenizer, GenerationConfig

        config = gguf_config(path)
        tokenizer = AutoTokenizer.from_pretrained(
            path.parent, gguf_file=path.name, trust_remote_code=False
        )
        config.save_pretrained(out)
        GenerationConfig.from_model_config(config).save_pretrained(out)
        tokenizer.save_pretrained(out)

    try:
        return convert_once(f"gguf-meta-{file_key(path)}", build)
    except (ValueError, KeyError, IndexError, TypeError, OSError) as exc:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise EngineError(f"cannot read {path} as a GGUF model ({first})") from None


def load(
    path: Path,
    quantization: Any,
    device: str,
    dtype: torch.dtype,
    progress: ProgressCallback | None = None,
) -> tuple[Any, Any]:
    """(model, tokenizer) for the GGUF file at `path` on `device`: linear layers in the form
    `quantization` (a BitsAndBytesConfig, or None for plain `dtype`), the rest in `dtype`.
    EngineError (one line) when the file cannot be read or the model cannot fit."""
    from accelerate import init_empty_weights
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    if not path.is_file():
        raise EngineError(f"no GGUF file at {path}")
    table = read_table(path)
    if table.architecture not in ARCHITECTURES:
        raise EngineError(f"{path.name}: {table.architecture} is not read layer by layer")
    size = size_of(table, path)
    quant = _quant_name(quantization)
    check_device_fits(path, size, quant, device_free(device))  # before anything is loaded
    check_extent(path, table)
    folder = meta_dir(path)
    config = AutoConfig.from_pretrained(folder, trust_remote_code=False)
    tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
    with init_empty_weights():  # parameters on "meta", buffers (rotary tables) real
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    if quantization is not None:
        _replace_linears(model, quantization)
    tensors = Tensors(path, table, table.architecture, config)
    named = [(n, p) for n, p in model.named_parameters(remove_duplicate=False)]
    tied = bool(getattr(config, "tie_word_embeddings", False)) and "lm_head.weight" not in tensors
    try:
        for index, (name, _param) in enumerate(named):
            if tied and name == "lm_head.weight":
                continue
            _place(model, name, _read(tensors, name, dtype), device)
            if name.endswith(".weight"):
                release_freed_memory()
            if progress and index % 16 == 0:
                progress(Progress(f"loading {path.name} layer by layer", index / len(named)))
    except torch.OutOfMemoryError:
        raise EngineError(f"{path.name} does not fit in {device}'s memory") from None
    for name, buffer in list(model.named_buffers()):
        _set(model, name, buffer.to(device))
    if tied:
        model.lm_head.weight = model.get_input_embeddings().weight
    model.generation_config = GenerationConfig.from_pretrained(folder)
    model.eval()
    return model, tokenizer


def release_freed_memory() -> None:
    """Hand the memory freed since the last call back to the system (glibc's malloc_trim).

    Each tensor's fp32 and cast copies are freed once bitsandbytes has quantized it, but glibc
    keeps freed heap memory between the small quantized tensors that stay: loading
    Qwen2.5-Coder-0.5B in 4-bit grew the process by 2.4-2.8 GB, more than the fp32 model,
    without this, and by 1.35 GB with it. Elsewhere (macOS, musl) a no-op."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):
        return
    trim(0)


def _read(tensors: Tensors, name: str, dtype: torch.dtype) -> torch.Tensor:
    """Tensor `name` in `dtype`, dequantized CHUNK rows at a time: gguf-py's dequantizing
    of a whole embedding table holds several fp32 copies of it at once (2.5 GB for
    Qwen2.5-Coder-0.5B's). Llama's q/k rows are un-permuted whole; they are small."""
    total = tensors.rows(name)  # 1 for a 1-d tensor
    if tensors.permuted(name) or total <= CHUNK:
        return tensors.fp32(name).to(dtype)
    first = tensors.fp32(name, 0, CHUNK)
    out = torch.empty((total, *first.shape[1:]), dtype=dtype)
    out[:CHUNK] = first
    for begin in range(CHUNK, total, CHUNK):
        out[begin : begin + CHUNK] = tensors.fp32(name, begin, begin + CHUNK)
    return out


def _quant_name(quantization: Any) -> str:
    if quantization is None:
        return "none"
    return "8bit" if getattr(quantization, "load_in_8bit", False) else "4bit"


def _replace_linears(model: torch.nn.Module, quantization: Any) -> None:
    """Every nn.Linear but the LM head as bitsandbytes' Linear4bit or Linear8bitLt, with the
    settings transformers gives them for this BitsAndBytesConfig."""
    import bitsandbytes

    bnb: Any = bitsandbytes  # untyped: its `to` overloads do not fit its parameter classes
    for name, module in list(model.named_modules()):
        if type(module) is not torch.nn.Linear or name.split(".")[-1] in KEPT:
            continue
        args = (module.in_features, module.out_features, module.bias is not None)
        new: torch.nn.Module
        if quantization.load_in_8bit:
            new = bnb.nn.Linear8bitLt(
                *args,
                has_fp16_weights=quantization.llm_int8_has_fp16_weight,
                threshold=quantization.llm_int8_threshold,
                device="meta",
            )
        else:
            new = bnb.nn.Linear4bit(
                *args,
                quantization.bnb_4bit_compute_dtype,
                compress_statistics=quantization.bnb_4bit_use_double_quant,
                quant_type=quantization.bnb_4bit_quant_type,
                quant_storage=quantization.bnb_4bit_quant_storage,
                device="meta",
            )
        new.requires_grad_(False)
        model.set_submodule(name, new)


def _place(model: torch.nn.Module, name: str, value: torch.Tensor, device: str) -> None:
    """`value` as parameter `name` on `device`; a bitsandbytes layer's weight is quantized
    there by bitsandbytes itself (its parameter's `to`)."""
    import bitsandbytes

    bnb: Any = bitsandbytes  # as above
    owner_name, _, attr = name.rpartition(".")
    owner = model.get_submodule(owner_name)
    old = getattr(owner, attr)
    if tuple(old.shape) != tuple(value.shape):
        raise EngineError(f"{name}: {tuple(value.shape)} does not fit the model's config")
    new: torch.nn.Parameter
    if isinstance(owner, bnb.nn.Linear4bit) and attr == "weight":
        new = bnb.nn.Params4bit(
            value,
            requires_grad=False,
            blocksize=old.blocksize,
            compress_statistics=old.compress_statistics,
            quant_type=old.quant_type,
            quant_storage=old.quant_storage,
            module=owner,
        ).to(device)
    elif isinstance(owner, bnb.nn.Linear8bitLt) and attr == "weight":
        new = bnb.nn.Int8Params(
            value, requires_grad=False, has_fp16_weights=old.has_fp16_weights
        ).to(device)
    else:
        new = torch.nn.Parameter(value.to(device), requires_grad=False)
    setattr(owner, attr, new)


def _set(model: torch.nn.Module, name: str, buffer: torch.Tensor) -> None:
    owner_name, _, attr = name.rpartition(".")
    owner = model.get_submodule(owner_name)
    persistent = attr not in getattr(owner, "_non_persistent_buffers_set", set())
    owner.register_buffer(attr, buffer, persistent=persistent)
