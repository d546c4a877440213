"""An OpenAI-compatible model server as an engine (vLLM, llama.cpp's server, Ollama, hosted APIs).

It runs in the caller's process: the work happens on the server, and what is left here is a
network stream, which the TUI reads in a thread worker like any other engine's. The `openai`
client is imported on first use, so `mmchat --help` does not pay for it.
"""

from __future__ import annotations

import base64
import io
import json
import os
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

from mmchat.engine.base import (
    ChatMessage,
    Delta,
    EngineError,
    Event,
    Failed,
    Finished,
    FinishReason,
    GenerationRequest,
    ModelInfo,
    Progress,
    ProgressCallback,
    Started,
    open_picture,
)
from mmchat.text import one_line

if TYPE_CHECKING:
    from openai import OpenAI
    from openai.types.chat import ChatCompletionFunctionToolParam, ChatCompletionMessageParam

# Sent when no key is configured: the client insists on one, and a local server ignores it.
_NO_KEY = "no-key"
_SHOWN_MODELS = 8  # how many of the server's models an "unknown model" error lists


class ServerEngine:
    """Streams chat completions from the server `name` (a [servers.NAME] table in settings)."""

    def __init__(
        self,
        name: str,
        base_url: str,
        model: str = "",
        *,
        api_key_env: str = "",
        timeout: float = 60.0,
    ) -> None:
        self.name = name
        self.base_url = base_url
        self.model = model  # "": the one model the server lists, found by load()
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.info: ModelInfo | None = None
        self.on_progress: ProgressCallback | None = None  # for loads that stream() starts
        self._client: OpenAI | None = None
        self._cancelled = threading.Event()
        self._response: Any = None  # the open stream, closed by cancel()
        self._lock = threading.Lock()
        self._images = False  # whether the request being answered carries pictures

    # -- Engine protocol -------------------------------------------------------------------

    def load(self, progress: ProgressCallback | None = None) -> ModelInfo:
        """Ask the server which models it has: an unreachable server, a refused key or an
        unknown model is found here, before a question is sent."""
        if progress is not None:
            progress(Progress(f"connecting to {self.name} ({self.base_url})", 0.0))
        client = self._connect()
        listed = self._list_models(client)
        if not self.model:
            if listed is None or len(listed) != 1:
                have = f" (it has: {self._shown(listed)})" if listed else ""
                raise EngineError(
                    f"server {self.name}: name a model, as --model {self.name}:MODEL or "
                    f"model = ... in [servers.{self.name}]{have}"
                )
            self.model = listed[0]
        elif listed and not _listed(self.model, listed):
            raise EngineError(self._unknown_model(listed))
        self.info = ModelInfo(
            name=f"{self.name}:{self.model}",
            device=f"server {self.name}",
            quant="server",
            context_window=0,  # unknown: the server fits the prompt or says why not
            vision=True,  # the server decides; one without vision refuses images in one line
        )
        if progress is not None:
            progress(Progress("ready", 1.0))
        return self.info

    def stream(self, request: GenerationRequest) -> Iterator[Event]:
        if self.info is None:
            try:
                self.load(self.on_progress)
            except EngineError as exc:
                yield Failed(str(exc))
                return
        self._cancelled.clear()
        started = time.monotonic()
        self._images = any(m.images for m in request.messages)
        try:
            messages = _messages(request.messages)
        except EngineError as exc:
            yield Failed(str(exc))
            return
        from openai import OpenAIError, omit

        try:
            response = self._connect().chat.completions.create(
                model=self.model,
                messages=cast("list[ChatCompletionMessageParam]", messages),
                stream=True,
                stream_options={"include_usage": True},
                max_tokens=request.max_new_tokens,
                **_sampling(request),
                tools=cast("list[ChatCompletionFunctionToolParam]", request.tools)
                if request.tools
                else omit,
            )
        except OpenAIError as exc:
            yield Failed(self._explain(exc))
            return
        with self._lock:
            self._response = response
        if self._cancelled.is_set():
            response.close()
        deltas = 0
        first: float | None = None
        reason: str | None = None
        usage: Any = None
        calls: dict[int, dict[str, str]] = {}  # a server that parses calls sends them in parts
        try:
            for chunk in response:
                usage = chunk.usage or usage
                for choice in chunk.choices:
                    if choice.delta.content:
                        deltas += 1
                        first = time.monotonic() - started if first is None else first
                        yield Delta(choice.delta.content)
                    for part in choice.delta.tool_calls or []:
                        _add_call_part(calls, part)
                    reason = choice.finish_reason or reason
                if self._cancelled.is_set():
                    break
        except Exception as exc:  # a dropped connection, a timeout, or cancel() closing it
            if not self._cancelled.is_set():
                yield Failed(self._cut(exc, deltas))
                return
        finally:
            with self._lock:
                self._response = None
            response.close()
        if calls and not self._cancelled.is_set():
            # The turn reads calls from the answer's text, as a local model writes them.
            deltas += len(calls)
            yield Delta("".join(_call_text(calls[i]) for i in sorted(calls)))
        if not deltas and self._images and not self._cancelled.is_set():
            # llama.cpp's server without a vision projector answers nothing (no error) when
            # sent a picture; an empty answer is never what the person wanted.
            yield Failed(
                f"server {self.name} sent an empty answer to a question with an image; is "
                f"{self.model!r} a vision model?"
            )
            return
        # Tools were sent with the request: the server's template (or its parser) has them.
        if (usage is not None and usage.prompt_tokens is not None) or request.tools:
            prompt = usage.prompt_tokens if usage is not None else None
            yield Started(prompt_tokens=prompt or 0, tools_offered=bool(request.tools))
        finish: FinishReason = "length" if reason == "length" else "stop"
        if self._cancelled.is_set():
            finish = "cancelled"
        tokens = usage.completion_tokens if usage is not None else None
        yield Finished(
            finish, tokens if tokens is not None else deltas, time.monotonic() - started, first
        )

    def cancel(self) -> None:
        """Stop the answer: the stream is closed, what was written is kept by the turn."""
        self._cancelled.set()
        with self._lock:
            response = self._response
        if response is not None:
            # Closed off the caller's thread (the TUI's): closing a connection another thread
            # reads may wait on it, and a server still reading a long prompt sends nothing yet.
            threading.Thread(target=_close_quietly, args=(response,), daemon=True).start()

    def close(self) -> None:
        self.cancel()
        client, self._client = self._client, None
        if client is not None:
            client.close()

    # -- helpers ---------------------------------------------------------------------------

    def _connect(self) -> OpenAI:
        if self._client is None:
            from openai import OpenAI

            key = os.environ.get(self.api_key_env, "") if self.api_key_env else ""
            self._client = OpenAI(
                api_key=key.strip() or _NO_KEY,
                base_url=self.base_url,
                timeout=self.timeout,
                max_retries=1,  # a restarting server gets one more try, a dead one fails fast
            )
        return self._client

    def _list_models(self, client: OpenAI) -> list[str] | None:
        """The model ids the server lists, or None where it cannot list them."""
        from openai import NotFoundError, OpenAIError

        try:
            return [m.id for m in client.models.list()]
        except NotFoundError:
            return None  # a server without /models still answers chat completions
        except OpenAIError as exc:
            raise EngineError(self._explain(exc)) from None

    def _shown(self, listed: list[str] | None) -> str:
        listed = listed or []
        more = f" and {len(listed) - _SHOWN_MODELS} more" if len(listed) > _SHOWN_MODELS else ""
        return ", ".join(listed[:_SHOWN_MODELS]) + more

    def _unknown_model(self, listed: list[str] | None) -> str:
        have = f" (it has: {self._shown(listed)})" if listed else ""
        return f"server {self.name} has no model {self.model!r}{have}"

    def _explain(self, exc: Exception) -> str:
        """One line for a person from the client's exception."""
        from openai import (
            APIConnectionError,
            APIStatusError,
            APITimeoutError,
            AuthenticationError,
            BadRequestError,
            NotFoundError,
            PermissionDeniedError,
        )

        where = f"server {self.name} ({self.base_url})"
        if isinstance(exc, APITimeoutError):
            return (
                f"{where} did not answer within {self.timeout:g} s "
                f"(timeout in [servers.{self.name}])"
            )
        if isinstance(exc, APIConnectionError):
            cause = _root_cause(exc)
            if "refused" in cause.lower():
                return f"cannot reach {where}: connection refused (is the server running?)"
            return f"cannot reach {where}: {cause or 'connection failed'}"
        said = _server_said(exc)
        if isinstance(exc, AuthenticationError | PermissionDeniedError):
            code = exc.status_code
            if not self.api_key_env:
                return (
                    f"{where} wants an API key ({code}): put it in an environment variable "
                    f"and name that variable with api_key_env in [servers.{self.name}]"
                )
            if not os.environ.get(self.api_key_env, "").strip():
                return (
                    f"{where} wants an API key ({code}): the environment variable "
                    f"{self.api_key_env} that should hold it is not set"
                )
            refused = "refused" if code == 401 else "does not allow this with"
            return f"{where} {refused} the key in {self.api_key_env} ({code}: {said})"
        if isinstance(exc, NotFoundError):
            if "model" in said.lower():
                listed: list[str] | None = None
                try:
                    listed = self._list_models(self._connect())
                except EngineError:
                    pass
                return self._unknown_model(listed)
            return (
                f"{where}: {said} (404): check base_url; OpenAI-compatible servers usually "
                "end it in /v1"
            )
        if isinstance(exc, BadRequestError) and _about_images(said):
            return f"{where}: model {self.model!r} cannot read images (it said: {said})"
        if isinstance(exc, BadRequestError) and self._images:
            # A text-only server may read the image part as text (llama.cpp's without a
            # vision projector does) and then fail on its length or shape.
            return (
                f"{where} refused a question with an image (400: {said}); is {self.model!r} "
                "a vision model?"
            )
        if isinstance(exc, APIStatusError):
            return f"{where} answered {exc.status_code}: {said}"
        return f"{where}: {_one_line(str(exc))}"

    def _cut(self, exc: Exception, deltas: int) -> str:
        """The answer ended with an error after `deltas` pieces of text."""
        from openai import APIStatusError, APITimeoutError, OpenAIError

        if isinstance(exc, APITimeoutError):
            why = f"no reply for {self.timeout:g} s"
        elif isinstance(exc, APIStatusError):
            why = self._explain(exc)
        elif isinstance(exc, OpenAIError):
            why = _server_said(exc) if not exc.__cause__ else _root_cause(exc)
        else:
            why = _one_line(str(exc)) or type(exc).__name__
        if deltas:
            return f"server {self.name} cut the answer off ({why}); what it wrote is kept"
        return f"server {self.name} sent no answer ({why})"


