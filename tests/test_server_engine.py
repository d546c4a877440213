"""Model servers as engines, against a real OpenAI-compatible server: llama-cpp-python's,
started here on the packaged SmolLM2 GGUF, and `mmchat ask` run as a person runs it."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mmchat.config import RESERVED_MODEL_NAMES, ConfigError, load_settings, settings_path
from mmchat.engine.base import (
    ChatMessage,
    Delta,
    Failed,
    Finished,
    GenerationRequest,
    Started,
)
from mmchat.engine.registry import ALIASES
from mmchat.engine.server import ServerEngine

MMCHAT = [sys.executable, "-m", "mmchat.cli"]
ALIAS = "smollm2-server"  # the model id the test servers list
KEY_ENV = "MMCHAT_TEST_SERVER_KEY"
PICTURE = Path(__file__).parent / "reliability" / "data"
# llama-cpp-python's server, kept off llama.cpp's AMX kernels where they crash
LLAMA_SERVER = Path(__file__).parents[1] / "bench" / "llama_peer.py"


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[bytes]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(log: Path, *extra: str, model: Path | None = None, alias: str = ALIAS) -> Server:
    pytest.importorskip(
        "llama_cpp.server", reason="llama-cpp-python[server] (the test extra) is not installed"
    )
    from mmchat.engine.assets import SMOLLM2_GGUF

    port = _free_port()
    # No --chat_format: the server uses the chat template inside the GGUF, as mmchat does.
    command = [
        sys.executable,
        str(LLAMA_SERVER),
        "--model",
        str(model or SMOLLM2_GGUF.locate()),
        "--model_alias",
        alias,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "4096",
        "--n_threads",
        "1",
        *extra,
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the llama.cpp server stopped: {log.read_text()[-2000:]}")
        try:
            # /v1/models answers 401 on a keyed server: that also means it is up.
            urllib.request.urlopen(f"{url}/models", timeout=2).close()
            return Server(url, proc)
        except urllib.error.HTTPError:
            return Server(url, proc)
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"the llama.cpp server did not start in 120 s: {log.read_text()[-2000:]}")


def _stop(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait(timeout=10)


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = _start_server(tmp_path_factory.mktemp("llama") / "server.log")
    yield server
    _stop(server)


@pytest.fixture(scope="session")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = _start_server(
        tmp_path_factory.mktemp("llama-keyed") / "server.log", "--api_key", "right-key"
    )
    yield server
    _stop(server)


def greedy_reply(server: Server, question: str) -> str:
    """The server's own greedy answer to `question`, asked directly (not streamed).

    What the model says depends on the CPU's SIMD kernels (on one machine SmolLM2's Q4_1 answers
    "Paris", on another a French-sounding riddle), so the tests check that mmchat relays the
    server's words unchanged, not what the model knows."""
    body = json.dumps(
        {
            "model": ALIAS,
            "messages": [{"role": "user", "content": question}],
            "temperature": 0.0,
            "max_tokens": 40,
        }
    ).encode()
    request = urllib.request.Request(
        f"{server.url}/chat/completions", body, {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        reply = json.loads(response.read())
    text = str(reply["choices"][0]["message"]["content"]).strip()
    assert len(text) > 10, reply
    return text


def write_settings(text: str) -> Path:
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MMCHAT, *args],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, **(env or {})},
    )


