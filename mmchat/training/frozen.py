"""What the frozen decoder and encoder compute once, shared by the training stages.

Decoder and encoder never change while the new layers train, so their outputs are cached:
encoder features pooled per image (on disk), and the hidden states entering the first
cross-attention block per (system prompt, question, answer) text, since below that block
nothing depends on the picture.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mmchat.training.easy_vqa import SYSTEM_PROMPTS, answer_ids, image_path, prompt_ids

if TYPE_CHECKING:  # torch loads only when training runs, never when the CLI starts
    import torch

    from mmchat.engine.fusion import FusionModel, ReadoutCrossAttention, VisionProjector


@dataclass
class CachedText:
    hidden: torch.Tensor  # (S, D) hidden states entering the first cross-attention block
    targets: torch.Tensor  # (K,) answer tokens then end of turn
    start: int  # position whose output predicts targets[0]


def encode_split(
    model: FusionModel, split: str, ids: list[int], log: Callable[[str], None], batch: int = 16
) -> dict[int, torch.Tensor]:
    """Pooled encoder features per image id, cached on disk (encoding is the slow part)."""
    import torch
    from PIL import Image

    from mmchat.config import cache_dir

    path = cache_dir() / "fusion-train" / f"easy-vqa-{split}-g{model.config.pool_grid}.pt"
    # weights_only: tensors and plain containers, never arbitrary objects from a pickle.
    cache: dict[int, torch.Tensor] = torch.load(path, weights_only=True) if path.is_file() else {}
    todo = [i for i in ids if i not in cache]
    started = time.perf_counter()
    for n in range(0, len(todo), batch):
        chunk = todo[n : n + batch]
        images = [Image.open(image_path(split, i)).convert("RGB") for i in chunk]
        pooled = model.pooled_features(images)
        cache.update({i: f.clone() for i, f in zip(chunk, pooled, strict=True)})
        if (n // batch) % 20 == 0:
            rate = (time.perf_counter() - started) / (n + len(chunk))
            log(f"encoded {n + len(chunk)}/{len(todo)} {split} images ({rate:.3f} s/image)")
    if todo:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(cache, path)
    return {i: cache[i] for i in ids}


def cache_texts(
    model: FusionModel,
    pairs: list[tuple[str, str]],
    systems: Sequence[str | None] = SYSTEM_PROMPTS,
) -> tuple[list[CachedText], dict[tuple[int, str, str], int]]:
    """Hidden states entering the first cross-attention block, per (system, question, answer).

    The system prompt runs once per prompt kind, each question continues from a copy of its KV
    cache, each answer from the question's: far cheaper than running every ~40-token text whole.
    """
    import torch

    answers: dict[str, list[str]] = {}
    for question, answer in pairs:
        answers.setdefault(question, []).append(answer)
    texts: list[CachedText] = []
    index: dict[tuple[int, str, str], int] = {}
    for s, system in enumerate(systems):
        prompts = {q: prompt_ids(model.tokenizer, q, system) for q in answers}
        shared = _common_prefix(list(prompts.values()))
        head, head_cache = _continue(model, shared, None)
        for question, prompt in prompts.items():
            middle, cache = _continue(model, prompt[len(shared) :], head_cache)
            for answer in answers[question]:
                target = answer_ids(model.tokenizer, answer)
                tail, _ = _continue(model, target[:-1], cache)  # the last target is no input
                index[(s, question, answer)] = len(texts)
                hidden = torch.cat([head, middle, tail])
                texts.append(CachedText(hidden, torch.tensor(target), len(prompt) - 1))
    return texts, index


def _common_prefix(rows: list[list[int]]) -> list[int]:
    n = 0
    while all(len(r) > n + 1 and r[n] == rows[0][n] for r in rows):
        n += 1
    return rows[0][:n]


def _continue(model: FusionModel, ids: list[int], cache: Any) -> tuple[torch.Tensor, Any]:
    """(len(ids), D) hidden states entering the first cross-attention block, and the KV cache
    extended by `ids` (the given cache is copied, not changed)."""
    import copy

    import torch

    with torch.no_grad():
        out = model.decoder_body(
            input_ids=torch.tensor([ids]),
            past_key_values=copy.deepcopy(cache) if cache is not None else None,
            use_cache=True,
            output_hidden_states=True,
        )
    first = min(model.config.cross_layers)
    return out.hidden_states[first][0], out.past_key_values  # hidden_states[i]: block i's input


def run_blocks(model: FusionModel, hidden: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    """Decoder blocks start..stop-1 on (B, S, D) right-padded hidden states.

    With no attention mask the blocks are causal, so padding after a sequence never reaches it.
    """
    import torch

    decoder = model.decoder_body
    positions = torch.arange(hidden.shape[1]).unsqueeze(0)
    rotary = decoder.rotary_emb(hidden, positions)
    for layer in decoder.layers[start:stop]:
        hidden = layer(
            hidden, attention_mask=None, position_ids=positions, position_embeddings=rotary
        )
    return hidden


def auto_threads() -> int:
    """Cores not already busy: torch threads beyond the free cores wait on each other's
    preempted halves, and a decoder forward then runs several times slower than on one thread
    (docs/PERFORMANCE.md, training)."""
    import os

    cores = os.cpu_count() or 1
    busy = round(os.getloadavg()[0])
    return max(1, min(cores, cores - busy))


def fit_standardisation(
    module: VisionProjector | ReadoutCrossAttention, samples: torch.Tensor
) -> None:
    """Set a module's `mean` and `std` buffers to those of (N, C) samples, per channel."""
    module.mean.copy_(samples.mean(0))
    module.std.copy_(samples.std(0).clamp_min(1e-3))
