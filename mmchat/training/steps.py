"""The optimisation loop the training stages share: a step, gradient clipping, the schedule,
and a running log of the loss and batch accuracy over the last 20 steps."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

WINDOW = 20  # steps the logged and final figures average over: one batch is noisy
LOG_EVERY = 10


@dataclass(frozen=True)
class Trained:
    final_loss: float
    final_batch_accuracy: float
    train_seconds: float


def run_steps(
    steps: int,
    loss_at: Callable[[int], tuple[torch.Tensor, float]],
    parameters: Sequence[torch.nn.Parameter],
    optimiser: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler,
    log: Callable[[str], None],
    after_step: Callable[[int], None] | None = None,
) -> Trained:
    """Run `steps` steps of `loss_at(step)` -> (loss, batch accuracy); `after_step` may save."""
    import torch

    started = time.perf_counter()
    recent: list[tuple[float, float]] = []
    for step in range(1, steps + 1):
        loss, accuracy = loss_at(step)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimiser.step()
        schedule.step()
        recent = [*recent[-(WINDOW - 1) :], (loss.item(), accuracy)]
        if step % LOG_EVERY == 0 or step == steps:
            mean_loss, mean_acc = _means(recent)
            rate = (time.perf_counter() - started) / step
            log(f"step {step}/{steps} loss {mean_loss:.4f} acc {mean_acc:.3f} ({rate:.2f} s/step)")
        if after_step is not None:
            after_step(step)
    mean_loss, mean_acc = _means(recent)
    return Trained(
        final_loss=round(mean_loss, 5),
        final_batch_accuracy=round(mean_acc, 4),
        train_seconds=round(time.perf_counter() - started, 1),
    )


def _means(recent: list[tuple[float, float]]) -> tuple[float, float]:
    return (
        sum(r[0] for r in recent) / len(recent),
        sum(r[1] for r in recent) / len(recent),
    )