def _close_quietly(response: Any) -> None:
    try:
        response.close()
    except Exception:
        pass  # the reading thread sees the flag at its next chunk anyway


def _messages(messages: list[ChatMessage]) -> list[dict[str, Any]]:
    """The chat as the API takes it: a tool call gets an id, and its result names that id."""
    out: list[dict[str, Any]] = []
    waiting: list[str] = []  # ids of calls whose results come next, in order
    for message in messages:
        if message.role == "assistant" and message.tool_calls:
            ids = [f"call_{len(out)}_{n}" for n in range(len(message.tool_calls))]
            waiting += ids
            calls = [
                _api_call(call, id_) for call, id_ in zip(message.tool_calls, ids, strict=True)
            ]
            # content "" not None: llama.cpp's server refuses a null content.
            out.append({"role": "assistant", "content": message.content, "tool_calls": calls})
        elif message.role == "tool":
            call_id = waiting.pop(0) if waiting else f"call_{len(out)}"
            out.append({"role": "tool", "tool_call_id": call_id, "content": message.content})
        else:
            out.append(_message(message))
    return out


def _api_call(call: dict[str, Any], call_id: str) -> dict[str, Any]:
    """A template-style call ({"function": {"name", "arguments": {...}}}) in the API's form,
    whose arguments are a JSON string."""
    function = call.get("function", call)
    arguments = function.get("arguments", {})
    return {
        "id": call_id,
        "type": "function",
        "function": {
            "name": str(function.get("name", "")),
            "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
        },
    }


