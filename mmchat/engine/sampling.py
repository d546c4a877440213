"""Choosing the next token from a step's logits, and which sampling settings an answer uses.

The defaults follow the model: a transformers model's generation config (do_sample,
temperature, top_p, top_k, repetition_penalty), plus the repetition penalty llama.cpp and
Ollama apply by default (1.1 over the last 64 tokens), which HF configs rarely set. A model
without sampling settings answers greedily with that penalty, as llama.cpp's greedy does. An
explicit temperature 0 is exact greedy: plain argmax, no penalty, for scripts and tests.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from typing import Any

import torch

REPEAT_PENALTY = 1.1  # llama.cpp's repeat_penalty and Ollama's repeat_penalty
REPEAT_WINDOW = 64  # llama.cpp's repeat_last_n and Ollama's repeat_last_n


@dataclass(frozen=True)
class Sampling:
    """How an answer chooses its tokens."""

    temperature: float = 0.0  # 0: the most likely token (greedy)
    top_p: float = 1.0  # nucleus: 1 keeps every token
    top_k: int = 0  # 0: no top-k cut
    repeat_penalty: float = 1.0  # 1: off
    window: int = REPEAT_WINDOW  # answer tokens the penalty looks back over


EXACT_GREEDY = Sampling()
# What a model with no sampling settings of its own gets.
MODEL_FALLBACK = Sampling(repeat_penalty=REPEAT_PENALTY)


def model_sampling(generation_config: Any) -> Sampling:
    """A model's own defaults from its transformers GenerationConfig (None: it has none)."""
    if generation_config is None:
        return MODEL_FALLBACK
    penalty = _number(getattr(generation_config, "repetition_penalty", None), 1.0)
    # The usual penalty unless the model's authors chose one (HF's applies to all the text;
    # here it is windowed like llama.cpp's).
    base = replace(MODEL_FALLBACK, repeat_penalty=penalty if penalty != 1.0 else REPEAT_PENALTY)
    if getattr(generation_config, "do_sample", None) is not True:
        return base
    return replace(
        base,
        temperature=_number(getattr(generation_config, "temperature", None), 1.0),
        top_p=_number(getattr(generation_config, "top_p", None), 1.0),
        top_k=int(_number(getattr(generation_config, "top_k", None), 0)),
    )


