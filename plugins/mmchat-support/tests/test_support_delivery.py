"""Tickets delivered through real channels: a command, a local HTTP server, an mbox file."""

from __future__ import annotations

import json
import mailbox
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from mmchat_support import plugin
from mmchat_support.delivery import COURIER, load_config
from typer.testing import CliRunner

from mmchat.hooks import PromptContext, Reply, Ticket, Tickets

Conversation = Callable[..., PromptContext]  # conftest's `conversation` fixture

RECORD = "import sys\nwith open(sys.argv[1], 'a') as f:\n    f.write(sys.stdin.read() + '\\n')\n"
REFUSE = "import sys\nsys.stdin.read()\nsys.stderr.write('queue full\\n')\nsys.exit(3)\n"
HANG = "import time\ntime.sleep(30)\n"


def settings(home: Path, **values: object) -> None:
    path = home / "config" / "settings.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["[support.delivery]", *(f"{k} = {json.dumps(v)}" for k, v in values.items())]
    path.write_text("\n".join(lines) + "\n")


def script(folder: Path, name: str, body: str) -> list[str]:
    path = folder / name
    path.write_text(body)
    return [sys.executable, str(path)]


def hand_off(conversation: Conversation, text: str = "I want to talk to a person") -> Ticket:
    """A customer asks for a person; waits for the background delivery; the stored ticket."""
    context = conversation(text)
    reply = plugin.mmchat_before_prompt(context)
    assert isinstance(reply, Reply)
    COURIER.wait(timeout=30)
    assert context.tickets is not None
    return context.tickets.get(reply.meta["ticket"]["id"])


