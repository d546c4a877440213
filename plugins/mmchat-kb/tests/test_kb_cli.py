"""`mmchat kb ...` as a person or a script runs it: real subprocesses, real embeddings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

MMCHAT = [sys.executable, "-m", "mmchat.cli"]


def kb(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MMCHAT, "kb", *args], input=stdin, capture_output=True, text=True, timeout=300
    )


def test_create_add_list_search_remove(docs: Path, kb_home: Path) -> None:
    assert kb("create", "manuals").returncode == 0
    again = kb("create", "manuals")
    assert again.returncode == 2
    assert again.stderr.strip() == "mmchat: error: knowledge base 'manuals' already exists"

    (docs / "broken.pdf").write_bytes(b"not a pdf")
    added = kb("add", "manuals", str(docs))
    assert added.returncode == 1  # one file failed; the others are added all the same
    assert added.stdout.startswith("manuals: 3 added, 1 failed; 5 chunks in ")
    assert f"failed: {docs / 'broken.pdf'}: is not a readable PDF" in added.stderr
    assert (kb_home / "data" / "kb" / "manuals" / "index.sqlite").is_file()

    (docs / "broken.pdf").unlink()
    unchanged = kb("add", "manuals", str(docs))
    assert unchanged.returncode == 0 and "3 unchanged; 0 chunks" in unchanged.stdout

    listing = kb("list")
    assert listing.stdout.startswith("manuals\t3 files\t5 chunks\t")
    files = kb("list", "manuals").stdout.splitlines()
    assert [line.split("\t")[0] for line in files] == [
        str(docs / name) for name in ("office.txt", "returns.html", "zorblax.md")
    ]

    found = kb("search", "manuals", "where can visitors park?", "-k", "2")
    assert found.returncode == 0, found.stderr
    assert found.stdout.startswith(f"[1] office.txt, lines 1-3 ({docs / 'office.txt'})")
    rows = [
        json.loads(line)
        for line in kb("search", "manuals", "refund card", "--json").stdout.splitlines()
    ]
    assert rows[0]["location"] == "Returns > Refunds" and rows[0]["n"] == 1

    removed = kb("remove", "manuals", str(docs / "office.txt"))
    assert removed.returncode == 0 and removed.stdout.strip() == "manuals: removed 1 files"
    assert kb("list").stdout.startswith("manuals\t2 files\t4 chunks\t")

    refused = kb("remove", "manuals", stdin="n\n")
    assert refused.returncode == 1 and kb("list").stdout.startswith("manuals\t")
    assert kb("remove", "manuals", "--yes").stdout.strip() == "deleted knowledge base 'manuals'"
    assert kb("list").stdout.strip() == "no knowledge bases; create one with: mmchat kb create NAME"


def test_errors_are_one_line_with_the_way_out(tmp_path: Path) -> None:
    missing = kb("add", "nope", str(tmp_path))
    assert missing.returncode == 2
    assert missing.stderr == (
        "mmchat: error: no knowledge base 'nope'; create it with: mmchat kb create nope\n"
    )
    bad = kb("create", "../escape")
    assert bad.returncode == 2 and "not a usable knowledge-base name" in bad.stderr
    assert not (tmp_path.parent / "escape").exists()
    assert kb("search", "nope", "x").returncode == 2
