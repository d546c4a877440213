"""Precision and recall of the hand-off decision on labelled customer messages (tests/data).

handoff_heldout.tsv was written before the rules were changed and never used to tune them;
handoff_tuning.tsv is what they were adjusted against. Run with -s to see the figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mmchat_support.escalation import judge
from mmchat_support.personas import SUPPORT

from mmchat.hooks import PromptContext

DATA = Path(__file__).parent / "data"
FLOOR = 0.9


def load(name: str) -> list[tuple[bool, str]]:
    rows = []
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            label, text = line.split("\t")
            assert label in {"yes", "no"}, line
            rows.append((label == "yes", text))
    return rows


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    def __str__(self) -> str:
        return (
            f"precision {self.precision:.3f} recall {self.recall:.3f} "
            f"(tp {self.tp} fp {self.fp} fn {self.fn} tn {self.tn})"
        )


def score(rows: list[tuple[bool, str]], wrong: list[str]) -> Score:
    result = Score()
    for wanted, text in rows:
        context = PromptContext(conversation_id=1, persona=SUPPORT, user_text=text)
        got = judge(context, SUPPORT.escalation) is not None  # the personas' own rules
        result.tp += got and wanted
        result.fp += got and not wanted
        result.fn += wanted and not got
        result.tn += not got and not wanted
        if got != wanted:
            wrong.append(f"{'missed' if wanted else 'false hand-off'}: {text}")
    return result


def test_the_set_is_large_and_balanced() -> None:
    heldout, tuning = load("handoff_heldout.tsv"), load("handoff_tuning.tsv")
    everything = heldout + tuning
    assert sum(w for w, _ in everything) >= 60 and sum(not w for w, _ in everything) >= 60
    assert len(heldout) >= len(everything) // 2 - 4  # about half is held out
    assert len({t for _, t in everything}) == len(everything)  # no message counted twice


def test_precision_and_recall_on_the_whole_set_and_the_held_out_half() -> None:
    heldout, tuning = load("handoff_heldout.tsv"), load("handoff_tuning.tsv")
    wrong: list[str] = []
    held = score(heldout, wrong)
    whole = score(heldout + tuning, [])
    report = f"held-out ({len(heldout)}): {held}\nwhole ({len(heldout) + len(tuning)}): {whole}"
    print(f"\n{report}\nwrong on the held-out half: {wrong}")
    for figure in (held.precision, held.recall, whole.precision, whole.recall):
        assert figure >= FLOOR, report
