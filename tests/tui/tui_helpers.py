"""Waiting helpers for Pilot tests (polling with a deadline, never a bare sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.pilot import Pilot


async def wait_for(pilot: Pilot, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.02)
    await pilot.pause()


async def wait_ready(pilot: Pilot, timeout: float = 10.0) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.host.state in ("ready", "failed"), timeout)  # type: ignore[attr-defined]


async def wait_answered(pilot: Pilot, timeout: float = 10.0) -> None:
    screen = pilot.app.get_screen("chat")
    await wait_for(pilot, lambda: screen.runner is None, timeout)  # type: ignore[attr-defined]
    await pilot.pause(0.05)
