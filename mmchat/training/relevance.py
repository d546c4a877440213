"""Stage: train the relevance gate (mmchat/engine/vision/relevance.py) on labelled messages.

A logistic regression on frozen hidden states (the int8 fast path's, which the CPU reads at run
time): seconds of fitting after one pass of the decoder over ~300 messages. Block 12 of
SmolLM2-135M was chosen by 5-fold cross-validation over blocks 4-30 (the middle blocks did best;
the last ones worst).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from mmchat.engine.vision.relevance import RelevanceGate, message_states


def fit(states: torch.Tensor, labels: torch.Tensor, layer: int, l2: float) -> RelevanceGate:
    """L2-regularised logistic regression on standardised states, by L-BFGS."""
    mean, std = states.mean(dim=0), states.std(dim=0) + 1e-6
    z = (states - mean) / std
    weight = torch.zeros(z.shape[1], requires_grad=True)
    bias = torch.zeros(1, requires_grad=True)
    optimiser = torch.optim.LBFGS([weight, bias], max_iter=500)

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = F.binary_cross_entropy_with_logits(z @ weight + bias, labels)
        loss = loss + l2 * (weight * weight).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    return RelevanceGate(layer, mean, std, weight.detach(), float(bias.detach()))


def train_into(
    folder: Path,
    *,
    init: Path | None = None,
    block: int,
    l2: float,
    threads: int = 0,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train the gate on the packaged decoder's `block` and save it into `folder`, beside the
    fusion layers copied there from `init` (when given); return the run's figures."""
    import shutil

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from mmchat.engine.default_decoder import smollm2_dir
    from mmchat.training.relevance_data import examples

    if threads:
        torch.set_num_threads(threads)
    if init is not None and init.resolve() != folder.resolve():
        shutil.copytree(init, folder, dirs_exist_ok=True)
    source = smollm2_dir()
    tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
    decoder = AutoModelForCausalLM.from_pretrained(
        source, dtype=torch.float32, trust_remote_code=False, use_safetensors=True
    ).eval()
    rows = examples()
    log(f"relevance gate: {len(rows)} messages, block {block}")
    texts = [text for text, _ in rows]
    labels = torch.tensor([label for _, label in rows], dtype=torch.float32)
    # Both kinds of states a gate reads at run time: the CPU's int8 fast path's
    # (FastLlama.states) and the fp32 decoder's (a GPU, `--quant none`). Fitted on the int8
    # ones alone, the gate that learnt the document questions below let fewer picture
    # questions through on fp32 states (held-out: 0.854 against 0.936 on int8).
    from mmchat.engine.fastpath import FastLlama

    int8 = message_states(decoder, tokenizer, texts, block, FastLlama(decoder).states)
    fp32 = message_states(decoder, tokenizer, texts, block)
    states, labels = torch.cat([int8, fp32]), torch.cat([labels, labels])
    gate = fit(states, labels, block, l2)
    accuracy = float(((gate.probabilities(states) >= 0.5) == labels.bool()).float().mean())
    folder.mkdir(parents=True, exist_ok=True)
    gate.save(folder)
    log(f"saved {folder / 'relevance.safetensors'}; training accuracy {accuracy:.3f}")
    return {"messages": len(rows), "block": block, "l2": l2, "training_accuracy": accuracy}
