"""How much memory and disk a GGUF file needs the way mmchat runs it, read from its header.

mmchat converts a GGUF file to fp32 safetensors once and runs that (gguf.py): a 4 GB Q4 file
of a 7B model becomes ~28 GB on disk and in memory. Before converting, the header says how
many weights there are; a file that cannot fit is refused in one line with the figures,
instead of swapping the machine to a halt or being killed half-way through.

The header is read here rather than with gguf-py's GGUFReader, which maps every tensor into
numpy first (33 s for a 0.5B model's file on a loaded 2-core machine); this reads the
key-value section and the tensor table only (GGUF v2 and v3, the format's specification:
github.com/ggml-org/ggml/blob/master/docs/gguf.md).
"""

from __future__ import annotations

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
# Running the converted model holds its fp32 weights plus the int8 copies the fast path packs
# (a quarter more), and Python, torch and the tokenizer around them.
RUN_FACTOR = 1.25
OVERHEAD = 600 * 2**20


@dataclass(frozen=True)
class GGUFSize:
    architecture: str
    weights: int  # elements over every tensor
    file_bytes: int

    @property
    def fp32_bytes(self) -> int:
        return self.weights * 4

    @property
    def memory_needed(self) -> int:
        return int(self.fp32_bytes * RUN_FACTOR) + OVERHEAD


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

    def value(self, kind: int) -> str | None:
        """A metadata value: returned when it is a string, skipped otherwise."""
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


def read_size(path: Path) -> GGUFSize:
    """The architecture and weight count in `path`'s header; a one-line EngineError for a
    file that is not GGUF v2/v3 or whose header is cut short."""
    with path.open("rb") as stream:
        header = _Header(stream, path)
        if header.read(4) != b"GGUF":
            raise EngineError(f"{path} is not a GGUF file (no GGUF magic at its start)")
        version = header.number("I")
        if version not in (2, 3):
            raise EngineError(f"{path} is GGUF version {version}; mmchat reads versions 2 and 3")
        tensors, entries = header.number("Q"), header.number("Q")
        architecture = ""
        for _ in range(entries):
            key = header.string()
            text = header.value(header.number("I"))
            if key == "general.architecture" and text is not None:
                architecture = text
        weights = 0
        for _ in range(tensors):
            header.string()
            dims = [header.number("Q") for _ in range(header.number("I"))]
            header.skip(4 + 8)  # the tensor's type and offset
            count = 1
            for dim in dims:
                count *= dim
            weights += count
    return GGUFSize(architecture or "unknown", weights, path.stat().st_size)


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
    path: Path, cache: Path, *, memory: int | None = None, disk: int | None = None
) -> GGUFSize:
    """`path`'s size, or an EngineError naming what it needs against what is free: memory to
    run it (`memory`, else what the system reports) and disk in `cache` for the conversion
    (`disk`, else what the file system reports). A figure the system does not give is not
    checked."""
    size = read_size(path)
    memory = available_memory() if memory is None else memory
    if disk is None:
        folder = cache if cache.exists() else cache.parent
        disk = shutil.disk_usage(folder).free if folder.exists() else None
    advice = (
        "mmchat runs a GGUF file dequantized to fp32; use a smaller model, or serve this one "
        "with llama.cpp's server and use it through [servers] (README: model servers)"
    )
    if memory is not None and size.memory_needed > memory:
        raise EngineError(
            f"{path.name} ({size.architecture}, {size.weights / 1e9:.1f}B weights) needs about "
            f"{_gb(size.memory_needed)} of memory and {_gb(memory)} is available: {advice}"
        )
    if disk is not None and size.fp32_bytes > disk:
        raise EngineError(
            f"{path.name} needs {_gb(size.fp32_bytes)} of disk for its one-time conversion and "
            f"{cache} has {_gb(disk)} free: {advice}"
        )
    return size
