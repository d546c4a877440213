"""The fast path's int8 weights, cached beside the converted models.

Quantizing SmolLM2-135M's projections took 3-6 s at every start on a 2-core CPU; reading them
back takes a fraction of a second (docs/PERFORMANCE.md). Only fbgemm's packing is redone at
each start: its packed form cannot be saved.

A cache folder is named after what it was made from: each weight file's path, size,
modification time and safetensors header (names, shapes, dtypes, offsets), the config, torch's
version and this file's format. Rewriting the weights changes the name, so a stale cache is
never read; hashing the whole file instead would cost more than a second of every start. A
cache that fails to read (truncated, edited, of the wrong shapes) is rebuilt, never used.
"""

from __future__ import annotations

import hashlib
import json
import math
import mmap
import shutil
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from mmchat.engine.assets import convert_once, converted_dir
from mmchat.engine.fastpath import FastLlama, Int8Rows, LlamaParts, int8_names, quantize_parts

FORMAT = 2
PREFIX = "fastpath-int8-"
FILE = "int8.safetensors"
_HEADER_LIMIT = 100 << 20  # safetensors' own limit on a header's size


def source_key(folder: Path) -> str | None:
    """The cache name's key for the model in `folder`; None when it has no local weights."""
    weights = sorted(folder.glob("*.safetensors"))
    if not weights:
        return None
    digest = hashlib.sha256(f"format {FORMAT} torch {torch.__version__}\n".encode())
    for path in [*weights, folder / "config.json"]:
        try:
            stat = path.stat()
        except OSError:
            return None
        digest.update(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
        if path.suffix == ".safetensors":
            digest.update(_safetensors_header(path))
    return digest.hexdigest()[:20]


def _safetensors_header(path: Path) -> bytes:
    with path.open("rb") as handle:
        raw = handle.read(8)
        if len(raw) < 8:
            return b"truncated"
        (size,) = struct.unpack("<Q", raw)
        return handle.read(min(size, _HEADER_LIMIT))


def cache_folder(key: str) -> Path:
    return converted_dir(PREFIX + key)


def fast_llama(parts: LlamaParts, folder: Path | None) -> FastLlama:
    """A FastLlama over `parts`, its int8 weights read from the cache when the model in
    `folder` was quantized before, else quantized now and cached for the next start."""
    key = source_key(folder) if folder is not None else None
    if key is None:
        return FastLlama(parts)  # a hub id or an in-memory model: nothing to key a cache on
    cached = read_cache(key)
    if cached is not None:
        try:
            return FastLlama(parts, cached.rows)
        except ValueError as exc:  # shapes that do not fit this model
            _discard(key, str(exc))
    rows = quantize_parts(parts)
    try:
        convert_once(PREFIX + key, lambda out: write_rows(out / FILE, rows, parts, key))
    except OSError as exc:  # a full or read-only cache costs the next start time, nothing more
        print(f"mmchat: the int8 weights were not cached ({exc})", file=sys.stderr)
    else:
        # From the file just written: its mapped rows are clean pages, the quantized copy goes.
        cached = read_cache(key)
        if cached is not None:
            rows = cached.rows
    return FastLlama(parts, rows)


def read_cache(key: str) -> Cached | None:
    """The cached int8 weights for `key`, or None (absent; damaged ones are removed)."""
    folder = cache_folder(key)
    if not (folder / ".complete").is_file():
        return None
    try:
        return read_rows(folder / FILE, key)
    except (OSError, ValueError, KeyError) as exc:
        _discard(key, str(exc))
        return None
    except Exception as exc:  # safetensors' own error for a damaged file (SafetensorError)
        if type(exc).__name__ != "SafetensorError":
            raise
        _discard(key, str(exc))
        return None


def _discard(key: str, why: str) -> None:
    print(f"mmchat: rebuilding the cached int8 weights ({why[:120]})", file=sys.stderr)
    shutil.rmtree(cache_folder(key), ignore_errors=True)


@dataclass
class Cached:
    """What the cache holds for one model: its int8 rows and its rotary frequencies."""

    rows: dict[str, Int8Rows]
    inv_freq: torch.Tensor
    rope_scale: float


def write_rows(path: Path, rows: dict[str, Int8Rows], parts: LlamaParts, key: str) -> None:
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {"rotary.inv_freq": parts.inv_freq.contiguous()}
    for name, row in rows.items():
        tensors[f"{name}.int8"] = row.values.contiguous()
        tensors[f"{name}.scale"] = row.scales.contiguous()
    metadata = {
        "source": key,
        "format": str(FORMAT),
        "names": json.dumps(list(rows)),
        "rope_scale": repr(parts.rope_scale),
    }
    save_file(tensors, str(path), metadata=metadata)


def read_rows(path: Path, key: str) -> Cached:
    """The cached rows as views of the file mapped into memory: the prompt's projections
    read them at every prompt (DequantLinear), and clean file pages cost no copy."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata() or {}
    if metadata.get("source") != key or metadata.get("format") != str(FORMAT):
        raise ValueError("made from other weights")
    names = json.loads(metadata["names"])
    layers = len(names) // 4
    if names != int8_names(layers):
        raise ValueError("unexpected layout")
    tensors = mapped_safetensors(path)
    rows = {name: Int8Rows(tensors[f"{name}.int8"], tensors[f"{name}.scale"]) for name in names}
    return Cached(rows, tensors["rotary.inv_freq"].clone(), float(metadata["rope_scale"]))


def lean_llama(folder: Path) -> FastLlama | None:
    """The fast path for the model in `folder` from its cached int8 weights and its weight
    files, without building transformers' model (nor importing its modelling code); None when
    the cache is missing or does not fit. Only a model that passed `supports` was cached, and
    the key covers its config and weights."""
    key = source_key(folder)
    cached = read_cache(key) if key is not None else None
    if key is None or cached is None:
        return None
    try:
        parts = parts_from_folder(folder, cached.inv_freq, cached.rope_scale)
        return FastLlama(parts, cached.rows)
    except (ValueError, KeyError, TypeError, OSError) as exc:
        _discard(key, str(exc))
        return None


def parts_from_folder(folder: Path, inv_freq: torch.Tensor, rope_scale: float) -> LlamaParts:
    """A Llama decoder's parts read straight from its config.json and safetensors files, as
    transformers loads them in fp32 (an upcast is exact)."""
    config = json.loads((folder / "config.json").read_text())
    tensors: dict[str, torch.Tensor] = {}
    for path in sorted(folder.glob("*.safetensors")):
        tensors.update({k: v.float() for k, v in mapped_safetensors(path).items()})
    if "lm_head.weight" not in tensors:
        if not config.get("tie_word_embeddings", True):
            raise ValueError("no lm_head weights")
        tensors["lm_head.weight"] = tensors["model.embed_tokens.weight"]
    return LlamaParts.from_config(config, tensors, inv_freq, rope_scale)


_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I8": torch.int8,
    "U8": torch.uint8,
}


def mapped_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file as views of the file mapped into memory, not copies.

    safetensors' own loader copies every tensor out of its mapping, so while it reads, the
    weights are resident twice (the file's pages and the copy): ~540 MB more peak memory for
    SmolLM2-135M. A private mapping is never written back; the weights are only read.
    """
    with path.open("rb") as handle:
        (size,) = struct.unpack("<Q", handle.read(8))
        if size > _HEADER_LIMIT:
            raise ValueError(f"{path.name}: header too large")
        header = json.loads(handle.read(size))
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_COPY)
    start = 8 + size
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(entry["dtype"])
        if dtype is None:
            raise ValueError(f"{path.name}: unsupported dtype {entry['dtype']}")
        begin, end = entry["data_offsets"]
        shape = [int(n) for n in entry["shape"]]
        count = end - begin
        itemsize = torch.empty(0, dtype=dtype).element_size()
        if count != itemsize * math.prod(shape) or start + end > len(mapped):
            raise ValueError(f"{path.name}: {name} does not fit the file")
        if count == 0:  # frombuffer refuses an empty view
            tensors[name] = torch.empty(shape, dtype=dtype)
            continue
        flat = torch.frombuffer(mapped, dtype=dtype, count=count // itemsize, offset=start + begin)
        tensors[name] = flat.view(shape)
    return tensors
