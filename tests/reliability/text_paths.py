"""Hostile strings through every way text reaches the terminal in `mmchat ask` and `history`.

Model output (a local plugin's reply takes the answer path of `mmchat ask`), file names,
persona and model names, conversation titles and exception messages; all captured on a pty.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from hostile_text import control_count, corpus, run_in_pty

from mmchat.images import CheckedImage
from mmchat.store import Store

MMCHAT = [sys.executable, "-m", "mmchat.cli"]
PNG = CheckedImage("x.png", b"\x89PNG fake bytes for a blob", "image/png", 1, 1)

REPLY_PLUGIN = """
import json, pathlib
from mmchat.hooks import Reply, hookimpl

@hookimpl
def mmchat_before_prompt(context):
    return Reply("\\n".join(json.loads(pathlib.Path(__file__).with_suffix(".json").read_text())))
"""
RAISING_PLUGIN = """
import json, pathlib
from mmchat.hooks import hookimpl

STRINGS = json.loads(pathlib.Path(__file__).with_suffix(".json").read_text())


@hookimpl
def mmchat_retrieve(query, persona):
    raise RuntimeError(" | ".join(STRINGS[:40]))
"""


def populate(db: Path, strings: list[str]) -> int:
    """Conversations titled, modelled and persona'd with the strings; returns the big one's id."""
    with Store(db) as store:
        for text in strings:
            store.create_conversation(title=text, model=text, persona=text)
        big = store.create_conversation(title="all of them")
        for text in strings:
            image = CheckedImage(text, PNG.data + text.encode(), "image/png", 1, 1)
            store.add_message(big.id, "user", text, images=[image])
            answer = store.add_message(big.id, "assistant", "", status="streaming")
            cite = {"n": 1, "source": text, "title": text, "location": text}
            store.finish(
                answer.id, content=text, status="failed", error=text, meta={"citations": [cite]}
            )
        return big.id


def install_plugins(config: Path, strings: list[str]) -> None:
    folder = config / "plugins"
    folder.mkdir(parents=True, mode=0o700)
    os.chmod(config, 0o700)
    for name, source in (("hostile_reply", REPLY_PLUGIN), ("hostile_raise", RAISING_PLUGIN)):
        (folder / f"{name}.py").write_text(source)
        (folder / f"{name}.json").write_text(json.dumps(strings))
        for suffix in (".py", ".json"):
            os.chmod(folder / f"{name}{suffix}", 0o600)


def commands(
    home: Path, big: int, strings: list[str], with_model: bool
) -> list[tuple[str, list[str], float]]:
    """(label, argv, time limit): the limit is 10 s except where the model loads."""
    db = str(home / "data" / "mmchat.db")
    runs = [
        ("history list", ["history", "list", "--limit", "1000", "--db", db], 10.0),
        ("history show (all strings)", ["history", "show", str(big), "--db", db], 10.0),
        ("history export md", ["history", "export", str(big), "--db", db], 10.0),
    ]
    runs += [
        (f"history show {n}", ["history", "show", str(n), "--db", db], 10.0) for n in (1, 7, 40, 90)
    ]
    names = home / "names"
    names.mkdir(exist_ok=True)
    for i, text in enumerate(strings[::25]):
        # A file with a hostile name that is not an image: the error names the file.
        safe = text.replace("/", "_").replace("\x00", "_")[:200] or "x"
        (names / safe).write_bytes(b"not an image")
        runs.append(
            (f"ask --image hostile name {i}", ["ask", "--image", str(names / safe), "q"], 10.0)
        )
    for i, text in enumerate(strings[3::50]):
        runs.append((f"ask --model hostile {i}", ["ask", "--model", f"./{text}", "q"], 10.0))
        runs.append((f"ask --persona hostile {i}", ["ask", "--persona", text, "q"], 10.0))
    if with_model:
        ask = ["ask", "--model", "smollm2", "--max-tokens", "8", "hello"]
        runs.append(("ask: plugin reply + raising plugin", ask, 180.0))
        runs.append(("ask --json", [*ask, "--json"], 180.0))
    return runs


def run_all(
    home: Path, with_model: bool = True, extra: list[tuple[str, list[str], float]] = ()
) -> dict[str, object]:
    strings = corpus()
    env = dict(os.environ, MMCHAT_HOME=str(home), NO_COLOR="1", MMCHAT_THREADS="1")
    env.pop("MMCHAT_DB", None)
    big = populate(home / "data" / "mmchat.db", strings)
    install_plugins(home / "config", strings)
    per_command: dict[str, int] = {}
    crashes: list[str] = []
    hangs: list[str] = []
    for label, argv, limit in [*commands(home, big, strings, with_model), *extra]:
        result = run_in_pty([*MMCHAT, *argv], env, timeout=limit)
        per_command[label] = control_count(result.output)
        if result.hung:
            hangs.append(label)
        elif "Traceback" in result.output or result.exit_code not in (0, 1, 2):
            crashes.append(f"{label}: exit {result.exit_code}: {result.output[-300:]!r}")
    return {
        "strings": len(strings),
        "commands": len(per_command),
        "control_chars": sum(per_command.values()),
        "crashes": len(crashes),
        "hangs": len(hangs),
        "per_command": per_command,
        "details": {"crashes": crashes, "hangs": hangs},
    }
