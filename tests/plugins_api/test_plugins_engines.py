"""`register_engines`: `--model PREFIX:REST` runs a plugin's engine in the engine process.

Through the real CLI (and the TUI with the real engine process), with the example plugin's
deterministic engine and, for failures, broken engines in the private plugins folder.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from plugins_api_helpers import MMCHAT, mmchat
from textual.pilot import Pilot

from mmchat.config import engine_threads
from mmchat.engine.base import (
    ChatMessage,
    Delta,
    EngineError,
    Failed,
    GenerationRequest,
    ModelInfo,
)
from mmchat.engine.plugin import PluginEngine
from mmchat.session import make_engine, open_session
from mmchat.tui.app import MMChatApp
from mmchat.tui.widgets.chat_log import ChatLog
from mmchat.tui.widgets.composer import Composer

BROKEN_ENGINES = """
from mmchat.hooks import Delta, ModelInfo, Started, hookimpl


class Crashes:
    def load(self, progress=None):
        return ModelInfo("crashes", "cpu", "none", 512, False)

    def stream(self, request):
        yield Started(1)
        yield Delta("partial")
        raise RuntimeError("the decoder fell over")

    def cancel(self):
        pass

    def close(self):
        pass


def raises(rest, options):
    raise RuntimeError("no licence for " + rest)


@hookimpl
def register_engines(register):
    register("crash", lambda rest, options: Crashes())
    register("raises", raises)
    register("wrongtype", lambda rest, options: "an engine, honest")
    register("bad prefix", raises)
"""

WHO = """
import os
from mmchat.hooks import Delta, Finished, ModelInfo, hookimpl


class Who:
    def load(self, progress=None):
        return ModelInfo("who", "cpu", "none", 512, False)

    def stream(self, request):  # no Started or Finished: mmchat ends the answer itself
        yield Delta("{name} pid %d parent %d" % (os.getpid(), os.getppid()))

    def cancel(self):
        pass

    def close(self):
        pass


@hookimpl
def register_engines(register):
    register("dup", lambda rest, options: Who())
