"""`mmchat` as a person or a script runs it: real subprocesses, the real model."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

MMCHAT = [sys.executable, "-m", "mmchat.cli"]


def run(
    *args: str, stdin: str | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MMCHAT, *args], input=stdin, capture_output=True, text=True, timeout=timeout
    )


def test_ask_streams_answer_and_saves_it(isolated_home: Path) -> None:
    result = run("ask", "--model", "smollm2", "What is the capital of France?")
    assert result.returncode == 0, result.stderr
    assert "Paris" in result.stdout
    listed = run("history", "list")
    assert "What is the capital of France?" in listed.stdout


def test_ask_json_stdin_and_continue(isolated_home: Path) -> None:
    first = run("ask", "--model", "smollm2", "--json", "-", stdin="What is the capital of France?")
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    assert data["status"] == "complete" and "Paris" in data["content"]
    assert data["completion_tokens"] > 0 and data["finish_reason"] == "stop"
    assert (data["device"], data["weights"]) == ("cpu", "int8")  # the CPU's int8 path ran
    second = run(
        "ask",
        "--json",
        "--conversation",
        str(data["conversation_id"]),
        "What is the capital of Italy?",
    )
    assert second.returncode == 0, second.stderr
    more = json.loads(second.stdout)
    assert more["conversation_id"] == data["conversation_id"]
    assert more["model"] == "smollm2"  # the conversation's model is reused
    assert "Rome" in more["content"]
    exported = run("history", "export", str(data["conversation_id"]), "--format", "json")
    messages = json.loads(exported.stdout)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    md = run("history", "export", str(data["conversation_id"]))
    assert "## assistant" in md.stdout and "Rome" in md.stdout


def test_ask_continuing_a_chat_keeps_its_saved_settings(isolated_home: Path) -> None:
    from mmchat.store import Store

    first = run("ask", "--model", "smollm2", "--json", "Say hello.")
    assert first.returncode == 0, first.stderr
    conv_id = json.loads(first.stdout)["conversation_id"]
    with Store(isolated_home / "data" / "mmchat.db") as store:
        store.update_conversation(conv_id, max_tokens=3)  # as the TUI's settings dialog saves
    story = run("ask", "--json", "-c", str(conv_id), "Tell me a long story about a dragon.")
    assert story.returncode == 0, story.stderr
    data = json.loads(story.stdout)
    assert data["finish_reason"] == "length" and data["completion_tokens"] == 3
    # A flag still wins over the saved value.
    shorter = run("ask", "--json", "-c", str(conv_id), "--max-tokens", "2", "Tell me a story.")
    assert json.loads(shorter.stdout)["completion_tokens"] == 2


def repeated_line(text: str, width: int | None = None) -> int:
    """How often the answer's most repeated non-empty line (its first `width` characters)
    appears."""
    lines = [line.strip()[:width] for line in text.splitlines() if line.strip()]
    return max((lines.count(line) for line in lines), default=0)


def repeated_phrase(text: str) -> int:
    """How often the answer's most repeated phrase of 3+ words (split at punctuation and line
    ends) appears."""
    phrases = [p.strip().lower() for p in re.split(r"[.,;:!?\n]", text)]
    phrases = [p for p in phrases if len(p.split()) >= 3]
    return max((phrases.count(p) for p in phrases), default=0)


def test_an_answer_stuck_in_a_loop_is_ended_and_marked(isolated_home: Path) -> None:
    poem = ["--model", "smollm2", "--max-tokens", "300", "Write a short poem about cats."]
    result = run("ask", "--temperature", "0", *poem)  # exact greedy loops on this one
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "mmchat: (ended early: it was repeating itself)"
    # What it wrote is kept: the repeated phrase is there, three times or more.
    assert repeated_phrase(result.stdout) >= 3, result.stdout
    shown = json.loads(run("history", "export", "1", "--format", "json").stdout)
    answer = shown["messages"][-1]
    assert answer["status"] == "complete" and answer["meta"]["finish_reason"] == "repetition"


def test_the_default_sampling_writes_a_poem_without_a_loop(isolated_home: Path) -> None:
    result = run("ask", "--json", "Write a short poem about cats.")  # the default model
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["finish_reason"] in ("stop", "length") and data["content"].strip()
    assert repeated_line(data["content"]) < 3, data["content"]


def test_history_rename_and_delete(isolated_home: Path) -> None:
    from mmchat.config import default_db_path
    from mmchat.store import Store

    with Store(default_db_path()) as store:
        conv = store.create_conversation(title="old title")
    assert run("history", "rename", str(conv.id), "new title").returncode == 0
    assert "new title" in run("history", "list").stdout
    assert run("history", "delete", str(conv.id), "--yes").returncode == 0
    assert "new title" not in run("history", "list").stdout
    missing = run("history", "show", "999")
    assert missing.returncode == 1 and "no conversation 999" in missing.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["ask", "--model", "no-such-model", "hi"], "unknown model 'no-such-model'"),
        (["ask", "--model", "smollm2", "--image", "/nonexistent/cat.png", "hi"], "no such file"),
        (["ask", "--persona", "nobody", "hi"], "unknown persona 'nobody'"),
        (["ask", "--conversation", "42", "hi"], "no conversation 42"),
        (["ask", "   "], "the question is empty"),
        (["ask", "--temperature", "-1", "hi"], "--temperature must be 0 or more (0 = greedy)"),
        (["ask", "--top-p", "2", "hi"], "--top-p must be more than 0 and at most 1, got 2.0"),
        (["ask", "--top-p", "0", "hi"], "--top-p must be more than 0 and at most 1, got 0.0"),
        (["ask", "--repeat-penalty", "0", "hi"], "--repeat-penalty must be more than 0 (1 = off)"),
        (["ask", "--top-k", "-5", "hi"], "--top-k must be 0 (off) or more, got -5"),
        (["train-fusion", "--out", "unused", "--stage", "top-layer"], "give it --init FOLDER"),
        (["train-fusion", "--out", "unused", "--stage", "nope"], "unknown stage 'nope'"),
        (["train-fusion", "--out", "unused", "--steps", "5"], "--steps applies to one stage"),
        (
            ["train-fusion", "--out", "unused", "--stage", "relevance-gate", "--images", "5"],
            "--images is not a setting of the relevance-gate stage",
        ),
    ],
)
def test_bad_input_is_one_line_and_nonzero(
    isolated_home: Path, args: list[str], expected: str
) -> None:
    result = run(*args, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_corrupt_database_is_reported_and_kept(isolated_home: Path, tmp_path: Path) -> None:
    db = tmp_path / "broken.db"
    db.write_bytes(b"not a database" * 1000)
    result = run("ask", "--db", str(db), "--model", "smollm2", "hi", timeout=60)
    assert result.returncode == 1
    assert "damaged" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert db.read_bytes() == b"not a database" * 1000


def test_unwritable_data_dir(isolated_home: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    env = {**os.environ, "MMCHAT_DATA_DIR": str(blocker / "data")}
    result = subprocess.run(
        [*MMCHAT, "ask", "--model", "smollm2", "hi"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 1
    assert "cannot create" in result.stderr and "MMCHAT_DATA_DIR" in result.stderr


def test_model_that_fails_to_load_keeps_the_question(isolated_home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "empty-model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    result = run("ask", "--model", str(folder), "my important question", timeout=120)
    assert result.returncode == 1
    assert "saved in conversation 1" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    shown = run("history", "show", "1")
    assert "my important question" in shown.stdout


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_interrupt_mid_answer_saves_partial_answer(isolated_home: Path, sig: int) -> None:
    proc = subprocess.Popen(
        [*MMCHAT, "ask", "--model", "smollm2", "--max-tokens", "400", "Write a long story."],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # As at a terminal, also when the test runner was started with SIGINT ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    deadline, seen = time.monotonic() + 180, b""
    while time.monotonic() < deadline and len(seen.split()) < 3:
        if select.select([fd], [], [], 0.5)[0]:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            seen += chunk
    assert seen.strip(), "no output before the deadline"
    sent = time.monotonic()
    proc.send_signal(sig)
    proc.wait(timeout=10)
    assert time.monotonic() - sent < 2.5
    assert proc.returncode == 130
    db = isolated_home / "data" / "mmchat.db"
    rows = sqlite3.connect(db).execute("SELECT role, status, content FROM messages").fetchall()
    assert rows[0][:2] == ("user", "complete")
    assert rows[1][:2] == ("assistant", "stopped") and rows[1][2].strip()
    workers = subprocess.run(
        ["pgrep", "-f", "mmchat.engine.worker", "-P", str(proc.pid)], capture_output=True
    )
    assert workers.stdout == b""
