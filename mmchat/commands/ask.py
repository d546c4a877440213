"""`mmchat ask`: one question, the answer streamed to stdout; scriptable."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, TypeVar

import typer

from mmchat.commands.common import DbOption, NoPluginsOption, fail, warn

_N = TypeVar("_N", int, float)


class _Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP: unwind like Ctrl-C so the partial answer is saved."""


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise _Terminated()


def ask(
    prompt: Annotated[str, typer.Argument(help="The question; '-' reads it from stdin.")],
    model: Annotated[
        str | None,
        typer.Option(help="Model name, folder, .gguf, hub id, plugin:name or server:model."),
    ] = None,
    persona: Annotated[
        str | None, typer.Option(help="Persona name (mmchat personas list).")
    ] = None,
    system: Annotated[str | None, typer.Option(help="Extra system prompt.")] = None,
    image: Annotated[
        list[Path] | None, typer.Option("--image", "-i", help="Attach an image (repeatable).")
    ] = None,
    temperature: Annotated[
        float | None, typer.Option(help="0 = greedy (exact); default: the model's.")
    ] = None,
    top_p: Annotated[
        float | None, typer.Option(help="Nucleus sampling, (0, 1]; default: the model's.")
    ] = None,
    top_k: Annotated[
        int | None, typer.Option(help="Sample among the k likeliest tokens; 0 = off.")
    ] = None,
    repeat_penalty: Annotated[
        float | None,
        typer.Option(help="Penalty on the last 64 tokens' repeats; 1 = off, default 1.1."),
    ] = None,
    max_tokens: Annotated[int | None, typer.Option(help="Longest answer in tokens.")] = None,
    seed: Annotated[int | None, typer.Option(help="Sampling seed.")] = None,
    quant: Annotated[str | None, typer.Option(help="auto, none, int8, 4bit or 8bit.")] = None,
    conversation: Annotated[
        int | None, typer.Option("--conversation", "-c", help="Continue this conversation.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    no_kb: Annotated[bool, typer.Option("--no-kb", help="Do not search knowledge bases.")] = False,
    allow_pickle: Annotated[
        bool, typer.Option(help="Allow pickle (.bin) weights: only for models you trust.")
    ] = False,
    allow_tool: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-tool",
            help="Let this tool run without asking (SERVER.TOOL or SERVER; repeatable).",
        ),
    ] = None,
    db: DbOption = None,
    no_plugins: NoPluginsOption = False,
) -> None:
    """Ask one question and stream the answer."""
    from mmchat.chat import (
        FINISH_NOTES,
        Notice,
        ToolFinished,
        ToolStarted,
        Turn,
        TurnDone,
        TurnOptions,
    )
    from mmchat.config import ConfigError, sampling_problem
    from mmchat.engine.base import Delta, EngineError, Failed, Finished
    from mmchat.engine.registry import UnknownModel
    from mmchat.images import ImageRejected, read_image_file
    from mmchat.personas import PersonaError
    from mmchat.session import all_cores, make_engine, open_session
    from mmchat.store import StoreError
    from mmchat.text import json_for_terminal, strip_control
    from mmchat.tools.output import call_line, result_line

    sampling = {
        "temperature": temperature,
        "top_p": top_p,
        "top_k": top_k,
        "repeat_penalty": repeat_penalty,
    }
    for name, value in sampling.items():
        if bad := sampling_problem(name, value):
            fail(f"--{name.replace('_', '-')} {bad}", 2)
    try:
        text = sys.stdin.read() if prompt == "-" else prompt
    except KeyboardInterrupt:
        fail("stopped; nothing was sent", 130)
    if not text.strip():
        fail("the question is empty", 2)
    try:
        images = [read_image_file(p) for p in image or []]
    except ImageRejected as exc:
        fail(str(exc), 2)
    try:
        session = open_session(Path(db) if db else None, plugins=not no_plugins)
    except (StoreError, ConfigError) as exc:
        fail(str(exc))
    for problem in session.plugins.problems:
        warn(f"plugin {problem.plugin} disabled ({problem.where}): {problem.message}")
    settings = session.settings
    store = session.store
    try:
        if conversation is not None:
            conv = store.conversation(conversation)
            persona = persona or conv.persona
            model = model or conv.model
        chosen = session.personas.get(persona or settings.persona or None)
        model_name = model or chosen.model or settings.model
        if conversation is None:
            conv = store.create_conversation(
                model=model_name, persona=chosen.name, system=system or settings.system or None
            )
        engine = make_engine(
            model_name,
            quant=quant or settings.quant,
            threads=all_cores(),
            allow_pickle=allow_pickle,
            engines=session.engines,
            servers=settings.servers,
        )
    except (StoreError, PersonaError, UnknownModel, EngineError) as exc:
        fail(str(exc), 2)
    # A continued chat keeps the settings saved with it (the TUI's F5); flags still win.
    saved = conv if conversation is not None else None
    options = TurnOptions(
        model=model_name,
        max_tokens=max_tokens
        or (saved.max_tokens if saved else None)
        or chosen.max_tokens
        or settings.max_tokens,
        temperature=_first(
            temperature,
            saved.temperature if saved else None,
            chosen.temperature,
            settings.temperature,
        ),
        top_p=_first(top_p, saved.top_p if saved else None, chosen.top_p, settings.top_p),
        top_k=_first(top_k, settings.top_k),
        repeat_penalty=_first(repeat_penalty, settings.repeat_penalty),
        seed=seed,
        system=system or conv.system or "",
        use_plugins_context=not no_kb,
    )
    toolbox = _toolbox(settings.extra, session.plugins) if chosen.tools else None
    turn = Turn(
        store,
        engine,
        session.plugins,
        chosen,
        options,
        tools=toolbox,
        approve=_allowed(allow_tool or []),
    )
    old_handlers = {
        sig: signal.signal(sig, _raise_interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)
    }
    result: dict[str, Any] = {"conversation_id": conv.id, "model": model_name}
    code = 0
    stream = None
    try:
        # The question is committed before the model loads: a failed load loses nothing. The
        # model loads only when the turn needs it: a plugin may answer without it.
        store.add_message(conv.id, "user", text, persona=chosen.name, images=images)
        if sys.stderr.isatty():
            engine.on_progress = _show_progress
        stream = turn.answer(conv.id)
        for event in stream:
            if isinstance(event, Delta) and not as_json:
                sys.stdout.write(strip_control(event.text))  # plugin replies too
                sys.stdout.flush()
            elif isinstance(event, Notice):
                warn(event.text)
            elif isinstance(event, ToolStarted):
                warn(call_line(event.name, event.arguments))
            elif isinstance(event, ToolFinished):
                warn(result_line(event.outcome.result))
            elif isinstance(event, Failed):
                warn(f"{event.message} (your question is saved in conversation {conv.id})")
                code = 1
            elif isinstance(event, Finished):
                result["finish_reason"] = event.reason
                result["tokens_per_second"] = round(event.tokens_per_second, 2)
            elif isinstance(event, TurnDone):
                _describe(result, event.message)
        info = getattr(engine, "info", None)
        if info is not None:  # where the model really ran: read from its weights
            result.update(device=info.device, weights=info.quant)
    except KeyboardInterrupt:
        if stream is not None:
            stream.close()  # saves the partial answer as stopped
        warn(f"stopped; what was answered is saved in conversation {conv.id}")
        code = 130
    except StoreError as exc:
        warn(str(exc))
        code = 1
    finally:
        engine.close()
        if toolbox is not None:
            toolbox.close()
        session.close()
        for sig, handler in old_handlers.items():
            signal.signal(sig, handler)
    if as_json and code != 130:
        print(json_for_terminal(result))
    elif not as_json and code == 0:
        print()
        _print_citations(result)
        if note := FINISH_NOTES.get(result.get("finish_reason", "")):
            warn(f"({note})")  # beside the answer, not in it: stdout stays the answer
    raise typer.Exit(code)