def _add_call_part(calls: dict[int, dict[str, str]], part: Any) -> None:
    """One streamed piece of a parsed tool call: the name comes once, the arguments in parts."""
    call = calls.setdefault(getattr(part, "index", None) or 0, {"name": "", "arguments": ""})
    function = getattr(part, "function", None)
    if function is not None:
        call["name"] += getattr(function, "name", None) or ""
        call["arguments"] += getattr(function, "arguments", None) or ""


def _call_text(call: dict[str, str]) -> str:
    """A parsed call written as Hermes-style text, the form the turn reads (tools/calls.py);
    the arguments stay the server's JSON string, which the reader parses."""
    body = json.dumps({"name": call["name"], "arguments": call["arguments"]}, ensure_ascii=False)
    return f"<tool_call>{body}</tool_call>"


def _message(message: ChatMessage) -> dict[str, Any]:
    """A chat message as the API takes it; images, checked here first, as PNG data URLs."""
    if not message.images:
        return {"role": message.role, "content": message.content}
    parts: list[dict[str, Any]] = [{"type": "text", "text": message.content}]
    for blob in message.images:
        picture = open_picture(blob)  # mmchat's own checks: size, format, decompression bombs
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        data = base64.b64encode(buffer.getvalue()).decode("ascii")
        parts.append({"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}})
    return {"role": message.role, "content": parts}


def _sampling(request: GenerationRequest) -> dict[str, Any]:
    """The request's sampling settings the API knows; None leaves the server's default. top_k
    and repeat_penalty are not part of the API, so they are not sent."""
    values = {"temperature": request.temperature, "top_p": request.top_p, "seed": request.seed}
    return {k: v for k, v in values.items() if v is not None}


def _listed(model: str, listed: list[str]) -> bool:
    # Ollama lists "llama3.2:latest" and answers to "llama3.2".
    return model in listed or f"{model}:latest" in listed


def _about_images(said: str) -> bool:
    said = said.lower()
    return any(word in said for word in ("image", "vision", "multimodal", "image_url"))


def _server_said(exc: Exception) -> str:
    """The server's own error message, from the usual JSON shapes, on one line."""
    body = getattr(exc, "body", None)
    message: object = None
    if isinstance(body, dict):
        error = body.get("error", body)
        message = error.get("message") if isinstance(error, dict) else error
        message = message or body.get("detail") or body.get("message")
    if not message:
        message = getattr(exc, "message", None) or str(exc)
    return _one_line(str(message))


def _root_cause(exc: BaseException) -> str:
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return _one_line(str(exc))


def _one_line(text: str) -> str:
    return one_line(text, 200)  # server text is untrusted: control characters go too
