"""Hostile and failing model loads through real `mmchat ask` processes; figures as dicts.

Shared by tests/reliability/test_model_loading.py and bench/faults.py.
"""

from __future__ import annotations

import json
import os
import pickle
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
from askkit import ask_env
from tokenizers import Tokenizer, models, pre_tokenizers

MMCHAT = [sys.executable, "-m", "mmchat.cli"]
CONFIG = {
    "model_type": "llama",
    "architectures": ["LlamaForCausalLM"],
    "hidden_size": 16,
    "intermediate_size": 32,
    "num_attention_heads": 2,
    "num_key_value_heads": 2,
    "num_hidden_layers": 1,
    "vocab_size": 8,
    "max_position_embeddings": 64,
}


class Payload:
    """Unpickling this runs code: it writes the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (exec, (f"open({str(self.marker)!r}, 'w').write('payload ran')",))


def model_folder(folder: Path, config: dict[str, object]) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config))
    tokenizer = Tokenizer(models.WordLevel({"[UNK]": 0, "hi": 1}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "PreTrainedTokenizerFast", "unk_token": "[UNK]"})
    )
    return folder


def ask(home: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, object]:
    started = time.monotonic()
    result = subprocess.run(
        [*MMCHAT, "ask", "--no-plugins", *args],
        capture_output=True,
        text=True,
        env={**ask_env(home), **(env or {})},
        timeout=300,
    )
    return {
        "exit": result.returncode,
        "stderr": result.stderr.strip(),
        "one_line": result.stderr.count("\n") == 1 and "Traceback" not in result.stderr,
        "seconds": round(time.monotonic() - started, 1),
    }


def prompt_saved(home: Path, prompt: str) -> bool:
    conn = sqlite3.connect(home / "data" / "mmchat.db")
    try:
        row = conn.execute("SELECT count(*) FROM messages WHERE content = ?", (prompt,))
        return int(row.fetchone()[0]) == 1
    finally:
        conn.close()


def pickle_checkpoint(workdir: Path, allow: bool) -> dict[str, object]:
    marker = workdir / "pickle-marker"
    folder = model_folder(workdir / f"pickled-{allow}", CONFIG)
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps(Payload(marker)))
    flags = ["--allow-pickle"] if allow else []
    figures = ask(workdir / "home", "--model", str(folder), *flags, "a pickle question")
    figures["payload_ran"] = marker.exists()
    figures["prompt_saved"] = prompt_saved(workdir / "home", "a pickle question")
    return figures


def remote_code(workdir: Path) -> dict[str, object]:
    marker = workdir / "remote-marker"
    auto_map = {
        "AutoConfig": "configuration_evil.EvilConfig",
        "AutoModelForCausalLM": "modeling_evil.EvilModel",
    }
    folder = model_folder(workdir / "remote", {**CONFIG, "auto_map": auto_map})
    for name in ("configuration_evil.py", "modeling_evil.py"):
        (folder / name).write_text(f"open({str(marker)!r}, 'w').write('remote code ran')\n")
    figures = ask(workdir / "home", "--model", str(folder), "a remote question")
    figures["code_ran"] = marker.exists()
    return figures


def out_of_memory(workdir: Path, megabytes: int = 400) -> dict[str, object]:
    home = workdir / f"home-oom-{megabytes}"
    env = {"MMCHAT_ENGINE_MEMORY_LIMIT_MB": str(megabytes)}
    figures = ask(home, "--model", "smollm2", "remember me", env=env)
    figures["prompt_saved"] = prompt_saved(home, "remember me")
    return figures


def killed_mid_load(workdir: Path) -> dict[str, object]:
    """SIGKILL the engine while it loads: what the kernel's OOM killer does."""
    home = workdir / "home-killed"
    proc = subprocess.Popen(
        [*MMCHAT, "ask", "--no-plugins", "--model", "smollm2", "remember me too"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ask_env(home),
    )
    deadline = time.monotonic() + 60
    worker = None
    while worker is None and time.monotonic() < deadline:
        children = psutil.Process(proc.pid).children(recursive=True)
        worker = next((c for c in children if "mmchat.engine.worker" in c.cmdline()), None)
        time.sleep(0.05)
    if worker is None:
        proc.kill()
        proc.communicate()
        return {"exit": None, "stderr": "no engine process appeared", "one_line": False}
    time.sleep(0.5)
    os.kill(worker.pid, 9)
    _, err = proc.communicate(timeout=30)
    return {
        "exit": proc.returncode,
        "stderr": err.strip(),
        "one_line": err.count("\n") == 1 and "Traceback" not in err,
        "prompt_saved": prompt_saved(home, "remember me too"),
    }


def pickled_decoder(folder: Path, payload_marker: Path | None = None) -> Path:
    """A tiny Llama decoder whose only weights are a pickle: real tensors, or a payload."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    model_folder(folder, CONFIG)
    weights = folder / "pytorch_model.bin"
    if payload_marker is None:
        config = LlamaConfig(**{k: v for k, v in CONFIG.items() if k != "architectures"})
        torch.save(LlamaForCausalLM(config).state_dict(), weights)
    else:
        weights.write_bytes(pickle.dumps(Payload(payload_marker)))
    return folder


def pickled_fusion(workdir: Path) -> dict[str, object]:
    """`--model` on a fusion folder whose config names a decoder folder holding a pickle."""
    marker = workdir / "fusion-pickle-marker"
    decoder = pickled_decoder(workdir / "fusion-decoder", marker)
    folder = workdir / "fusion"
    folder.mkdir()
    config = {"model_type": "mmchat-fusion", "decoder": str(decoder), "text_width": 16}
    (folder / "config.json").write_text(json.dumps(config))
    figures = ask(workdir / "home", "--model", str(folder), "a fusion question")
    figures["payload_ran"] = marker.exists()
    return figures