def first_words(proc: subprocess.Popen[bytes], words: int = 3, timeout: float = 120) -> bytes:
    """What `proc` printed once its answer has `words` words (or at the timeout, or its end)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    deadline, seen = time.monotonic() + timeout, b""
    while time.monotonic() < deadline and len(seen.split()) < words:
        if select.select([fd], [], [], 0.5)[0]:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            seen += chunk
    return seen


def rows(home: Path) -> list[tuple[str, str, str, str | None]]:
    db = sqlite3.connect(home / "data" / "mmchat.db")
    try:
        query = "SELECT role, status, content, error FROM messages ORDER BY id"
        return db.execute(query).fetchall()
    finally:
        db.close()


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# -- settings ------------------------------------------------------------------------------------


def test_a_server_in_settings() -> None:
    write_settings(
        '[servers.gpu]\nbase_url = "http://box:8000/v1/"\nmodel = "Qwen/Qwen2.5-7B-Instruct"\n'
        'api_key_env = "GPU_KEY"\n\n[servers.ollama]\nbase_url = "http://localhost:11434/v1"\n'
    )
    servers = load_settings().servers
    assert servers["gpu"].base_url == "http://box:8000/v1"  # the trailing / is dropped
    assert (servers["gpu"].model, servers["gpu"].api_key_env) == (
        "Qwen/Qwen2.5-7B-Instruct",
        "GPU_KEY",
    )
    assert (servers["ollama"].model, servers["ollama"].api_key_env) == ("", "")
    assert load_settings().extra == {}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('servers = "http://x"', "must be tables like [servers.NAME]"),
        ("[servers]\nlocal = 3", "[servers.local] must be a table"),
        ('[servers.local]\nmodel = "m"', "'base_url' must be an http:// or https:// URL"),
        ('[servers.local]\nbase_url = "localhost:8080"', "'base_url' must be an http://"),
        ('[servers.local]\nbase_url = "http://h/v1"\nmodel = 7', "'model' must be a string"),
        ('[servers.local]\nbase_url = "http://h/v1"\nurl = "x"', "unknown key 'url'"),
        ('[servers.local]\nbase_url = "http://h/v1"\ntimeout = 0', "'timeout' must be more"),
        ('[servers.local]\nbase_url = "http://h/v1"\napi_key = "sk-secret"', "never kept"),
        ('[servers.local]\nbase_url = "http://h/v1"\napi_key_env = "sk-abc/1"', "the NAME of"),
        ('[servers."a b"]\nbase_url = "http://h/v1"', "a server name is letters"),
        ('[servers.default]\nbase_url = "http://h/v1"', "is a packaged model's name"),
    ],
)
def test_bad_server_settings_are_one_line(entry: str, message: str) -> None:
    path = write_settings(entry)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert message in str(info.value) and str(path) in str(info.value)
    assert "sk-secret" not in str(info.value)  # a key put in the file is not echoed


def test_bad_server_settings_from_the_command_line() -> None:
    write_settings('[servers.local]\nbase_url = "ftp://h"')
    result = run("ask", "hello")
    assert result.returncode == 1 and result.stdout == ""
    assert "[servers.local]: 'base_url' must be an http://" in one_error_line(result)


def test_reserved_names_are_the_packaged_aliases() -> None:
    assert set(ALIASES) == RESERVED_MODEL_NAMES


def test_models_lists_the_servers_and_marks_the_default() -> None:
    write_settings(
        'model = "gpu"\n[servers.gpu]\nbase_url = "http://box:8000/v1"\nmodel = "qwen"\n'
        'api_key_env = "GPU_KEY"\n[servers.ollama]\nbase_url = "http://localhost:11434/v1"\n'
    )
    result = run("models", "--no-plugins")
    assert result.returncode == 0, result.stderr
    lines = {line[2:].split()[0]: line for line in result.stdout.splitlines() if line[2:].split()}
    assert lines["gpu:qwen"].startswith("*") and "model server" in lines["gpu:qwen"]
    assert "http://box:8000/v1, key from $GPU_KEY" in lines["gpu:qwen"]
    assert lines["ollama:<model>"].startswith(" ")


# -- the engine against the real server ------------------------------------------------------


def _ask(engine: ServerEngine, text: str, **kwargs: object) -> list[object]:
    request = GenerationRequest([ChatMessage("user", text)], **kwargs)  # type: ignore[arg-type]  # test values
    return list(engine.stream(request))


def test_the_engine_streams_an_answer_with_token_counts(llama_server: Server) -> None:
    engine = ServerEngine("local", llama_server.url)  # no model named: the one it lists
    try:
        info = engine.load()
        assert info.name == f"local:{ALIAS}"
        events = _ask(engine, "What is the capital of France?", temperature=0.0, max_new_tokens=40)
    finally:
        engine.close()
    deltas = [e for e in events if isinstance(e, Delta)]
    started = [e for e in events if isinstance(e, Started)]
    finished = events[-1]
    assert len(deltas) > 1  # streamed in pieces, not one block
    said = "".join(d.text for d in deltas).strip()
    assert said == greedy_reply(llama_server, "What is the capital of France?")
    assert isinstance(finished, Finished) and finished.reason in ("stop", "length")
    # llama-cpp-python reports no usage in a stream (stream_options is ignored): no Started,
    # and the count is the pieces received; servers that report usage (vLLM, Ollama) give theirs.
    assert not started
    assert finished.completion_tokens == len(deltas)


def test_max_tokens_reaches_the_server(llama_server: Server) -> None:
    engine = ServerEngine("local", llama_server.url, ALIAS)
    try:
        events = _ask(engine, "Write a long story about a dragon.", max_new_tokens=5)
    finally:
        engine.close()
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.reason == "length"
    assert finished.completion_tokens == 5


def test_cancel_closes_the_stream_and_keeps_the_text(llama_server: Server) -> None:
    engine = ServerEngine("local", llama_server.url, ALIAS)
    seen: list[object] = []
    try:
        request = GenerationRequest(
            [ChatMessage("user", "Write a long story about a dragon.")], max_new_tokens=400
        )
        for event in engine.stream(request):
            seen.append(event)
            if sum(isinstance(e, Delta) for e in seen) == 3:
                # from another thread, as the TUI's stop key does
                threading.Thread(target=engine.cancel).start()
    finally:
        engine.close()
    finished = seen[-1]
    assert isinstance(finished, Finished) and finished.reason == "cancelled"
    assert 3 <= sum(isinstance(e, Delta) for e in seen) < 100


# -- `mmchat ask` ----------------------------------------------------------------------------


def test_ask_through_a_server_saves_the_answer_and_history(
    llama_server: Server, isolated_home: Path
) -> None:
    write_settings(f'[servers.local]\nbase_url = "{llama_server.url}"\nmodel = "{ALIAS}"\n')
    question = "What is the capital of France?"
    first = run("ask", "--model", "local", "--temperature", "0", "--json", question)
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    expected = greedy_reply(llama_server, question)  # 40 tokens: the start of the answer
    assert data["status"] == "complete" and data["content"].strip().startswith(expected)
    assert data["model"] == "local" and data["completion_tokens"] > 0
    # the conversation goes on with the same server
    second = run("ask", "-c", "1", "--temperature", "0", "--json", "And of Germany?")
    assert second.returncode == 0, second.stderr
    more = json.loads(second.stdout)
    assert more["model"] == "local" and more["content"].strip()
    saved = rows(isolated_home)
    assert [(r[0], r[1]) for r in saved] == [
        ("user", "complete"),
        ("assistant", "complete"),
        ("user", "complete"),
        ("assistant", "complete"),
    ]
    assert saved[1][2] == data["content"] and saved[2][2] == "And of Germany?"


def test_stopping_ask_mid_answer_keeps_the_text(llama_server: Server, isolated_home: Path) -> None:
    write_settings(f'[servers.local]\nbase_url = "{llama_server.url}"\n')
    proc = subprocess.Popen(
        [*MMCHAT, "ask", "--model", "local", "--max-tokens", "400", "Write a long story."],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    seen = first_words(proc)
    assert seen.strip(), "no output before the deadline"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 130
    saved = rows(isolated_home)
    assert saved[1][:2] == ("assistant", "stopped") and saved[1][2].strip()
    assert seen.decode(errors="ignore").strip()[:10] in saved[1][2]


def test_connection_refused_is_one_line_and_keeps_the_question(isolated_home: Path) -> None:
    write_settings(f'[servers.gone]\nbase_url = "http://127.0.0.1:{_free_port()}/v1"\n')
    result = run("ask", "--model", "gone:any", "my question")
    assert result.returncode == 1 and result.stdout == ""
    line = one_error_line(result)
    assert "cannot reach server gone" in line and "connection refused" in line
    assert "your question is saved in conversation 1" in line
    assert rows(isolated_home)[0][:3] == ("user", "complete", "my question")


def test_a_wrong_or_missing_key_names_the_variable(keyed_server: Server) -> None:
    write_settings(f'[servers.keyed]\nbase_url = "{keyed_server.url}"\napi_key_env = "{KEY_ENV}"\n')
    missing = run("ask", "--model", "keyed", "hi", env={KEY_ENV: ""})
    assert missing.returncode == 1
    assert f"the environment variable {KEY_ENV} that should hold it is not set" in one_error_line(
        missing
    )
    wrong = run("ask", "--model", "keyed", "hi", env={KEY_ENV: "wrong-key"})
    assert wrong.returncode == 1
    assert f"refused the key in {KEY_ENV} (401" in one_error_line(wrong)
    right = run("ask", "--model", "keyed", "--max-tokens", "3", "hi", env={KEY_ENV: "right-key"})
    assert right.returncode == 0, right.stderr
    assert right.stdout.strip()


def test_a_keyed_server_without_api_key_env_says_how_to_set_one(keyed_server: Server) -> None:
    write_settings(f'[servers.keyed]\nbase_url = "{keyed_server.url}"\n')
    result = run("ask", "--model", "keyed", "hi")
    assert result.returncode == 1
    assert "wants an API key (401)" in one_error_line(result)
    assert "api_key_env in [servers.keyed]" in result.stderr


def test_an_unknown_model_lists_the_servers_models(llama_server: Server) -> None:
    write_settings(f'[servers.local]\nbase_url = "{llama_server.url}"\n')
    result = run("ask", "--model", "local:gpt-9", "hi")
    assert result.returncode == 1
    assert f"server local has no model 'gpt-9' (it has: {ALIAS})" in one_error_line(result)


def test_an_unknown_server_name_is_one_line() -> None:
    write_settings('[servers.local]\nbase_url = "http://127.0.0.1:9/v1"\n')
    result = run("ask", "--no-plugins", "--model", "remote:big", "hi")
    assert result.returncode == 2
    assert "servers in settings: local" in one_error_line(result)


def test_a_wrong_base_url_says_to_check_it(llama_server: Server) -> None:
    write_settings(f'[servers.local]\nbase_url = "{llama_server.url.removesuffix("/v1")}"\n')
    result = run("ask", "--model", f"local:{ALIAS}", "hi")
    assert result.returncode == 1
    assert "check base_url" in one_error_line(result)


def test_the_model_picker_lists_the_servers() -> None:
    from mmchat.config import ServerSettings
    from mmchat.plugin_manager import load_plugins
    from mmchat.tui.model_choices import model_choices

    servers = {
        "gpu": ServerSettings("gpu", "http://box:8000/v1", "qwen"),
        "ollama": ServerSettings("ollama", "http://localhost:11434/v1"),
    }
    choices = model_choices({}, load_plugins(enabled=False), "ollama", servers)
    by_value = {c.value: c for c in choices}
    assert by_value["gpu:qwen"].detail == "model server http://box:8000/v1"
    assert by_value["ollama"].detail == "model server ollama"  # the current one, resolved
    assert [c.value for c in choices].count("ollama") == 1


def test_an_image_to_a_text_only_server_is_one_line(
    llama_server: Server, isolated_home: Path, tmp_path: Path
) -> None:
    from PIL import Image

    # Noise: a PNG that does not compress, so its data URL is far longer than the context.
    picture = tmp_path / "noise.png"
    Image.frombytes("RGB", (160, 160), os.urandom(160 * 160 * 3)).save(picture)
    write_settings(f'[servers.local]\nbase_url = "{llama_server.url}"\n')
    result = run("ask", "--model", "local", "--image", str(picture), "What is in this picture?")
    assert result.returncode == 1 and result.stdout == ""
    line = one_error_line(result)
    # llama-cpp-python without a vision projector answers nothing; vLLM answers 400 instead
    assert "with an image" in line and f"is {ALIAS!r} a vision model?" in line
    saved = rows(isolated_home)
    assert saved[0][:2] == ("user", "complete") and saved[1][1] == "failed"


def test_a_picture_the_checks_refuse_never_reaches_the_server(llama_server: Server) -> None:
    engine = ServerEngine("local", llama_server.url, ALIAS)
    try:
        request = GenerationRequest([ChatMessage("user", "What is this?", [b"not a picture"])])
        events = list(engine.stream(request))
    finally:
        engine.close()
    assert len(events) == 1 and isinstance(events[0], Failed)
    assert "server" not in events[0].message  # mmchat's own check, before any request


def test_a_stream_cut_mid_answer_keeps_the_text_marked_failed(
    isolated_home: Path, tmp_path: Path
) -> None:
    server = _start_server(tmp_path / "server.log")
    try:
        write_settings(f'[servers.local]\nbase_url = "{server.url}"\n')
        proc = subprocess.Popen(
            [*MMCHAT, "ask", "--model", "local", "--max-tokens", "400", "Write a long story."],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        seen = first_words(proc)
        assert seen.strip(), "no output before the deadline"
        server.proc.kill()  # the server dies mid-answer
        _, err = proc.communicate(timeout=60)
    finally:
        _stop(server)
    assert proc.returncode == 1
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and "server local cut the answer off" in lines[0]
    saved = rows(isolated_home)
    assert saved[1][:2] == ("assistant", "failed")
    assert seen.decode(errors="ignore").strip()[:10] in saved[1][2]
    assert "cut the answer off" in str(saved[1][3])


# -- the TUI -----------------------------------------------------------------------------------


async def test_the_tui_answers_from_a_server_and_escape_stops_it(llama_server: Server) -> None:
    from textual.pilot import Pilot

    from mmchat.engine.base import Engine
    from mmchat.session import make_engine, open_session
    from mmchat.tui.app import MMChatApp
    from mmchat.tui.widgets.chat_log import ChatLog
    from mmchat.tui.widgets.composer import Composer

    async def wait_for(pilot: Pilot[object], condition: object, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not condition():  # type: ignore[operator]  # a callable
            assert time.monotonic() < deadline, "timed out waiting for the app"
            await pilot.pause(0.05)

    # greedy (temperature 0, from settings as a person would set it): a fixed first answer
    write_settings(f'temperature = 0\n[servers.local]\nbase_url = "{llama_server.url}"\n')
    session = open_session(plugins=False)
    engines: list[Engine] = []

    def factory(name: str) -> Engine:
        engine = make_engine(name, quant="auto", threads=1, servers=session.settings.servers)
        engines.append(engine)
        return engine

    app = MMChatApp(session, model="local", engine_factory=factory)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: app.host.state in ("ready", "failed"))
            assert app.host.state == "ready", app.host.error
            assert isinstance(engines[0], ServerEngine)
            chat = app.get_screen("chat")
            for question in ("What is the capital of France?", "Write a long story."):
                composer = app.screen.query_one(Composer)
                composer.text = question
                composer.focus()
                await pilot.press("enter")
                box = app.screen.query_one(ChatLog).boxes[-1]
                assert box.role == "assistant"
                if question.startswith("Write"):
                    await wait_for(pilot, lambda: len(box.text) > 20)  # noqa: B023
                    await pilot.press("escape")
                await wait_for(pilot, lambda: chat.runner is None)  # type: ignore[attr-defined]
        [conv] = session.store.conversations()
        first, stopped = session.store.messages(conv.id)[1::2]
        expected = greedy_reply(llama_server, "What is the capital of France?")
        assert first.status == "complete" and first.content.strip().startswith(expected)
        assert first.completion_tokens
        assert stopped.status == "stopped" and len(stopped.content) > 20
    finally:
        session.close()


def test_a_server_that_never_answers_times_out_in_one_line() -> None:
    from mmchat.engine.base import EngineError

    # A port that accepts connections and never replies: a hung server.
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(8)
        url = f"http://127.0.0.1:{hung.getsockname()[1]}/v1"
        engine = ServerEngine("stuck", url, "m", timeout=0.5)
        try:
            with pytest.raises(EngineError) as info:
                engine.load()
        finally:
            engine.close()
    assert str(info.value) == (
        f"server stuck ({url}) did not answer within 0.5 s (timeout in [servers.stuck])"
    )
