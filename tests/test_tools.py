"""Tool calls read from model text, tool output made safe, tool settings and persona keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmchat.personas import PersonaError, persona_from_toml
from mmchat.tools.calls import CallFilter, ToolCall, parse_calls
from mmchat.tools.output import clean_result
from mmchat.tools.settings import ToolSettingsError, mcp_servers
from mmchat.tools.toolbox import argument_problem


def test_hermes_calls_are_read_with_their_arguments() -> None:
    text = (
        'Let me add.<tool_call>\n{"name": "add", "arguments": {"a": 2, "b": 3}}\n</tool_call>'
        '<tool_call>{"name": "read_file", "arguments": "{\\"path\\": \\"x\\"}"}</tool_call>'
    )
    assert parse_calls(text[text.index("<") :]) == [
        ToolCall("add", {"a": 2, "b": 3}),
        ToolCall("read_file", {"path": "x"}),
    ]


def test_a_broken_tagged_call_comes_back_with_its_problem() -> None:
    [bad] = parse_calls('<tool_call>{"name": "add", "arguments": {"a": </tool_call>')
    assert bad.problem == "the tool call is not valid JSON"
    [no_name] = parse_calls('<tool_call>{"arguments": {}}</tool_call>')
    assert "name" in no_name.problem
    # cut off at the end of the answer (no closing tag): still read
    assert parse_calls('<tool_call>{"name": "add", "arguments": {}}') == [ToolCall("add", {})]


def test_llama_json_calls_count_only_for_known_tools() -> None:
    text = '{"name": "add", "parameters": {"a": 1, "b": 2}}'
    assert parse_calls(text, known={"add"}) == [ToolCall("add", {"a": 1, "b": 2})]
    assert parse_calls(text, known={"other"}) == []  # JSON the person asked for stays text
    both = '{"name": "add", "parameters": {}}; {"name": "sub", "parameters": {}}'
    assert [c.name for c in parse_calls(both, known={"add", "sub"})] == ["add", "sub"]
    lines = '{"name": "add", "arguments": {"a": 1}}\n{"name": "add", "arguments": {"a": 2}}\n'
    assert parse_calls(lines, known={"add"}) == [
        ToolCall("add", {"a": 1}),
        ToolCall("add", {"a": 2}),
    ]
    # one of them not a tool: the whole is the answer
    assert (
        parse_calls(
            lines.replace('"add", "arguments": {"a": 2', '"addArguments", "arguments": {"a": 2'),
            known={"add"},
        )
        == []
    )
    assert parse_calls('{"name": "add", "arguments": {}} and some words', known={"add"}) == []


def test_a_call_without_its_server_name_counts_when_only_one_tool_ends_so() -> None:
    text = '{"name": "add", "arguments": {"a": 1}}'
    assert parse_calls(text, known={"calc.add", "files.read"}) == [ToolCall("add", {"a": 1})]
    # two servers with an "add": the bare name names neither
    assert parse_calls(text, known={"calc.add", "math.add"}) == []


def test_the_filter_shows_prose_and_holds_back_the_call() -> None:
    streamed = "Sure, one moment. <tool_call>\n" + '{"name": "add", "arguments": {}}</tool_call>'
    shown = CallFilter()
    visible = "".join(shown.feed(streamed[i : i + 3]) for i in range(0, len(streamed), 3))
    assert visible == "Sure, one moment. "
    calls, held = shown.finish({"add"})
    assert calls == [ToolCall("add", {})] and held == ""


def test_the_filter_lets_a_plain_answer_through_whole() -> None:
    answer = "A <tool_ is not a call, and {braces} in the middle are text."
    shown = CallFilter()
    visible = "".join(shown.feed(answer[i : i + 2]) for i in range(0, len(answer), 2))
    calls, held = shown.finish({"add"})
    assert calls == [] and visible + held == answer
    json_answer = CallFilter()
    assert json_answer.feed('{"a": 1}') == ""  # may be a Llama call: held to the end
    assert json_answer.finish({"add"}) == ([], '{"a": 1}')


def test_tool_output_loses_control_characters_and_is_capped() -> None:
    assert clean_result("ok\x1b]52;c;aGk=\x07 \u202edone") == "ok]52;c;aGk= done"
    big = clean_result("é" * 10_000, limit=100)
    kept, note = big.split("\n")
    assert kept == "é" * 50
    assert note == "[cut: the result was 20,000 bytes; only the first 100 are kept]"


def test_arguments_are_checked_against_the_schema() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "number"}, "flag": {"type": "boolean"}},
        "required": ["a"],
        "additionalProperties": False,
    }
    assert argument_problem(schema, {"a": 1.5, "flag": True}) is None
    assert argument_problem(schema, {}) == "missing argument 'a'"
    assert argument_problem(schema, {"a": "2"}) == "argument 'a' must be number, got \"2\""
    assert argument_problem(schema, {"a": True}) == "argument 'a' must be number, got true"
    assert argument_problem(schema, {"a": 1, "b": 2}) == "unknown argument 'b'"


@pytest.mark.parametrize(
    ("table", "error"),
    [
        ({"x": {}}, "[mcp.x]: give 'command' (a program) or 'url', one of the two"),
        ({"x": {"command": "a", "url": "http://h"}}, "give 'command' (a program) or 'url'"),
        ({"x": {"url": "ftp://h"}}, "'url' must start with http:// or https://"),
        ({"x": {"command": "a", "timeout": 0}}, "'timeout' must be seconds, more than 0"),
        ({"x": {"command": "a", "start_timeout": True}}, "'start_timeout' must be seconds"),
        ({"x": {"command": "a", "safe": "add"}}, "'safe' must be a list of text"),
        ({"x": {"command": "a", "colour": 1}}, "unknown key 'colour'"),
        ({"a.b": {"command": "a"}}, "the name may hold letters"),
        ({"x": "python"}, "[mcp.x] must be a table"),
    ],
)
def test_bad_server_tables_are_one_line_errors(table: dict[str, object], error: str) -> None:
    with pytest.raises(ToolSettingsError) as caught:
        mcp_servers({"mcp": table})
    assert error in str(caught.value) and "\n" not in str(caught.value)


def test_server_tables_are_read() -> None:
    [stdio, http] = mcp_servers(
        {
            "mcp": {
                "calc": {"command": "python", "args": ["s.py"], "safe": ["add"], "timeout": 5},
                "web": {"url": "https://example.org/mcp"},
            }
        }
    )
    assert (stdio.name, stdio.command, stdio.args, stdio.safe, stdio.timeout) == (
        "calc",
        "python",
        ("s.py",),
        ("add",),
        5.0,
    )
    assert http.url == "https://example.org/mcp" and http.where == "https://example.org/mcp"


def test_a_persona_names_its_tools(tmp_path: Path) -> None:
    path = tmp_path / "helper.toml"
    path.write_text('name = "helper"\nsystem_prompt = "Help."\ntools = ["calc", "files.read"]\n')
    assert persona_from_toml(path).tools == ("calc", "files.read")
    path.write_text('name = "helper"\nsystem_prompt = "Help."\ntools = ["calc.add.x"]\n')
    with pytest.raises(PersonaError, match="field 'tools' must list SERVER or SERVER.TOOL"):
        persona_from_toml(path)


def test_allow_tool_names_a_tool_or_its_server_not_a_bare_name() -> None:
    from mmchat.commands.ask import _allowed
    from mmchat.tools.toolbox import Tool

    read = Tool("files", "read_file", "", {})
    assert _allowed(["files.read_file"])(read, {})
    assert _allowed(["files"])(read, {})
    assert not _allowed(["read_file"])(read, {})  # another server's read_file must not pass
    assert not _allowed([])(read, {})


def test_a_template_that_fails_with_tools_gives_a_prompt_without_them() -> None:
    from transformers import AutoTokenizer

    from mmchat.engine.base import ChatMessage
    from mmchat.engine.default_decoder import smollm2_dir
    from mmchat.engine.hf import HFEngine
    from mmchat.engine.registry import resolve

    engine = HFEngine(resolve("smollm2"))
    engine.tokenizer = AutoTokenizer.from_pretrained(smollm2_dir(), trust_remote_code=False)
    engine.tokenizer.chat_template = (
        "{% if tools %}{{ raise_exception('one call per message') }}{% endif %}"
        "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}"
    )
    engine._tools = [{"type": "function", "function": {"name": "add", "parameters": {}}}]
    assert engine.takes_tools()
    ids = engine.prompt_ids([ChatMessage("user", "hi")])
    assert engine.tokenizer.decode(ids) == "user: hi\n"
    assert engine._tools == []  # this answer goes on without tools (Started says so)
