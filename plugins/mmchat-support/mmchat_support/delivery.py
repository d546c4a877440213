"""Sending tickets to the people who answer them, through channels set in settings.toml.

    [support.delivery]
    command = ["/usr/local/bin/new-ticket", "--queue", "support"]  # ticket JSON on stdin
    webhook = "https://helpdesk.example.com/hooks/mmchat"           # ticket JSON POSTed
    spool = "~/Mail/support.mbox"                                  # appended as a mail message

Any of them, or several: a ticket is delivered once every configured channel took it, and a
retry skips the channels that already did. Delivery runs in a background thread, never in the
chat's way; what fails stays 'failed' and is retried on a later turn and by
`mmchat tickets deliver`. A channel may see a ticket twice (a process killed after sending and
before recording it): receivers should treat the ticket id as the key.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import mailbox
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

from mmchat.hooks import one_line, plugin_settings

if TYPE_CHECKING:  # the store loads on first use, not when mmchat starts
    from mmchat.hooks import Ticket, Tickets

SECTION = "support"
RETRY_AFTER_SECONDS = 30.0  # a failed ticket is retried on a turn no sooner than this


class DeliveryError(Exception):
    """A channel did not take the ticket; the message is one line."""


@dataclass(frozen=True)
class DeliveryConfig:
    command: tuple[str, ...] = ()
    webhook: str = ""
    spool: Path | None = None
    mail_to: str = "support@localhost"
    timeout: float = 10.0  # seconds, for the command and for each webhook request
    webhook_attempts: int = 3  # per delivery run, with a short pause between

    @property
    def channels(self) -> list[str]:
        found = [("command", bool(self.command)), ("webhook", bool(self.webhook))]
        return [name for name, on in [*found, ("spool", self.spool is not None)] if on]


def load_config() -> DeliveryConfig:
    """The [support.delivery] table of settings.toml; ValueError names what is wrong."""
    raw = plugin_settings(SECTION).get("delivery", {})
    where = "settings.toml [support.delivery]"
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must be a table")
    unknown = set(raw) - {"command", "webhook", "spool", "mail_to", "timeout", "webhook_attempts"}
    if unknown:
        raise ValueError(f"{where}: unknown setting(s) {', '.join(sorted(unknown))}")
    command = raw.get("command", [])
    if not isinstance(command, list) or not all(isinstance(a, str) and a for a in command):
        raise ValueError(f"{where}: 'command' must be a list of strings, like [\"/path/to/cmd\"]")
    webhook = raw.get("webhook", "")
    if not isinstance(webhook, str) or (
        webhook and not webhook.startswith(("http://", "https://"))
    ):
        raise ValueError(f"{where}: 'webhook' must be an http:// or https:// URL")
    spool = raw.get("spool", "")
    if not isinstance(spool, str):
        raise ValueError(f"{where}: 'spool' must be a file path")
    timeout, attempts = raw.get("timeout", 10.0), raw.get("webhook_attempts", 3)
    if not isinstance(timeout, int | float) or not 0 < timeout <= 300:
        raise ValueError(f"{where}: 'timeout' must be a number of seconds, 0 to 300")
    if not isinstance(attempts, int) or not 1 <= attempts <= 10:
        raise ValueError(f"{where}: 'webhook_attempts' must be a whole number, 1 to 10")
    return DeliveryConfig(
        command=tuple(command),
        webhook=webhook,
        spool=Path(spool).expanduser() if spool else None,
        mail_to=str(raw.get("mail_to", "support@localhost")),
        timeout=float(timeout),
        webhook_attempts=attempts,
    )


# -- channels ------------------------------------------------------------------------------------


def send_command(ticket: Ticket, config: DeliveryConfig) -> None:
    """Run the command (no shell) with the ticket as JSON on stdin; exit 0 means taken."""
    try:
        result = subprocess.run(
            list(config.command),
            input=json.dumps(ticket.to_dict()).encode(),
            capture_output=True,
            timeout=config.timeout,
            check=False,
        )
    except FileNotFoundError:
        raise DeliveryError(f"command not found: {config.command[0]}") from None
    except PermissionError:
        raise DeliveryError(f"command not executable: {config.command[0]}") from None
    except subprocess.TimeoutExpired:
        raise DeliveryError(f"command did not finish in {config.timeout:g} s") from None
    if result.returncode != 0:
        said = one_line(result.stderr.decode(errors="replace"), 200)
        raise DeliveryError(f"command exited {result.returncode}" + (f": {said}" if said else ""))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # urllib would follow a 301/302 with a GET and no body, and its 2xx would read as taken.
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def send_webhook(
    ticket: Ticket, config: DeliveryConfig, sleep: Callable[[float], None] = time.sleep
) -> None:
    """POST the ticket as JSON; any 2xx means taken. Tried `webhook_attempts` times."""
    body = json.dumps(ticket.to_dict()).encode()
    problem = ""
    for attempt in range(config.webhook_attempts):
        if attempt:
            sleep(min(0.5 * 2**attempt, 5.0))
        request = urllib.request.Request(
            config.webhook,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "mmchat-support"},
        )
        try:
            with _OPENER.open(request, timeout=config.timeout) as response:
                response.read(65536)
            return
        except urllib.error.HTTPError as exc:
            problem = f"HTTP {exc.code} {exc.reason}"
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            problem = one_line(str(reason), 200)
    raise DeliveryError(f"webhook: {problem} (after {config.webhook_attempts} tries)")


def append_spool(ticket: Ticket, config: DeliveryConfig) -> None:
    """Append the ticket to an mbox file as a mail message, under the mbox lock."""
    assert config.spool is not None
    path = config.spool
    try:
        if not path.exists():
            # Private from the start: tickets quote customers.
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW, 0o600))
        box = mailbox.mbox(path, create=False)
        box.lock()
        try:
            box.add(mail_message(ticket, config.mail_to))
            box.flush()
        finally:
            box.unlock()
            box.close()
    except (OSError, mailbox.Error) as exc:
        raise DeliveryError(f"spool {path}: {one_line(str(exc), 200)}") from None


def mail_message(ticket: Ticket, to: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "mmchat support <mmchat@localhost>"
    message["To"] = to
    message["Subject"] = one_line(f"[{ticket.id}] {ticket.reason}: {ticket.customer_text}", 120)
    message["Date"] = email.utils.formatdate(ticket.created_at, localtime=False)
    message["Message-ID"] = f"<{ticket.id}@mmchat.localhost>"
    message["X-Mmchat-Ticket"] = ticket.id
    details = ticket.details
    lines = [
        f"Ticket: {ticket.id} ({ticket.priority} priority)",
        f"Reason: {ticket.reason}",
        f"Conversation: {ticket.conversation_id} (persona {ticket.persona})",
        f"Company / product: {details.get('company', '')} / {details.get('product', '')}",
        "",
        "The customer wrote:",
        ticket.customer_text,
    ]
    if recent := details.get("recent", [])[:-1]:
        lines += ["", "Before that:", *[f"- {text}" for text in recent]]
    message.set_content("\n".join(lines))
    message.add_attachment(
        json.dumps(ticket.to_dict(), indent=2).encode(),
        maintype="application",
        subtype="json",
        filename=f"{ticket.id}.json",
    )
    return message


_CHANNELS: dict[str, Callable[[Ticket, DeliveryConfig], None]] = {
    "command": send_command,
    "webhook": send_webhook,
    "spool": append_spool,
}


# -- delivering ----------------------------------------------------------------------------------


def deliver(tickets: Tickets, ticket: Ticket, config: DeliveryConfig) -> Ticket:
    """Send a claimed ticket through each channel that has not taken it yet; record it."""
    done = list(ticket.delivered_to)
    errors = []
    for name in config.channels:
        if name in done:
            continue
        try:
            _CHANNELS[name](ticket, config)
        except DeliveryError as exc:
            errors.append(str(exc))
        except Exception as exc:  # a channel's surprise must not lose the claim
            errors.append(f"{name}: {type(exc).__name__}: {one_line(str(exc), 200)}")
        else:
            done.append(name)
    return tickets.record_delivery(ticket.id, delivered_to=done, error="; ".join(errors) or None)


def deliver_waiting(
    tickets: Tickets, config: DeliveryConfig, *, retry_after: float = 0.0
) -> list[Ticket]:
    """Every ticket waiting for delivery, sent now; returns them as recorded afterwards."""
    if not config.channels:
        return []
    results = []
    for ticket in tickets.claim_undelivered(retry_after=retry_after):
        try:
            results.append(deliver(tickets, ticket, config))
        except Exception:  # the conversation (and its ticket) was deleted meanwhile
            continue
    return results


class Courier:
    """One background delivery run at a time per process; a request during a run makes it go
    round once more. The thread is not a daemon: a short-lived `mmchat ask` waits for it at
    exit (bounded by the channels' timeouts) instead of cutting a delivery in half."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = False
        self._again = False
        self.thread: threading.Thread | None = None

    def start(self, tickets: Tickets, config: DeliveryConfig, retry_after: float) -> None:
        with self._lock:
            if self._running:
                self._again = True
                return
            self._running = True
        self.thread = threading.Thread(
            target=self._run,
            args=(tickets, config, retry_after),
            name="mmchat-support-delivery",
            daemon=False,
        )
        self.thread.start()

    def _run(self, tickets: Tickets, config: DeliveryConfig, retry_after: float) -> None:
        while True:
            with contextlib.suppress(Exception):  # nothing here may reach the chat
                deliver_waiting(tickets, config, retry_after=retry_after)
            with self._lock:
                if not self._again:
                    self._running = False
                    return
                self._again = False

    def wait(self, timeout: float | None = None) -> None:
        if self.thread is not None:
            self.thread.join(timeout)


COURIER = Courier()


def describe(ticket: Ticket) -> str:
    """Where a ticket's delivery stands, in a few words for `mmchat tickets list`."""
    if ticket.delivery == "delivered":
        return "delivered"
    if ticket.delivery == "failed":
        tries = "try" if ticket.attempts == 1 else "tries"
        return f"failed ({ticket.attempts} {tries}): {ticket.last_error or ''}".strip()
    return ticket.delivery