"""


def export(conversation: int, plugins: str) -> dict:
    result = mmchat("history", "export", str(conversation), "--format", "json", plugins=plugins)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_ask_streams_the_plugin_engine_and_saves_the_answer() -> None:
    plain = mmchat("ask", "--model", "example:echo", "hi there", plugins="example")
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout == "Echo: hi there\n" and plain.stderr == ""
    result = mmchat("ask", "--model", "example:parrot", "--json", "hello", plugins="example")
    data = json.loads(result.stdout)
    assert data["model"] == "example:parrot" and data["status"] == "complete"
    assert data["content"] == "Squawk: hello" and data["completion_tokens"] == 2
    assert data["finish_reason"] == "stop"
    saved = export(data["conversation_id"], "example")
    assert saved["model"] == "example:parrot"
    assert [(m["role"], m["content"], m["model"]) for m in saved["messages"]] == [
        ("user", "hello", None),
        ("assistant", "Squawk: hello", "example:parrot"),
    ]


def test_models_lists_plugin_engines(monkeypatch: pytest.MonkeyPatch) -> None:
    listed = mmchat("models", plugins="example")
    assert listed.returncode == 0, listed.stderr
    [line] = [line for line in listed.stdout.splitlines() if "example:" in line]
    assert line.split(None, 3)[:3] == ["example:<name>", "plugin", "engine"]
    assert line.endswith(
        "plugin example - Repeats your message and its first passage "
        "(example:echo, example:parrot)."
    )
    assert "example:" not in mmchat("models", plugins="").stdout
    assert "example:" not in mmchat("models", "--no-plugins", plugins="example").stdout
    monkeypatch.setenv("MMCHAT_MODEL", "example:echo")  # the default: marked
    marked = mmchat("models", plugins="example").stdout.splitlines()
    assert [line.split()[:2] for line in marked if line.startswith("*")] == [
        ["*", "example:<name>"]
    ]


def test_unknown_prefix_is_one_line_and_exit_2() -> None:
    result = mmchat("ask", "--model", "nope:big", "hi", plugins="example")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (
        "mmchat: error: unknown model 'nope:big': no plugin registers the engine prefix "
        "'nope:' (plugin engines: example: from example; see mmchat models)\n"
    )
    # without plugins the example prefix means nothing either
    off = mmchat("ask", "--no-plugins", "--model", "example:echo", "hi", plugins="example")
    assert off.returncode == 2 and "(plugin engines: none;" in off.stderr


@pytest.mark.parametrize(
    ("model", "error"),
    [
        (
            "raises:pro",
            "plugin local:broken: engine factory for 'raises:' failed: "
            "RuntimeError: no licence for pro",
        ),
        (
            "wrongtype:x",
            "plugin local:broken: engine factory for 'wrongtype:' returned str, not an Engine "
            "(no load, stream, cancel, close)",
        ),
        (
            "example:nope",
            "plugin example: no example engine 'nope'; use example:echo, example:parrot",
        ),
    ],
)
def test_a_factory_that_fails_is_one_line_and_the_question_is_kept(
    local_plugins: Path, model: str, error: str
) -> None:
    (local_plugins / "broken.py").write_text(BROKEN_ENGINES)
    result = mmchat("ask", "--model", model, "keep me", plugins="example,broken")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == f"mmchat: {error} (your question is saved in conversation 1)\n"
    user, answer = export(1, "example,broken")["messages"]
    assert (user["role"], user["content"]) == ("user", "keep me")
    assert (answer["status"], answer["error"]) == ("failed", error)


def test_an_engine_that_raises_mid_answer_keeps_what_it_said(local_plugins: Path) -> None:
    (local_plugins / "broken.py").write_text(BROKEN_ENGINES)
    result = mmchat("ask", "--model", "crash:x", "go", plugins="broken")
    assert result.returncode == 1 and result.stdout == "partial"
    error = "plugin local:broken: engine failed: RuntimeError: the decoder fell over"
    assert result.stderr == f"mmchat: {error} (your question is saved in conversation 1)\n"
    user, answer = export(1, "broken")["messages"]
    assert user["content"] == "go"
    assert (answer["content"], answer["status"], answer["error"]) == ("partial", "failed", error)
    # the bad registration was noted, not fatal
    notes = mmchat("plugins", plugins="broken").stdout
    assert "local:broken: register_engines: 'bad prefix' ignored: a prefix is" in notes


def test_the_engine_process_builds_the_engine_of_the_plugin_that_owns_the_prefix(
    local_plugins: Path,
) -> None:
    (local_plugins / "first.py").write_text(WHO.replace("{name}", "first"))
    (local_plugins / "second.py").write_text(WHO.replace("{name}", "second"))
    notes = mmchat("plugins", plugins="first,second").stdout
    assert "local:second: register_engines: 'dup' ignored: already registered by plugin " in (notes)
    proc = subprocess.Popen(
        [*MMCHAT, "ask", "--model", "dup:x", "--json", "who?"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**_env(), "MMCHAT_PLUGINS": "first,second"},
    )
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    data = json.loads(out)
    name, _, pid, _, parent = data["content"].split()
    assert name == "first" and data["status"] == "complete"
    assert int(parent) == proc.pid and int(pid) != proc.pid  # in its own child process


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "MMCHAT_PLUGINS"}


async def test_tui_lists_loads_and_survives_plugin_engines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MMCHAT_PLUGINS", "example")
    session = open_session()

    def factory(name: str):  # type: ignore[no-untyped-def]
        threads = engine_threads(session.settings)
        return make_engine(name, quant="auto", threads=threads, engines=session.engines)

    app = MMChatApp(session, model="example:echo", engine_factory=factory)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: app.host.state in ("ready", "failed"))
            assert app.host.state == "ready", app.host.error
            [choice] = [c for c in app.model_choices() if c.value == "example:"]
            assert choice.detail.startswith("plugin example - Repeats your message")
            composer = app.screen.query_one(Composer)
            composer.text = "hello tui"
            composer.focus()
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.screen.runner is None)  # type: ignore[attr-defined]
            answer = app.screen.query_one(ChatLog).boxes[-1]
            assert answer.text == "Echo: hello tui"
            app.load_model("example:nope")  # a factory that fails: a notice, the app goes on
            await wait_for(pilot, lambda: app.host.state == "failed")
            assert app.host.error.startswith("plugin example: no example engine 'nope'")
            assert app.is_running
    finally:
        session.close()


async def wait_for(pilot: Pilot, condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the app"
        await pilot.pause(0.02)
    await pilot.pause(0.05)


class Endless:
    """Ignores cancel(): mmchat stops reading it at the next event."""

    def load(self, progress: object = None) -> ModelInfo:
        return ModelInfo("endless", "cpu", "none", 512, False)

    def stream(self, request: GenerationRequest) -> Iterator[object]:
        while True:
            yield Delta("la ")
            time.sleep(0.01)

    def cancel(self) -> None:
        pass

    def close(self) -> None:
        pass


class Garbage(Endless):
    def stream(self, request: GenerationRequest) -> Iterator[object]:
        yield Delta("ok ")
        yield "not an event"


def test_plugin_engine_checks_and_ends_every_answer() -> None:
    request = GenerationRequest([ChatMessage("user", "hi")])
    engine = PluginEngine("endless", Endless())
    events = []
    for event in engine.stream(request):
        events.append(event)
        if len(events) == 3:
            engine.cancel()  # from the worker's main thread, in real life
    assert [type(e).__name__ for e in events] == ["Delta", "Delta", "Delta", "Finished"]
    assert events[-1].reason == "cancelled" and events[-1].completion_tokens == 3
    garbage = list(PluginEngine("junk", Garbage()).stream(request))
    assert garbage[-1] == Failed(
        "plugin junk: the engine yielded str, not an event (Delta, Finished...)"
    )
    with pytest.raises(EngineError, match="^plugin junk: load\\(\\) returned str, not ModelInfo$"):
        PluginEngine("junk", type("Bad", (Endless,), {"load": lambda self, p=None: "x"})()).load()
