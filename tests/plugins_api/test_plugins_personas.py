"""Personas from plugins and TOML files: variables, extends, and every kind of bad input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from plugins_api_helpers import FakeDist

from mmchat.personas import Persona, PersonaError, collect_personas, persona_from_toml
from mmchat.plugin_manager import load_plugins

TWO = """
from mmchat.hooks import Persona, hookimpl

@hookimpl
def register_personas(register):
    register(Persona(name="{name}", system_prompt="from {plugin}"))
    register(Persona(name="own-{plugin}", system_prompt="mine"))
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(text)
    return path


def test_variables_fill_prompts_but_nothing_else() -> None:
    persona = Persona(
        name="p",
        system_prompt="Help with {product} by {company}. Keep {json: 1} and {unknown}.",
        greeting="Hi from {company}",
        variables={"company": "Acme", "product": "Rocket"},
    )
    assert persona.render_system_prompt() == (
        "Help with Rocket by Acme. Keep {json: 1} and {unknown}."
    )
    assert persona.render_greeting() == "Hi from Acme"
    assert persona.with_variables(company="Zeta").render_greeting() == "Hi from Zeta"
    odd = Persona(name="q", system_prompt="{company.__class__} {0} {", variables={"company": "A"})
    assert odd.render_system_prompt() == "{company.__class__} {0} {"  # no format() tricks


def test_example_plugin_persona_is_registered() -> None:
    catalog = collect_personas(load_plugins(allow=["example"]), None)
    pirate = catalog.get("pirate")
    assert pirate.source == "plugin example" and pirate.max_tokens == 48
    assert pirate.render_greeting() == "Ahoy from the Black Pearl!"
    assert catalog.problems == []


def test_toml_persona_full(isolated_home: Path) -> None:
    folder = isolated_home / "config" / "personas"
    write(
        folder,
        "acme",
        """
name = "acme"
description = "Acme helper"
system_prompt = "You help {company} customers."
greeting = "Welcome to {company}"
model = "smollm2"
temperature = 0.3
top_p = 0.9
max_tokens = 100
knowledge_bases = ["acme-docs"]
[variables]
company = "Acme"
[escalation]
handoff = true
""",
    )
    persona = collect_personas(load_plugins(enabled=False), folder).get("acme")
    assert persona.render_system_prompt() == "You help Acme customers."
    assert (persona.model, persona.temperature, persona.top_p, persona.max_tokens) == (
        "smollm2",
        0.3,
        0.9,
        100,
    )
    assert persona.knowledge_bases == ("acme-docs",)
    assert persona.escalation == {"handoff": True}
    assert persona.source == str(folder / "acme.toml")


def test_toml_extends_a_plugin_persona_and_may_keep_its_name(isolated_home: Path) -> None:
    folder = isolated_home / "config" / "personas"
    write(folder, "pirate", 'name = "pirate"\nextends = "pirate"\n[variables]\nship = "Ketch"\n')
    write(folder, "calm", 'name = "calm-pirate"\nextends = "pirate"\ntemperature = 0.5\n')
    catalog = collect_personas(load_plugins(allow=["example"]), folder)
    assert catalog.problems == []
    assert catalog.get("pirate").render_greeting() == "Ahoy from the Ketch!"
    calm = catalog.get("calm-pirate")  # extends the adapted pirate, whatever the file order
    assert calm.render_greeting() == "Ahoy from the Ketch!" and calm.temperature == 0.5
    assert calm.max_tokens == 48  # inherited


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "x"\nsystem_prompt = "unclosed\n', "not valid TOML"),
        ('system_prompt = "hi"\n', "missing required field 'name'"),
        ('name = "x"\n', "missing required field 'system_prompt'"),
        ('name = "x"\nsystem_prompt = "hi"\ntemprature = 1\n', "unknown field 'temprature'"),
        (
            'name = "x"\nsystem_prompt = "hi"\nmax_tokens = "ten"\n',
            "'max_tokens' has the wrong type",
        ),
        (
            'name = "x"\nsystem_prompt = "hi"\nmax_tokens = true\n',
            "'max_tokens' has the wrong type",
        ),
        ('name = "has space"\nsystem_prompt = "hi"\n', "bad name"),
        ('name = "x"\nextends = "nobody"\n', "extends unknown persona 'nobody'"),
        (b"\xff\xfe".decode("latin-1"), "not valid TOML"),
    ],
)
def test_bad_toml_persona_is_one_clear_message(
    isolated_home: Path, text: str, message: str
) -> None:
    folder = isolated_home / "config" / "personas"
    path = write(folder, "x", text)
    write(folder, "fine", 'name = "fine"\nsystem_prompt = "ok"\n')
    catalog = collect_personas(load_plugins(enabled=False), folder)
    [problem] = catalog.problems
    assert problem.startswith(f"{path}: ") and message in problem
    assert "fine" in catalog.personas  # nothing else breaks
    with pytest.raises(PersonaError, match=re.escape(message)):
        catalog.get("x")  # asking for it says why it is missing
    with pytest.raises(PersonaError):
        persona_from_toml(path)