class Receiver(BaseHTTPRequestHandler):
    fail_first = 0  # answer 503 to this many requests, then 200
    status = 503
    delay = 0.0
    bodies: list[dict[str, object]]
    requests = 0

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        server = type(self)
        server.requests += 1
        body = self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(server.delay)
        if server.requests <= server.fail_first:
            self.send_response(server.status)
            self.send_header("Location", "/elsewhere")
        else:
            assert self.headers["Content-Type"] == "application/json"
            server.bodies.append(json.loads(body))
            self.send_response(200)
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802
        type(self).requests += 1
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[Receiver]]]:
    handler = type("Handler", (Receiver,), {"bodies": [], "requests": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/tickets", handler
    server.shutdown()
    server.server_close()


def test_command_gets_the_ticket_as_json_on_stdin(
    conversation: Conversation, support_home: Path, tmp_path: Path
) -> None:
    received = tmp_path / "received.jsonl"
    settings(support_home, command=[*script(tmp_path, "record.py", RECORD), str(received)])
    ticket = hand_off(conversation)
    sent = json.loads(received.read_text())
    assert sent["id"] == ticket.id and sent["customer_text"] == "I want to talk to a person"
    assert sent["reason"] == "human requested" and sent["status"] == "open"
    assert (ticket.delivery, ticket.delivered_to, ticket.attempts) == ("delivered", ("command",), 1)


def test_a_failing_command_is_shown_and_retried_by_tickets_deliver(
    conversation: Conversation, support_home: Path, tmp_path: Path
) -> None:
    from mmchat_support.commands import app

    settings(support_home, command=script(tmp_path, "refuse.py", REFUSE))
    ticket = hand_off(conversation)
    assert (ticket.delivery, ticket.last_error) == ("failed", "command exited 3: queue full")
    db = str(support_home / "data" / "mmchat.db")
    listed = CliRunner().invoke(app, ["list", "--db", db])
    assert "failed (1 try): command exited 3: queue full" in listed.output
    received = tmp_path / "received.jsonl"
    settings(support_home, command=[*script(tmp_path, "record.py", RECORD), str(received)])
    result = CliRunner().invoke(app, ["deliver", "--db", db])
    assert result.exit_code == 0 and f"{ticket.id}  delivered" in result.output
    assert json.loads(received.read_text())["id"] == ticket.id
    assert Tickets(Path(db)).get(ticket.id).attempts == 2


def test_a_hanging_command_is_stopped_at_the_timeout(
    conversation: Conversation, support_home: Path, tmp_path: Path
) -> None:
    settings(support_home, command=script(tmp_path, "hang.py", HANG), timeout=0.5)
    started = time.monotonic()
    ticket = hand_off(conversation)
    assert time.monotonic() - started < 10
    assert (ticket.delivery, ticket.last_error) == ("failed", "command did not finish in 0.5 s")


def test_webhook_that_fails_first_then_succeeds(
    conversation: Conversation, support_home: Path, receiver: tuple[str, type[Receiver]]
) -> None:
    url, server = receiver
    server.fail_first = 1
    settings(support_home, webhook=url)
    ticket = hand_off(conversation)
    assert ticket.delivery == "delivered" and server.requests == 2  # retried in the same run
    assert server.bodies[0]["id"] == ticket.id


def test_a_redirect_is_not_taken_for_delivery(
    conversation: Conversation, support_home: Path, receiver: tuple[str, type[Receiver]]
) -> None:
    url, server = receiver
    server.fail_first, server.status = 1, 302
    settings(support_home, webhook=url, webhook_attempts=1)
    ticket = hand_off(conversation)
    assert (ticket.delivery, ticket.last_error) == (
        "failed",
        "webhook: HTTP 302 Found (after 1 tries)",
    )
    assert server.requests == 1 and server.bodies == []  # no GET to where it pointed


def test_a_slow_webhook_never_holds_up_the_chat(
    conversation: Conversation,
    support_home: Path,
    receiver: tuple[str, type[Receiver]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, server = receiver
    server.fail_first, server.delay = 1, 1.5
    settings(support_home, webhook=url, webhook_attempts=1)
    first = conversation("connect me with an agent")
    started = time.monotonic()
    reply = plugin.mmchat_before_prompt(first)
    assert time.monotonic() - started < 1.0  # answered while the POST is still on its way
    assert isinstance(reply, Reply) and "is queued for a person" in reply.text
    COURIER.wait(timeout=30)
    assert first.tickets is not None
    ticket = first.tickets.get(reply.meta["ticket"]["id"])
    assert (ticket.delivery, ticket.last_error) == (
        "failed",
        "webhook: HTTP 503 Service Unavailable (after 1 tries)",
    )
    # The customer's next ordinary message retries it, again in the background.
    monkeypatch.setattr(plugin, "RETRY_AFTER_SECONDS", 0.0)
    later = conversation("and how do I export my data?", conv=first.conversation_id)
    started = time.monotonic()
    assert plugin.mmchat_before_prompt(later) is None
    assert time.monotonic() - started < 1.0
    COURIER.wait(timeout=30)
    assert first.tickets.get(ticket.id).delivery == "delivered"
    assert [body["id"] for body in server.bodies] == [ticket.id]


def test_spool_is_a_real_mbox(
    conversation: Conversation, support_home: Path, tmp_path: Path
) -> None:
    spool = tmp_path / "support.mbox"
    settings(support_home, spool=str(spool), mail_to="help@example.com")
    first = hand_off(conversation, "Can I speak to your supervisor?")
    second = hand_off(conversation, "operator please")
    assert stat.S_IMODE(spool.stat().st_mode) == 0o600  # it quotes customers
    box = mailbox.mbox(spool)
    messages = list(box)
    box.close()
    assert [m["X-Mmchat-Ticket"] for m in messages] == [first.id, second.id]
    mail = messages[0]
    assert mail["To"] == "help@example.com"
    assert mail["Subject"].startswith(f"[{first.id}] human requested: Can I speak")
    parts = list(mail.walk())
    body = parts[1].get_payload(decode=True).decode()
    assert "The customer wrote:\nCan I speak to your supervisor?" in body
    attached = json.loads(parts[2].get_payload(decode=True))
    assert attached["id"] == first.id and attached["persona"] == "support"


def test_several_channels_retry_only_the_one_that_failed(
    conversation: Conversation,
    support_home: Path,
    tmp_path: Path,
    receiver: tuple[str, type[Receiver]],
) -> None:
    from mmchat_support.commands import app

    url, server = receiver
    server.fail_first = 1
    received = tmp_path / "received.jsonl"
    command = [*script(tmp_path, "record.py", RECORD), str(received)]
    settings(support_home, command=command, webhook=url, webhook_attempts=1)
    ticket = hand_off(conversation)
    assert (ticket.delivery, ticket.delivered_to) == ("failed", ("command",))
    db = str(support_home / "data" / "mmchat.db")
    assert CliRunner().invoke(app, ["deliver", "--db", db]).exit_code == 0
    assert len(received.read_text().splitlines()) == 1  # the command was not run twice
    assert [body["id"] for body in server.bodies] == [ticket.id]
    assert Tickets(Path(db)).get(ticket.id).delivered_to == ("command", "webhook")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"command": "notify-send"}, "'command' must be a list of strings"),
        ({"webhook": "ftp://x"}, "'webhook' must be an http:// or https:// URL"),
        ({"spool": 3}, "'spool' must be a file path"),
        ({"timeout": -1}, "'timeout' must be a number of seconds"),
        ({"webhok": "http://x"}, "unknown setting(s) webhok"),
    ],
)
def test_bad_settings_are_one_line_errors(
    support_home: Path, values: dict[str, object], message: str
) -> None:
    settings(support_home, **values)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config()
