"""Token deltas are batched into at most one UI update per interval."""

from __future__ import annotations

from mmchat.tui.coalesce import Coalescer


def test_chunks_come_once_per_interval_and_nothing_is_lost() -> None:
    now = [0.0]
    coalescer = Coalescer(0.1, clock=lambda: now[0])
    out: list[str] = []
    for i in range(100):  # 100 tokens over 1 s
        now[0] = i * 0.01
        if chunk := coalescer.add(f"t{i} "):
            out.append(chunk)
    if rest := coalescer.flush():
        out.append(rest)
    assert 9 <= len(out) <= 11
    assert "".join(out) == "".join(f"t{i} " for i in range(100))
    assert coalescer.flush() is None