def _number(value: Any, default: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return float(value)


def choose_sampling(
    model: Sampling,
    *,
    temperature: float | None = None,
    top_p: float | None = None,
    top_k: int | None = None,
    repeat_penalty: float | None = None,
) -> Sampling:
    """What an answer uses: each value asked for, else the model's. Temperature 0 asked for
    is exact greedy: the model's penalty is left out too (an asked-for one still applies)."""
    base = EXACT_GREEDY if temperature == 0 else model
    return replace(
        base,
        temperature=base.temperature if temperature is None else temperature,
        top_p=base.top_p if top_p is None else top_p,
        top_k=base.top_k if top_k is None else top_k,
        repeat_penalty=base.repeat_penalty if repeat_penalty is None else repeat_penalty,
    )


def penalize(logits: torch.Tensor, recent: torch.Tensor, penalty: float) -> torch.Tensor:
    """`logits` with each token in `recent` made less likely, as HF's
    RepetitionPenaltyLogitsProcessor does: positive logits divided by `penalty`, negative ones
    multiplied. One gather and one scatter into a copy (the step's logits are left alone); a
    token seen twice is penalised once."""
    seen = logits.gather(0, recent)
    return logits.scatter(0, recent, torch.where(seen > 0, seen / penalty, seen * penalty))


def nucleus(probs: torch.Tensor, top_p: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The smallest set of likeliest tokens whose probability reaches `top_p` (at least one),
    as (probabilities, token ids), likeliest first. Sorting a 49k vocabulary takes tens of ms
    on a busy CPU; the nucleus is found among the top 64, 512, ... tokens instead."""
    size = min(64, probs.numel())
    while True:
        top, order = torch.topk(probs, size)  # sorted, largest first
        if size == probs.numel() or float(top.sum()) >= top_p:
            break
        size = min(size * 8, probs.numel())
    return top * (torch.cumsum(top, dim=-1) - top < top_p), order


class Sampler:
    """Chooses each token: the repetition penalty over the last `window` tokens it chose, then
    greedy (temperature 0) or temperature, top-k and top-p (nucleus) sampling, in HF's order.
    A seed makes sampled answers reproducible."""

    def __init__(
        self,
        temperature: float,
        top_p: float = 1.0,
        seed: int | None = None,
        *,
        top_k: int = 0,
        repeat_penalty: float = 1.0,
        window: int = REPEAT_WINDOW,
    ) -> None:
        self.temperature = temperature
        self.top_p = top_p
        self.top_k = top_k
        self.repeat_penalty = repeat_penalty
        self.recent: deque[int] = deque(maxlen=window if repeat_penalty != 1.0 else 0)
        self.generator = torch.Generator()
        if seed is not None:
            self.generator.manual_seed(seed)
        else:
            self.generator.seed()

    @classmethod
    def of(cls, sampling: Sampling, seed: int | None) -> Sampler:
        return cls(
            sampling.temperature,
            sampling.top_p,
            seed,
            top_k=sampling.top_k,
            repeat_penalty=sampling.repeat_penalty,
            window=sampling.window,
        )

    def __call__(self, logits: torch.Tensor) -> int:  # logits: [vocab]
        if not self.recent:
            token = self._pick(logits)
        elif self.temperature <= 0 and self.repeat_penalty >= 1:
            token = self._greedy_penalised(logits)
        else:
            recent = torch.tensor(self.recent, device=logits.device)
            token = self._pick(penalize(logits, recent, self.repeat_penalty))
        if self.recent.maxlen:
            self.recent.append(token)
        return token

    def _greedy_penalised(self, logits: torch.Tensor) -> int:
        """argmax of the penalised logits without touching the whole vocabulary: a penalty of 1
        or more only lowers scores, so the best token is among the len(recent) + 1 likeliest.
        (Elementwise ops over 49k logits split across threads, and on a busy CPU each waited
        milliseconds for the second thread: bench/quality.py.)"""
        recent = torch.tensor(self.recent, device=logits.device)
        top, order = torch.topk(logits, min(len(recent) + 1, logits.numel()))
        seen = torch.isin(order, recent)
        penalty = self.repeat_penalty
        top = torch.where(seen, torch.where(top > 0, top / penalty, top * penalty), top)
        return int(order[torch.argmax(top)])

    def _pick(self, logits: torch.Tensor) -> int:
        if self.temperature <= 0:
            return int(torch.argmax(logits))
        probs = torch.softmax(logits.float() / self.temperature, dim=-1)
        if 0 < self.top_k < probs.numel():
            top, order = torch.topk(probs, self.top_k)
            top = top / top.sum()  # top-p then reads what top-k kept, as in HF
            if self.top_p < 1.0:
                top = top * (torch.cumsum(top, dim=-1) - top < self.top_p)
            return int(order[self._draw(top)])
        if self.top_p < 1.0:
            top, order = nucleus(probs, self.top_p)
            return int(order[self._draw(top)])
        return self._draw(probs)

    def _draw(self, weights: torch.Tensor) -> int:
        """An index drawn in proportion to `weights` (zeros never): one uniform number from
        the seeded generator against the cumulative sum (torch.multinomial over a whole
        vocabulary was ~25 ms a token here)."""
        total = torch.cumsum(weights.cpu().double(), dim=-1)
        point = torch.rand(1, generator=self.generator, dtype=torch.float64) * total[-1]
        return min(int(torch.searchsorted(total, point, right=True)), total.numel() - 1)
