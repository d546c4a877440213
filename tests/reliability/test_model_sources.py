"""Fusion folders load their parts as safetensors only, and no loader runs a folder's code.

A fusion folder (`mmchat train-fusion`'s output) names its decoder and encoder folders in its
config, so a downloaded one can point at any folder: the parts obey the same safetensors-only
policy as `--model` folders.
"""

from __future__ import annotations

import ast
from pathlib import Path

import modelkit
import pytest

from mmchat.engine.fusion import FusionConfig, FusionModel

pytestmark = pytest.mark.reliability

REPO = Path(__file__).resolve().parents[2]


def test_fusion_decoder_as_a_pickle_is_refused(tmp_path: Path) -> None:
    decoder = modelkit.pickled_decoder(tmp_path / "decoder")  # real tensors, loadable as such
    with pytest.raises(OSError, match="safetensors"):
        FusionModel.from_sources(
            FusionConfig(decoder=str(decoder), text_width=16, cross_layers=[0], num_heads=2)
        )


def test_fusion_folder_with_a_pickle_payload_is_one_line_and_runs_nothing(
    tmp_path: Path,
) -> None:
    figures = modelkit.pickled_fusion(tmp_path)
    assert figures["exit"] == 1
    assert figures["one_line"], figures["stderr"]
    assert "safetensors" in str(figures["stderr"])
    assert not figures["payload_ran"]


def loader_calls(path: Path) -> list[tuple[int, bool]]:
    """(line, passes trust_remote_code) for each transformers from_pretrained in a file."""
    calls = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        if node.func.attr != "from_pretrained" or not isinstance(owner, ast.Name):
            continue
        if not owner.id.startswith(("Auto", "Dinov2", "Llama")):
            continue  # mmchat's own FusionModel.from_pretrained
        names = {k.arg for k in node.keywords}
        spread = any(k.arg is None for k in node.keywords)  # **kwargs built with the flag
        calls.append((node.lineno, "trust_remote_code" in names or spread))
    return calls


def test_every_transformers_load_passes_trust_remote_code() -> None:
    files = sorted((REPO / "mmchat").rglob("*.py"))
    found = {f"{p.relative_to(REPO)}:{line}": ok for p in files for line, ok in loader_calls(p)}
    assert len(found) >= 8  # hf, vlm, gguf, fusion, encoder
    assert [where for where, ok in found.items() if not ok] == []
