"""Fail when a module of mmchat or of a first-party plugin imports itself through others.

import-linter's `acyclic_siblings` contract squashes each subpackage into one node, so it also
reports loops between packages that no chain of modules closes (mmchat.hooks re-exports
mmchat.engine.base while mmchat.engine.plugin loads plugins through mmchat.hooks: no module
imports itself there). This checks module against module, over the graph import-linter reads
(grimp's), counting imports made only for type hints, since a reader follows those too.
"""

from __future__ import annotations

import sys
from itertools import pairwise

import grimp

PACKAGES = ("mmchat", "mmchat_kb", "mmchat_support", "mmchat_example_plugin")


def _at(graph: grimp.ImportGraph, importer: str, imported: str) -> str:
    """`importer:line` of the import statement(s) that import `imported`."""
    details = graph.get_import_details(importer=importer, imported=imported)
    return f"{importer}:{','.join(str(n) for n in sorted({d['line_number'] for d in details}))}"


def cycles(graph: grimp.ImportGraph) -> list[tuple[str, ...]]:
    """One shortest cycle per set of modules that import one another in a loop."""
    found: dict[frozenset[str], tuple[str, ...]] = {}
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is not None:
                cycle = (importer, *back)
                found.setdefault(frozenset(cycle), cycle)
    return list(found.values())


def main() -> int:
    graph = grimp.build_graph(*PACKAGES)
    found = cycles(graph)
    for cycle in found:
        steps = [_at(graph, a, b) for a, b in pairwise(cycle)]
        print("import cycle: " + " -> ".join([*steps, cycle[-1]]), file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