def _toolbox(extra: dict[str, Any], plugins: Any) -> Any:
    """The tools' sources; a settings table that cannot be used means no tools, said once."""
    from mmchat.tools.settings import ToolSettingsError
    from mmchat.tools.toolbox import open_toolbox

    try:
        return open_toolbox(extra, plugins)
    except ToolSettingsError as exc:
        warn(f"{exc}; answering without tools")
        return None


def _allowed(names: list[str]) -> Any:
    """`ask` cannot ask: a tool not marked safe runs only when --allow-tool names it (or its
    server); otherwise the model is told it was refused."""

    def approve(tool: Any, arguments: dict[str, Any]) -> bool:
        return tool.qualified in names or tool.group in names

    return approve


def _show_progress(progress: Any) -> None:
    """Model loading on stderr, one line rewritten in place (only on a terminal)."""
    from mmchat.text import one_line

    end = "\n" if progress.stage == "ready" else ""
    sys.stderr.write(f"\r\033[K{one_line(progress.stage, 70)}{end}")
    sys.stderr.flush()


def _first(*values: _N | None) -> _N | None:
    """The first value set (None: none is, the model's default applies)."""
    return next((v for v in values if v is not None), None)


def _describe(result: dict[str, Any], message: Any) -> None:
    result.update(
        message_id=message.id,
        persona=message.persona,
        status=message.status,
        content=message.content,
        error=message.error,
        prompt_tokens=message.prompt_tokens,
        completion_tokens=message.completion_tokens,
        citations=message.meta.get("citations", []),
        tool_calls=message.meta.get("tool_calls", []),
    )
    if message.meta.get("ticket"):
        result["ticket"] = message.meta["ticket"]


def _print_citations(result: dict[str, Any]) -> None:
    from mmchat.text import citation_line

    for cite in result.get("citations", []):
        print(citation_line(cite))
