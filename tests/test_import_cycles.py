"""No module of mmchat or of its first-party plugins imports itself back through others.

A cycle makes import order matter and hides which module is the lower layer. Imports under
TYPE_CHECKING count: they are dependencies a reader must follow just the same. grimp (the
graph library of import-linter) reads the imports without running any module.
"""

from __future__ import annotations

import pytest

PACKAGES = ("mmchat", "mmchat_kb", "mmchat_support")
# The one cycle still standing: the chat screen reaches back into the app. Drop it from this
# list when ChatScreen stops importing mmchat.tui.app.
STANDING = [["mmchat.tui.app", "mmchat.tui.screens.chat"]]


def test_no_import_cycles() -> None:
    grimp = pytest.importorskip("grimp", reason="grimp comes with import-linter")
    import networkx as nx

    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    edges = nx.DiGraph(
        (module, imported)
        for module in graph.modules
        for imported in graph.find_modules_directly_imported_by(module)
    )
    cycles = sorted(sorted(c) for c in nx.strongly_connected_components(edges) if len(c) > 1)
    assert [cycle for cycle in cycles if cycle not in STANDING] == []
