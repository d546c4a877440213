"""A folder walk never follows a file link out of the folder it was given."""

from __future__ import annotations

from pathlib import Path

from mmchat_kb.walk import collect


def test_links_out_of_the_folder_are_skipped(tmp_path: Path) -> None:
    secret = tmp_path / "home" / ".ssh" / "id_rsa"
    secret.parent.mkdir(parents=True)
    secret.write_text("-----BEGIN PRIVATE KEY-----\n")
    docs = tmp_path / "downloads" / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "guide.md").write_text("# Guide\n")
    (docs / "notes.txt").symlink_to(secret)  # out of the tree
    (docs / "sub" / "up.md").symlink_to(tmp_path / "downloads" / "readme.md")
    (tmp_path / "downloads" / "readme.md").write_text("# Outside the folder given\n")
    (docs / "sub" / "same.md").symlink_to(docs / "guide.md")  # inside: the same file once
    found = collect([docs])
    assert [p for p, _ in found.files] == [(docs / "guide.md").resolve()]
    skipped = {Path(o.path).name: o.message for o in found.problems}
    assert skipped == {
        "notes.txt": "is a link to a file outside the folder; not followed",
        "up.md": "is a link to a file outside the folder; not followed",
    }


def test_a_link_named_on_the_command_line_is_the_person_s_choice(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.md"
    target.write_text("# Mine\n")
    link = tmp_path / "docs" / "mine.md"
    link.parent.mkdir()
    link.symlink_to(target)
    assert [p for p, _ in collect([link]).files] == [target.resolve()]
