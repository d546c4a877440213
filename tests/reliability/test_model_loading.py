"""Hostile and failing model loads: pickle payloads, remote code, out of memory mid-load."""

from __future__ import annotations

import subprocess
from pathlib import Path

import modelkit
import pytest
from askkit import ask_env

pytestmark = pytest.mark.reliability


@pytest.mark.parametrize("allow", [False, True])
def test_pickle_checkpoint_never_runs_its_payload(tmp_path: Path, allow: bool) -> None:
    figures = modelkit.pickle_checkpoint(tmp_path, allow)
    assert figures["exit"] != 0 and figures["one_line"], figures
    if not allow:
        assert "--allow-pickle" in str(figures["stderr"])  # refused, naming the opt-in
    assert not figures["payload_ran"]  # with the opt-in, torch's weights-only loader refuses it
    assert figures["prompt_saved"]


def test_remote_code_is_not_run_by_default(tmp_path: Path) -> None:
    figures = modelkit.remote_code(tmp_path)
    assert figures["exit"] != 0 and figures["one_line"], figures
    assert not figures["code_ran"]


def test_out_of_memory_at_load_is_one_line_and_keeps_the_conversation(tmp_path: Path) -> None:
    figures = modelkit.out_of_memory(tmp_path)
    assert figures["exit"] == 1 and figures["one_line"], figures
    stderr = str(figures["stderr"])
    assert "out of memory" in stderr and "saved in conversation" in stderr
    assert figures["prompt_saved"]
    listing = subprocess.run(
        [*modelkit.MMCHAT, "history", "list"],
        capture_output=True,
        text=True,
        env=ask_env(tmp_path / "home-oom-400"),
    )
    assert "remember me" in listing.stdout


def test_engine_killed_mid_load_is_one_line_and_keeps_the_conversation(tmp_path: Path) -> None:
    figures = modelkit.killed_mid_load(tmp_path)
    assert figures["exit"] == 1 and figures["one_line"], figures
    stderr = str(figures["stderr"])
    assert "SIGKILL" in stderr and "saved in conversation" in stderr
    assert figures["prompt_saved"]
