"""A GGUF file's size is read from its header and a file that cannot fit is refused early.

On the real GGUF files the tests use (SmolLM2-135M Q4_1, Qwen2.5-Coder-0.5B Q4_K_M): the
weight count read from the header equals the converted safetensors' own.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from mmchat.engine.assets import SMOLLM2_GGUF, converted_dir
from mmchat.engine.base import EngineError
from mmchat.engine.default_decoder import smollm2_dir
from mmchat.engine.gguf import converted_gguf_dir, packaged_gguf_dir
from mmchat.engine.gguf_size import check_fits, read_size


def safetensors_weights(folder: Path) -> int:
    with (folder / "model.safetensors").open("rb") as stream:
        header = json.loads(stream.read(struct.unpack("<Q", stream.read(8))[0]))
    header.pop("__metadata__", None)
    total = 0
    for entry in header.values():
        count = 1
        for dim in entry["shape"]:
            count *= dim
        total += count
    return total


@pytest.fixture(scope="module")
def qwen() -> Path:
    from test_tools_real_model import qwen_gguf  # the test extra installs its six parts

    return qwen_gguf()


def test_the_header_counts_the_weights_the_conversion_holds(qwen: Path) -> None:
    pairs = (
        (SMOLLM2_GGUF.locate(), smollm2_dir(), "llama"),
        (qwen, packaged_gguf_dir("packaged:qwen2.5-coder"), "qwen2"),
    )
    for path, converted, architecture in pairs:
        size = read_size(path)
        assert size.architecture == architecture
        assert size.weights == safetensors_weights(converted)
        assert size.fp32_bytes > 3 * size.file_bytes  # the blow-up the check guards against


def test_a_file_that_cannot_fit_is_refused_with_its_figures(qwen: Path, tmp_path: Path) -> None:
    size = read_size(qwen)
    with pytest.raises(EngineError) as refused:
        check_fits(qwen, tmp_path, memory=size.memory_needed - 1, disk=10 * size.fp32_bytes)
    message = str(refused.value)
    assert "\n" not in message and "qwen2" in message and "0.6B weights" in message
    assert "GB of memory" in message and "llama.cpp's server" in message
    with pytest.raises(EngineError, match="of disk for its one-time conversion"):
        check_fits(qwen, tmp_path, memory=10 * size.memory_needed, disk=size.fp32_bytes - 1)
    assert check_fits(qwen, tmp_path, memory=size.memory_needed, disk=size.fp32_bytes) == size


def huge_gguf(path: Path) -> Path:
    """A GGUF v3 header declaring one 10^12-weight tensor (4 TB in fp32), and no data."""

    def string(text: str) -> bytes:
        return struct.pack("<Q", len(text)) + text.encode()

    header = b"GGUF" + struct.pack("<IQQ", 3, 1, 1)
    header += string("general.architecture") + struct.pack("<I", 8) + string("llama")
    header += string("token_embd.weight") + struct.pack("<IQQIQ", 2, 10**6, 10**6, 0, 0)
    path.write_bytes(header)
    return path


def test_a_file_too_large_for_this_machine_is_refused_before_converting(tmp_path: Path) -> None:
    huge = huge_gguf(tmp_path / "huge.gguf")
    assert read_size(huge).weights == 10**12
    models = converted_dir("probe").parent
    before = set(models.iterdir()) if models.exists() else set()
    with pytest.raises(EngineError) as refused:
        converted_gguf_dir(huge)
    assert "1000.0B weights" in str(refused.value) and "\n" not in str(refused.value)
    assert (set(models.iterdir()) if models.exists() else set()) == before  # nothing written


def test_damaged_headers_are_one_line_errors(tmp_path: Path) -> None:
    source = SMOLLM2_GGUF.locate().read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(source[:5000])  # inside the vocabulary array
    with pytest.raises(EngineError, match="truncated"):
        read_size(cut)
    text = tmp_path / "notes.gguf"
    text.write_text("not a model")
    with pytest.raises(EngineError, match="not a GGUF file"):
        read_size(text)
    old = tmp_path / "v1.gguf"
    old.write_bytes(b"GGUF" + struct.pack("<I", 1) + bytes(32))
    with pytest.raises(EngineError, match="version 1"):
        read_size(old)
