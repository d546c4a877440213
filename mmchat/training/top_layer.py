"""Stage: add a cross-attention layer after the decoder's last block to a trained fusion model, and
train only that layer, so yes/no questions are answered from the picture.

Why a second stage: the layers before blocks 28-29 learn the picture's color and shape, but a
yes/no question needs the asked word compared with the seen one, and the frozen blocks above
them keep answering from the wording ("is there a red shape?" -> "no"). A layer after the last
block writes straight into what the LM head reads. Everything below it is fixed in this stage,
so its input (the residual stream before the final norm, at the answer positions) is computed
once per example and each step runs just the new layer, the final norm and the LM head.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from mmchat.training.easy_vqa import (
    SYSTEM_PROMPTS,
    SYSTEM_WEIGHTS,
    answer_kind,
    negated,
    read_split,
)
from mmchat.training.frozen import (
    auto_threads,
    cache_texts,
    encode_split,
    fit_standardisation,
    run_blocks,
)

if TYPE_CHECKING:
    import torch

    from mmchat.engine.fusion import FusionModel, ReadoutCrossAttention

# Share of each batch per cell. "from picture": yes/no questions whose answer is the opposite of
# what the wording alone suggests (18% of easy-vqa's yes/no); "from wording": the rest.
CELL_SHARE = {"from picture": 0.3, "from wording": 0.4, "color": 0.15, "shape": 0.15}
OTHER_TOKENS = 2000  # random tokens beside the answers in the training softmax


def cell(question: str, answer: str) -> str:
    kind = answer_kind(answer)
    if kind != "yes/no":
        return kind
    # One shape per image: "is there a red shape?" is mostly "no", its negation mostly "yes".
    return "from picture" if (answer == "yes") != negated(question) else "from wording"


@dataclass(frozen=True)
class Row:
    hidden: torch.Tensor  # (K, D) residual before the final norm at the K answer positions
    targets: torch.Tensor  # (K,) answer tokens then end of turn
    image_id: int
    cell: str


def cache_rows(
    model: FusionModel,
    questions: list[tuple[str, str, int]],
    features: dict[int, torch.Tensor],
    rng: random.Random,
    log: Callable[[str], None],
    batch: int = 64,
) -> list[Row]:
    """Every question once (with a random system prompt), run up to the new layer's input."""
    import torch

    texts, index = cache_texts(model, sorted({(q, a) for q, a, _ in questions}))
    systems = rng.choices(range(len(SYSTEM_PROMPTS)), weights=SYSTEM_WEIGHTS, k=len(questions))
    first = min(model.config.cross_layers)
    top = len(model.decoder_body.layers)
    rows: list[Row] = []
    started = time.perf_counter()
    with torch.no_grad():
        for n in range(0, len(questions), batch):
            chunk = list(zip(questions[n : n + batch], systems[n : n + batch], strict=True))
            cached = [texts[index[(s, q, a)]] for (q, a, _), s in chunk]
            hidden = torch.nn.utils.rnn.pad_sequence([c.hidden for c in cached], batch_first=True)
            vision = model.project(torch.stack([features[i] for (_, _, i), _ in chunk]))
            with model.attend_to(vision):  # the new layer is zero-gated: it changes nothing yet
                out = run_blocks(model, hidden, first, top)
            for b, (c, ((q, a, i), _)) in enumerate(zip(cached, chunk, strict=True)):
                span = out[b, c.start : c.start + len(c.targets)].clone()
                rows.append(Row(span, c.targets, i, cell(q, a)))
            if (n // batch) % 50 == 0:
                log(f"ran {n + len(chunk)}/{len(questions)} questions to the top layer")
    log(f"cached {len(rows)} rows in {time.perf_counter() - started:.1f} s")
    return rows


@dataclass(frozen=True)
class Vocabulary:
    """A sampled softmax: every answer token and end of turn, plus `others` random tokens drawn
    afresh each step. The LM head over the whole vocabulary was most of a step's time. With one
    fixed draw, the layer raised tokens outside it unchecked and held-out colour answers (full
    head) collapsed (docs/PERFORMANCE.md, training); held-out checks always use the full head."""

    tokens: torch.Tensor  # (V,) token ids
    position: torch.Tensor  # (vocab,) a token id's index in `tokens`, -1 if absent

    @classmethod
    def sample(cls, answers: set[int], size: int, others: int, rng: random.Random) -> Vocabulary:
        import torch

        wanted = answers | set(rng.sample(range(size), others))
        tokens = torch.tensor(sorted(wanted))
        position = torch.full((size,), -1)
        position[tokens] = torch.arange(len(tokens))
        return cls(tokens, position)


def rows_loss(
    model: FusionModel,
    layer: ReadoutCrossAttention,
    vision: dict[int, torch.Tensor],
    rows: list[Row],
    vocabulary: Vocabulary | None = None,
) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """Logits at every answer position of `rows` with the top layer applied, and the targets
    (both over `vocabulary` when given)."""
    import torch

    hidden = torch.nn.utils.rnn.pad_sequence([r.hidden for r in rows], batch_first=True)
    hidden = layer(hidden, torch.stack([vision[r.image_id] for r in rows]))
    lengths = [len(r.targets) for r in rows]
    at = torch.cat([torch.full((k,), b) for b, k in enumerate(lengths)])
    pos = torch.cat([torch.arange(k) for k in lengths])
    normed = model.decoder_body.norm(hidden[at, pos])
    targets = torch.cat([r.targets for r in rows])
    if vocabulary is None:
        return model.lm_head(normed), targets, lengths
    head = model.lm_head.weight[vocabulary.tokens]
    return normed @ head.T, vocabulary.position[targets], lengths


def set_text_statistics(layer: ReadoutCrossAttention, rows: list[Row]) -> None:
    """Standardise the layer's text input with the training rows' per-channel mean and std."""
    import torch

    fit_standardisation(layer, torch.cat([r.hidden for r in rows]))


def accuracy(
    model: FusionModel,
    layer: ReadoutCrossAttention,
    vision: dict[int, torch.Tensor],
    rows: list[Row],
) -> dict[str, float]:
    """Share of answers fully right (argmax at every position), per cell and overall."""
    import torch

    right, total = Counter[str](), Counter[str]()
    with torch.no_grad():
        for n in range(0, len(rows), 256):
            part = rows[n : n + 256]
            logits, targets, lengths = rows_loss(model, layer, vision, part)
            hits = (logits.argmax(-1) == targets).split(lengths)
            for row, hit in zip(part, hits, strict=True):
                total[row.cell] += 1
                right[row.cell] += bool(hit.all())
    shares = {c: round(right[c] / total[c], 4) for c in sorted(total)}
    shares["all"] = round(sum(right.values()) / max(1, sum(total.values())), 4)
    return shares


def train(
    out_dir: Path,
    *,
    init: Path | None,
    steps: int,
    batch_size: int,
    lr: float,
    seed: int,
    images: int,
    held_out: int,
    threads: int = 0,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Grow the `init` model by a top layer and train only it; save the grown model to
    `out_dir`; return the run's figures. The shipped settings are in `recipe.SHIPPED_RECIPE`."""
    import torch

    from mmchat.engine.fusion import FusionModel

    if init is None:
        raise ValueError("the top layer trains on top of a trained model: give it --init FOLDER")
    started = time.perf_counter()
    torch.set_num_threads(threads or auto_threads())
    random.seed(seed)
    torch.manual_seed(seed)
    rng = random.Random(seed)
    model = FusionModel.from_pretrained(init)
    # add_top_layer adds a ReadoutCrossAttention; a ModuleDict types its items as any Module.
    layer = cast("ReadoutCrossAttention", model.adapter.cross[model.add_top_layer()])
    questions = read_split("train")
    chosen = sorted(rng.sample(sorted({i for _, _, i in questions}), images))
    features = encode_split(model, "train", chosen, log)
    keep = set(chosen)
    questions = [q for q in questions if q[2] in keep]
    rows = cache_rows(model, questions, features, rng, log)
    vision = {i: model.project(f[None])[0].detach() for i, f in features.items()}
    check = set(rng.sample(chosen, held_out))  # images whose questions are never trained on
    train_rows = [r for r in rows if r.image_id not in check]
    check_rows = [r for r in rows if r.image_id in check]
    before = accuracy(model, layer, vision, check_rows)
    log(f"held-out accuracy before: {before}")
    set_text_statistics(layer, train_rows)
    figures = _optimise(
        model, layer, vision, train_rows, check_rows, steps, batch_size, lr, log, seed=seed
    )
    model.save_pretrained(out_dir)
    figures.update(
        images=images,
        held_out_images=held_out,
        rows=len(rows),
        held_out_before=before,
        seed=seed,
        threads=torch.get_num_threads(),
        total_seconds=round(time.perf_counter() - started, 1),
    )
    return figures


def _optimise(
    model: FusionModel,
    layer: ReadoutCrossAttention,
    vision: dict[int, torch.Tensor],
    rows: list[Row],
    check_rows: list[Row],
    steps: int,
    batch_size: int,
    lr: float,
    log: Callable[[str], None],
    others: int = OTHER_TOKENS,
    seed: int = 0,
) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F

    rng = random.Random(seed)
    answers = set(torch.cat([r.targets for r in rows]).tolist())
    size = model.lm_head.weight.shape[0]

    model.adapter.requires_grad_(False)
    layer.requires_grad_(True)
    layer.train()
    counts = Counter(r.cell for r in rows)
    weights = torch.tensor([CELL_SHARE[r.cell] / counts[r.cell] for r in rows])
    # As in the first stage, the gate learns faster than the weights it scales: while it is
    # near zero, so are their gradients.
    groups: list[dict[str, Any]] = [
        {"params": [p for n, p in layer.named_parameters() if n != "gate"], "lr": lr},
        {"params": [layer.gate], "lr": lr * 30, "weight_decay": 0.0},
    ]
    optimiser = torch.optim.AdamW(groups, lr=lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=[g["lr"] for g in groups], total_steps=steps, pct_start=0.1
    )
    started = time.perf_counter()
    recent: list[float] = []
    for step in range(1, steps + 1):
        picks = torch.multinomial(weights, batch_size, replacement=True).tolist()
        vocabulary = Vocabulary.sample(answers, size, min(others, size), rng)
        logits, targets, _ = rows_loss(model, layer, vision, [rows[i] for i in picks], vocabulary)
        loss = F.cross_entropy(logits, targets)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(layer.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        recent = [*recent[-19:], loss.item()]
        if step % 200 == 0 or step == steps:
            layer.eval()
            rate = (time.perf_counter() - started) / step
            log(
                f"step {step}/{steps} loss {sum(recent) / len(recent):.4f} "
                f"held-out {accuracy(model, layer, vision, check_rows)} ({rate:.2f} s/step)"
            )
            layer.train()
    layer.eval()
    return {
        "steps": steps,
        "batch_size": batch_size,
        "lr": lr,
        "cell_share": CELL_SHARE,
        "softmax_tokens": f"{len(answers)} answer tokens + {others} drawn each step",
        "train_seconds": round(time.perf_counter() - started, 1),
        "final_loss": round(sum(recent) / len(recent), 5),
        "held_out_after": accuracy(model, layer, vision, check_rows),
    }
