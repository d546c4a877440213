"""Counting what the fast path reads: the tokens of each FastLlama.forward() call."""

from __future__ import annotations

import pytest
import torch

from mmchat.engine.fastpath import FastLlama


def counting_reads(fast: FastLlama, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of tokens each forward() call reads from now on (the real one runs; the
    test's end puts the plain one back)."""
    read: list[int] = []
    forward = fast.forward

    def counted(ids: list[int], **options: bool | None) -> torch.Tensor:
        read.append(len(ids))
        return forward(ids, **options)

    monkeypatch.setattr(fast, "forward", counted)
    return read
