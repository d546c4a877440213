"""Finding and loading plugins: entry points, local files, allow-lists, and broken plugins."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from plugins_api_helpers import FakeDist

from mmchat.engine.plugin import plugin_engines
from mmchat.plugin_manager import BUILTIN, load_plugins

GOOD = """
from mmchat.hooks import Persona, hookimpl

@hookimpl
def register_personas(register):
    register(Persona(name="{name}", system_prompt="hi"))
"""


def test_example_plugin_is_found_through_its_entry_point() -> None:
    manager = load_plugins(allow=["example"])
    info = manager.infos["example"]
    assert (info.kind, info.distribution, info.version) == (
        "entry point",
        "mmchat-example-plugin",
        "0.3.1",
    )
    assert info.status == "loaded" and info.location == "mmchat_example_plugin"
    assert info.hooks == [
        "mmchat_before_prompt",
        "mmchat_retrieve",
        "mmchat_turn_finished",
        "register_commands",
        "register_engines",
        "register_personas",
    ]
    assert manager.plugin_names() == [BUILTIN, "example"]
    assert manager.problems == []


def test_allow_list_by_distribution_name_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "example" in load_plugins(allow=["mmchat_example_plugin"]).infos
    monkeypatch.setenv("MMCHAT_PLUGINS", " Mmchat-Example-Plugin ,")
    assert load_plugins().plugin_names() == [BUILTIN, "example"]
    monkeypatch.setenv("MMCHAT_PLUGINS", "")  # set but empty: no plugins at all
    assert load_plugins().plugin_names() == [BUILTIN]


def test_no_plugins_switches(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_plugins(enabled=False, allow=["example"]).plugin_names() == [BUILTIN]
    monkeypatch.setenv("MMCHAT_NO_PLUGINS", "1")
    assert load_plugins(allow=["example"]).plugin_names() == [BUILTIN]
    monkeypatch.setenv("MMCHAT_NO_PLUGINS", "0")
    assert load_plugins(allow=["example"]).plugin_names() == [BUILTIN, "example"]


def test_allow_listed_plugin_that_is_not_installed_is_named() -> None:
    manager = load_plugins(allow=["example", "no-such-plugin"])
    assert [(p.plugin, p.message) for p in manager.problems] == [
        ("no-such-plugin", "not installed (named in MMCHAT_PLUGINS)")
    ]
    assert "example" in manager.plugin_names()


def test_broken_entry_point_is_reported_and_the_rest_load(fake_dist: FakeDist) -> None:
    fake_dist("mmchat-broken", {"broken": "mmchat_no_such_module"}, {})
    fake_dist("mmchat-raises", {"raises": "raises_at_import"}, {"raises_at_import": "1/0"})
    manager = load_plugins(allow=["broken", "raises", "example"])
    problems = {p.plugin: p.message for p in manager.problems}
    assert problems == {
        "broken": "ModuleNotFoundError: No module named 'mmchat_no_such_module'",
        "raises": "ZeroDivisionError: division by zero",
    }
    assert manager.infos["broken"].status == "failed"
    assert manager.infos["broken"].distribution == "mmchat-broken"
    assert manager.plugin_names() == [BUILTIN, "example"]


def test_two_distributions_with_one_entry_point_name(fake_dist: FakeDist) -> None:
    fake_dist("mmchat-first", {"twin": "twin_a"}, {"twin_a": GOOD.format(name="a")})
    fake_dist("mmchat-second", {"twin": "twin_b"}, {"twin_b": GOOD.format(name="b")})
    manager = load_plugins(allow=["twin"])
    assert manager.infos["twin"].distribution == "mmchat-first"
    [problem] = manager.problems
    assert problem.plugin == "twin (mmchat-second)"
    assert problem.message == "the name 'twin' is already used by mmchat-first"


def test_hook_with_wrong_arguments_is_refused_at_load(fake_dist: FakeDist) -> None:
    source = (
        "from mmchat.hooks import hookimpl\n"
        "@hookimpl\ndef mmchat_retrieve(question):\n    return []\n"
    )
    fake_dist("mmchat-badargs", {"badargs": "badargs"}, {"badargs": source})
    manager = load_plugins(allow=["badargs"])
    [problem] = manager.problems
    assert problem.plugin == "badargs" and "question" in problem.message
    assert manager.plugin_names() == [BUILTIN]


def test_unknown_hook_and_missing_hookimpl_are_noted(fake_dist: FakeDist) -> None:
    typo = "from mmchat.hooks import hookimpl\n@hookimpl\ndef register_persona(register):\n  pass\n"
    bare = "def register_personas(register):\n    pass\n"  # forgot @hookimpl
    fake_dist(
        "mmchat-typo",
        {"typo": "typo_mod", "bare": "bare_mod"},
        {"typo_mod": typo, "bare_mod": bare},
    )
    manager = load_plugins(allow=["typo", "bare"])
    assert manager.problems == []
    assert manager.infos["typo"].notes == [
        "unknown hook 'register_persona' is never called (a typo?)"
    ]
    assert manager.infos["bare"].notes == ["no @hookimpl functions found"]


def test_a_retired_hook_is_noted_with_what_replaced_it(fake_dist: FakeDist) -> None:
    source = (
        "from mmchat.hooks import hookimpl\n"
        "@hookimpl\ndef register_retrievers(register):\n    raise RuntimeError('never run')\n"
    )
    fake_dist("mmchat-old", {"old": "old_mod"}, {"old_mod": source})
    manager = load_plugins(allow=["old"])
    assert manager.problems == [] and manager.infos["old"].status == "loaded"
    assert manager.infos["old"].notes == [
        "hook 'register_retrievers' removed in plugin API 1.0: return passages from mmchat_retrieve"
    ]


def test_local_plugin_in_private_folder(local_plugins: Path) -> None:
    (local_plugins / "mine.py").write_text(GOOD.format(name="mine"))
    (local_plugins / "bad.py").write_text("import nothing_called_this\n")
    manager = load_plugins(allow=["mine", "local:bad"], local_dir=local_plugins)
    assert manager.infos["local:mine"].kind == "local file"
    assert manager.infos["local:mine"].hooks == ["register_personas"]
    assert [(p.plugin, p.message) for p in manager.problems] == [
        ("local:bad", "ModuleNotFoundError: No module named 'nothing_called_this'")
    ]


def test_local_plugins_refused_from_a_folder_others_can_read(local_plugins: Path) -> None:
    (local_plugins / "mine.py").write_text(GOOD.format(name="mine"))
    local_plugins.chmod(0o755)
    manager = load_plugins(allow=["mine"], local_dir=local_plugins)
    assert manager.plugin_names() == [BUILTIN]
    [problem] = manager.problems
    assert problem.plugin == str(local_plugins)
    assert "must be private (chmod 700), it is 755" in problem.message


def test_local_plugin_file_writable_by_others_is_refused(local_plugins: Path) -> None:
    path = local_plugins / "mine.py"
    path.write_text(GOOD.format(name="mine"))
    path.chmod(0o666)
    manager = load_plugins(allow=["mine"], local_dir=local_plugins)
    assert manager.plugin_names() == [BUILTIN]
    assert "writable by others" in manager.problems[0].message
    assert os.stat(path).st_mode & 0o777 == 0o666  # reported, not changed


def test_registries_keep_the_first_name_and_note_the_second(fake_dist: FakeDist) -> None:
    source = (
        "from mmchat.hooks import hookimpl\n"
        "def make(rest, options):\n    raise RuntimeError('not called')\n"
        "@hookimpl\ndef register_engines(register):\n"
        "    register('shared', make)\n"
        "    register('{owner}-only', make)\n"
    )
    fake_dist("mmchat-one", {"one": "one_mod"}, {"one_mod": source.format(owner="one")})
    fake_dist("mmchat-two", {"two": "two_mod"}, {"two_mod": source.format(owner="two")})
    manager = load_plugins(allow=["one", "two"])
    found = plugin_engines(manager)
    assert {prefix: owner for prefix, (owner, _) in found.items()} == {
        "shared": "one",
        "one-only": "one",
        "two-only": "two",
    }
    assert manager.infos["two"].notes == [
        "register_engines: 'shared' ignored: already registered by plugin one"
    ]