def test_unknown_persona_lists_known_ones() -> None:
    catalog = collect_personas(load_plugins(enabled=False), None)
    with pytest.raises(PersonaError, match=r"unknown persona 'nobody'; known personas: assistant"):
        catalog.get("nobody")
    assert catalog.get(None).name == "assistant"


def test_two_plugins_register_the_same_persona_name(fake_dist: FakeDist) -> None:
    fake_dist("mmchat-aaa", {"aaa": "aaa_mod"}, {"aaa_mod": TWO.format(name="same", plugin="aaa")})
    fake_dist("mmchat-bbb", {"bbb": "bbb_mod"}, {"bbb_mod": TWO.format(name="same", plugin="bbb")})
    manager = load_plugins(allow=["aaa", "bbb"])
    catalog = collect_personas(manager, None)
    assert catalog.problems == [
        "persona 'same' from plugin bbb ignored: already defined by plugin aaa"
    ]
    assert catalog.get("same").system_prompt == "from aaa"
    assert {"own-aaa", "own-bbb"} <= set(catalog.personas)  # nothing else is lost
    assert manager.problems == []


def test_plugin_persona_cannot_replace_a_builtin(fake_dist: FakeDist) -> None:
    fake_dist(
        "mmchat-aaa", {"aaa": "aaa_mod"}, {"aaa_mod": TWO.format(name="assistant", plugin="aaa")}
    )
    catalog = collect_personas(load_plugins(allow=["aaa"]), None)
    assert catalog.get("assistant").source == "built-in"
    assert "already defined by built-in" in catalog.problems[0]


def test_register_personas_that_raises_or_registers_junk(fake_dist: FakeDist) -> None:
    raises = (
        "from mmchat.hooks import Persona, hookimpl\n"
        "@hookimpl\ndef register_personas(register):\n"
        "    register(Persona(name='early', system_prompt='x'))\n"
        "    raise RuntimeError('boom')\n"
    )
    junk = (
        "from mmchat.hooks import Persona, hookimpl\n"
        "@hookimpl\ndef register_personas(register):\n"
        "    register('not a persona')\n"
        "    register(Persona(name='bad', system_prompt='x', variables={'n': 1}))\n"
        "    register(Persona(name='ok', system_prompt='x'))\n"
    )
    fake_dist("mmchat-r", {"r": "r_mod", "j": "j_mod"}, {"r_mod": raises, "j_mod": junk})
    manager = load_plugins(allow=["r", "j"])
    catalog = collect_personas(manager, None)
    assert [(p.plugin, p.where, p.message) for p in manager.problems] == [
        ("r", "register_personas", "RuntimeError: boom")
    ]
    assert "r" in manager.disabled and manager.infos["r"].status == "disabled"
    assert catalog.problems == [
        "plugin j: persona ignored: not a Persona: str",
        "plugin j: persona ignored: persona 'bad': 'variables' must map names to text",
    ]
    assert "ok" in catalog.personas
