"""The pack's personas, found through the installed entry point, and adapted by TOML."""

from __future__ import annotations

import os
from pathlib import Path

from mmchat.personas import collect_personas
from mmchat.plugin_manager import load_plugins


def catalog(folder: Path | None = None):
    manager = load_plugins()  # MMCHAT_PLUGINS=support (conftest)
    assert manager.problems == [] and manager.infos["support"].distribution == "mmchat-support"
    return collect_personas(manager, folder)


def test_three_personas_with_greetings_and_scope() -> None:
    personas = catalog().personas
    assert {"support", "billing", "tech-triage"} <= set(personas)
    for name in ("support", "billing", "tech-triage"):
        persona = personas[name]
        prompt, greeting = persona.render_system_prompt(), persona.render_greeting()
        assert "{" not in prompt and "{" not in greeting  # every variable filled
        assert "Example Co" in greeting
        assert "Sorry, I can only help with" in prompt  # out-of-scope refusal
        assert "polite" in prompt and "Never invent" in prompt  # tone rules
        assert persona.escalation["handoff"] is True
        assert persona.source == "plugin support"
    assert "refunds" in personas["billing"].render_system_prompt()
    assert "within 30 days" in personas["billing"].render_system_prompt()
    assert "severity" in personas["tech-triage"].render_system_prompt()


def test_toml_sets_company_and_product(support_home: Path) -> None:
    folder = support_home / "config" / "personas"
    os.makedirs(folder)
    (folder / "support.toml").write_text(
        'name = "support"\nextends = "support"\n'
        '[variables]\ncompany = "Acme"\nproduct = "Acme Cloud"\n'
    )
    (folder / "acme-billing.toml").write_text(
        'name = "acme-billing"\nextends = "billing"\n[variables]\nrefund_days = "14"\n'
    )
    found = catalog(folder)
    assert found.problems == []
    support = found.get("support")
    assert support.render_greeting() == (
        "Hello, this is Acme support. How can I help you with Acme Cloud today?"
    )
    assert support.escalation["handoff"] is True  # rules kept
    assert "within 14 days" in found.get("acme-billing").render_system_prompt()
