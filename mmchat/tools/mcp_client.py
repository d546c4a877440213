"""One MCP server, spoken to with the official `mcp` SDK from synchronous code.

The SDK is asynchronous and its transports must be opened and closed by the same task, so each
server gets a thread running its own event loop: the task there opens the transport and the
session, lists the tools and then waits to be told to close; calls run as tasks on that loop.
Everything that can go wrong (a program that does not start, a server that hangs, crashes or
answers garbage, a URL that is not a server) comes back as a McpFailure with one line to show.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from mmchat.text import one_line
from mmchat.tools.settings import McpServerConfig

# The SDK logs what a server got wrong with tracebacks; the person sees one line from here.
logging.getLogger("mcp").addHandler(logging.NullHandler())
logging.getLogger("mcp").propagate = False

# Extra seconds the calling thread waits past a server's own timeout before giving up on it.
_GRACE = 5.0
MAX_TOOLS_PER_SERVER = 128
_MAX_PAGES = 8


class McpFailure(Exception):
    """A server or one of its calls failed; the message is one line for a person."""


@dataclass(frozen=True)
class McpTool:
    name: str
    description: str
    schema: dict[str, Any]


@dataclass(frozen=True)
class McpResult:
    text: str
    is_error: bool


class McpClient:
    """A running connection to one server: `start()`, then `call()`, then `close()`."""

    def __init__(self, config: McpServerConfig, errlog: Path | None = None) -> None:
        self.config = config
        self.errlog = errlog
        self.tools: list[McpTool] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._session: Any = None
        self._stop: asyncio.Event | None = None
        self._ready: concurrent.futures.Future[list[McpTool]] = concurrent.futures.Future()
        self._thread: threading.Thread | None = None
        self._dead: str | None = None  # why the connection ended, once it has
        self._garbage = False  # the server wrote something that is not JSON-RPC

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> list[McpTool]:
        """Start (or reach) the server and list its tools; raises McpFailure."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"mcp-{self.config.name}", daemon=True
            )
            self._thread.start()
        try:
            self.tools = self._ready.result(self.config.start_timeout + _GRACE)
        except concurrent.futures.TimeoutError:
            self.close()
            raise McpFailure(self._timed_out("start", self.config.start_timeout)) from None
        except McpFailure:
            raise
        return self.tools

    def close(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop ended meanwhile
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=_GRACE)
        self._dead = self._dead or "closed"

    # -- calls --------------------------------------------------------------------------------

    def call(self, tool: str, arguments: dict[str, Any]) -> McpResult:
        """Run one tool; the server's own error (is_error) is a result, not a failure."""
        loop, session = self._loop, self._session
        if self._dead is not None or loop is None or session is None:
            raise McpFailure(f"MCP server '{self.config.name}' is not running ({self._dead})")
        timeout = self.config.timeout

        async def run() -> Any:
            import anyio

            with anyio.fail_after(timeout):
                return await session.call_tool(tool, arguments)

        future = asyncio.run_coroutine_threadsafe(run(), loop)
        try:
            result = future.result(timeout + _GRACE)
        except TimeoutError:
            future.cancel()
            raise McpFailure(self._timed_out(f"run {tool}", timeout)) from None
        except Exception as exc:
            why = describe(exc)
            if self._dead is None and why.lower().startswith("connection closed"):
                self._dead = "the connection closed"  # the server exited or crashed
            if self._dead is not None:
                raise McpFailure(f"MCP server '{self.config.name}' stopped: {self._dead}") from None
            raise McpFailure(f"{self.config.name}.{tool}: {why}") from None
        return McpResult(result_text(result), bool(getattr(result, "is_error", False)))

    def _timed_out(self, what: str, seconds: float) -> str:
        return f"MCP server '{self.config.name}' did not {what} within {seconds:g} s"

    # -- the server's thread ------------------------------------------------------------------

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # the thread must not die silently: report and end
            self._fail(describe(exc))

    def _fail(self, why: str) -> None:
        self._dead = self._dead or why
        if not self._ready.done():
            self._ready.set_exception(McpFailure(f"MCP server '{self.config.name}': {why}"))

    async def _main(self) -> None:
        import anyio
        from mcp import ClientSession

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        with self._error_log() as errlog:
            async with contextlib.AsyncExitStack() as stack:
                read, write = await stack.enter_async_context(self._transport(errlog))
                session = await stack.enter_async_context(
                    # No read timeout of the SDK's: start and calls have their own limits here.
                    ClientSession(read, write, message_handler=self._incoming)
                )
                try:
                    with anyio.fail_after(self.config.start_timeout):
                        await session.initialize()
                        tools = await self._list_tools(session)
                except TimeoutError:
                    self._fail(
                        "it answered with text that is not MCP (JSON-RPC)"
                        if self._garbage
                        else f"no answer within {self.config.start_timeout:g} s"
                    )
                    return
                self._session = session
                self._ready.set_result(tools)
                await self._stop.wait()
        self._dead = self._dead or "closed"

    async def _incoming(self, message: Any) -> None:
        if isinstance(message, Exception):
            self._garbage = True

    def _transport(self, errlog: TextIO) -> Any:
        if self.config.url:
            from mcp.client.streamable_http import streamable_http_client

            return streamable_http_client(self.config.url)
        from mcp import StdioServerParameters, stdio_client

        params = StdioServerParameters(
            command=self.config.command,
            args=list(self.config.args),
            env=dict(self.config.env) or None,
            cwd=self.config.cwd or None,
            encoding_error_handler="replace",
        )
        return stdio_client(params, errlog=errlog)

    @contextlib.contextmanager
    def _error_log(self) -> Any:
        """Where a stdio server's stderr goes: a log file, never the person's terminal."""
        path = self.errlog
        handle: TextIO
        try:
            if path is None:
                raise OSError("no log")
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            handle = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed below
        except OSError:
            handle = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
        try:
            yield handle
        finally:
            handle.close()

    async def _list_tools(self, session: Any) -> list[McpTool]:
        from mcp.types import PaginatedRequestParams

        tools: list[McpTool] = []
        cursor: str | None = None
        for _ in range(_MAX_PAGES):
            params = PaginatedRequestParams(cursor=cursor) if cursor else None
            listed = await session.list_tools(params=params)
            for tool in listed.tools:
                schema = tool.input_schema if isinstance(tool.input_schema, dict) else {}
                tools.append(McpTool(tool.name, one_line(tool.description or "", 1000), schema))
            cursor = listed.next_cursor
            if not cursor or len(tools) >= MAX_TOOLS_PER_SERVER:
                break
        return tools[:MAX_TOOLS_PER_SERVER]


def result_text(result: Any) -> str:
    """A call's content blocks as text: text as it is, other kinds named, not sent."""
    parts: list[str] = []
    for block in getattr(result, "content", None) or []:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(str(block.text))
        elif kind == "resource" and isinstance(getattr(block.resource, "text", None), str):
            parts.append(block.resource.text)
        else:
            mime = getattr(block, "mime_type", None) or kind or "unknown"
            parts.append(f"[{mime} content not shown]")
    if not parts and getattr(result, "structured_content", None) is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    return "\n".join(parts)


def describe(exc: BaseException) -> str:
    """One line for what went wrong, from inside anyio's exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    error = getattr(exc, "error", None)
    if error is not None and isinstance(getattr(error, "message", None), str):
        return one_line(error.message)
    if isinstance(exc, FileNotFoundError):
        return f"cannot start it: {exc.filename or 'the program'} was not found"
    if isinstance(exc, OSError):
        return f"cannot start it: {exc.strerror or exc}"
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = one_line(str(exc))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
