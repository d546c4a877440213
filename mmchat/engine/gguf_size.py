"""How much memory and disk a GGUF file needs the way mmchat runs it, read from its header.

mmchat converts a GGUF file once and runs that: packed to int8 for the Llama and Qwen2 decoders
the CPU fast path runs (gguf_int8.py: about a byte a weight on disk, two in memory), else to
fp32 safetensors (gguf.py): a 4 GB Q4 file of a 7B model becomes ~28 GB on disk and in memory.
Before converting, the header says how many weights there are; a file that cannot fit is
refused in one line with the figures, instead of swapping the machine to a halt or being
killed half-way through.

The header is read here rather than with gguf-py's GGUFReader, which maps every tensor into
numpy first (33 s for a 0.5B model's file on a loaded 2-core machine); this reads the
key-value section and the tensor table only (GGUF v2 and v3, the format's specification:
github.com/ggml-org/ggml/blob/master/docs/gguf.md).
"""

from __future__ import annotations

import math
import os
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from mmchat.engine.base import EngineError

# Value types of GGUF metadata: fixed sizes; 8 is a string and 9 an array.
_FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY = 8, 9
_INTEGERS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 10: "Q", 11: "q"}
# Running the converted model holds its fp32 weights plus the int8 copies the fast path packs
# (a quarter more), and Python, torch and the tokenizer around them.
RUN_FACTOR = 1.25
OVERHEAD = 600 * 2**20
INT8_RUN_FACTOR = 2.0


@dataclass(frozen=True)
class GGUFSize:
    architecture: str
    weights: int  # elements over every tensor
    file_bytes: int
    largest: int = 0  # elements of the largest tensor (the embedding table, usually)

    @property
    def fp32_bytes(self) -> int:
        return self.weights * 4

    @property
    def memory_needed(self) -> int:
        return int(self.fp32_bytes * RUN_FACTOR) + OVERHEAD

    @property
    def int8_disk(self) -> int:
        """The int8 form's file (gguf_int8.py): a byte a weight, the embedding table in fp32."""
        return self.weights + 4 * self.largest

    @property
    def int8_memory_needed(self) -> int:
        """Running the int8 form: fbgemm's packed weights (about two bytes a weight, as
        measured), the embedding rows in use, and Python, torch and the tokenizer."""
        return int(self.weights * INT8_RUN_FACTOR) + OVERHEAD


class _Header:
    def __init__(self, stream: BinaryIO, path: Path) -> None:
        self.stream = stream
        self.path = path

    def read(self, size: int) -> bytes:
        data = self.stream.read(size)
        if len(data) != size:
            raise EngineError(f"{self.path} is truncated: its GGUF header ends early")
        return data

    def number(self, fmt: str) -> int:
        value: int = struct.unpack("<" + fmt, self.read(struct.calcsize(fmt)))[0]
        return value

    def string(self) -> str:
        return self.read(self.number("Q")).decode("utf-8", "replace")

    def skip(self, size: int) -> None:
        self.stream.seek(size, os.SEEK_CUR)

    def value(self, kind: int) -> str | int | None:
        """A metadata value: returned when it is a string or an integer, skipped otherwise."""
        if kind in _INTEGERS:
            return self.number(_INTEGERS[kind])
        if kind in _FIXED:
            self.skip(_FIXED[kind])
            return None
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item, count = self.number("I"), self.number("Q")
            if item in _FIXED:
                self.skip(_FIXED[item] * count)
            else:
                for _ in range(count):
                    self.value(item)
            return None
        raise EngineError(f"{self.path} is not a GGUF file mmchat can read (value type {kind})")


@dataclass(frozen=True)
class TensorEntry:
    """One tensor of a GGUF file's table: ggml's dims (innermost first), type and offset."""

    name: str
    dims: tuple[int, ...]
    kind: int  # ggml's type (gguf.GGMLQuantizationType)
    offset: int  # from the start of the data section


@dataclass(frozen=True)
class GGUFTable:
    architecture: str
    tensors: list[TensorEntry]
    data_start: int  # where the data section begins in the file


def read_table(path: Path) -> GGUFTable:
    """The architecture and tensor table in `path`'s header; a one-line EngineError for a
    file that is not GGUF v2/v3 or whose header is cut short."""
    with path.open("rb") as stream:
        header = _Header(stream, path)
        if header.read(4) != b"GGUF":
            raise EngineError(f"{path} is not a GGUF file (no GGUF magic at its start)")
        version = header.number("I")
        if version not in (2, 3):
            raise EngineError(f"{path} is GGUF version {version}; mmchat reads versions 2 and 3")
        count, entries = header.number("Q"), header.number("Q")
        architecture, alignment = "", 32
        for _ in range(entries):
            key = header.string()
            value = header.value(header.number("I"))
            if key == "general.architecture" and isinstance(value, str):
                architecture = value
            elif key == "general.alignment" and isinstance(value, int) and value > 0:
                alignment = value
        tensors = []
        for _ in range(count):
            name = header.string()
            dims = tuple(header.number("Q") for _ in range(header.number("I")))
            kind, offset = header.number("I"), header.number("Q")
            tensors.append(TensorEntry(name, dims, kind, offset))
        start = stream.tell()
    return GGUFTable(architecture or "unknown", tensors, start + (-start % alignment))


def read_size(path: Path) -> GGUFSize:
    """The architecture and weight count in `path`'s header (read_table's errors)."""
    return size_of(read_table(path), path)


def size_of(table: GGUFTable, path: Path) -> GGUFSize:
    """The architecture and weight count of a table already read from `path`."""
    weights = sum(math.prod(t.dims) for t in table.tensors)
    largest = max((math.prod(t.dims) for t in table.tensors), default=0)
    return GGUFSize(table.architecture, weights, path.stat().st_size, largest)


def available_memory() -> int | None:
    """Memory the system can give without swapping (Linux's MemAvailable), None elsewhere."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _gb(size: int) -> str:
    return f"{size / 2**30:.1f} GB"


def check_fits(
    path: Path,
    cache: Path,
    *,
    memory: int | None = None,
    disk: int | None = None,
    int8: bool = False,
) -> GGUFSize:
    """`path`'s size, or an EngineError naming what it needs against what is free: memory to
    run it (`memory`, else what the system reports) and disk in `cache` for the conversion
    (`disk`, else what the file system reports), dequantized to fp32 or, with `int8`, packed
    to int8 (gguf_int8.py). A figure the system does not give is not checked."""
    size = read_size(path)
    memory = available_memory() if memory is None else memory
    if disk is None:
        folder = cache if cache.exists() else cache.parent
        disk = shutil.disk_usage(folder).free if folder.exists() else None
    form = "packed to int8" if int8 else "dequantized to fp32"
    advice = (
        f"mmchat runs a GGUF file {form}; use a smaller model, or serve this one "
        "with llama.cpp's server and use it through [servers] (README: model servers)"
    )
    needed = size.int8_memory_needed if int8 else size.memory_needed
    if memory is not None and needed > memory:
        raise EngineError(
            f"{path.name} ({size.architecture}, {size.weights / 1e9:.1f}B weights) needs about "
            f"{_gb(needed)} of memory and {_gb(memory)} is available: {advice}"
        )
    written = size.int8_disk if int8 else size.fp32_bytes
    if disk is not None and written > disk:
        raise EngineError(
            f"{path.name} needs {_gb(written)} of disk for its one-time conversion and "
            f"{cache} has {_gb(disk)} free: {advice}"
        )
    return size
