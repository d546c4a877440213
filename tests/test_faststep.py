"""The scripted one-token step (mmchat.engine.faststep): FastLlama's eager numbers, bit for bit.

At int8 a last-bit difference changes a greedy answer within a few tokens (fbgemm scales
activations per call), so equal logits and equal answers on the real default decoder mean the
scripted step does the eager step's arithmetic.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from test_fastpath import TINY_SIZES, fast_logits, tiny_llama
from transformers import Qwen2Config, Qwen2ForCausalLM

from mmchat.engine import faststep
from mmchat.engine.fastpath import FastLlama, LlamaParts

IDS = [5, 17, 33, 2, 90, 64, 7, 11, 3, 42, 8, 19]


def tiny(kind: str) -> torch.nn.Module:
    if kind == "qwen2":  # q/k/v biases, packed beside the int8 weights
        torch.manual_seed(0)
        return Qwen2ForCausalLM(Qwen2Config(**TINY_SIZES)).eval()
    return tiny_llama()


def eager_copy(fast: FastLlama) -> FastLlama:
    """The same weights decoding without the scripted step."""
    other = FastLlama(fast.parts)
    other.step = None
    return other


def greedy(fast: FastLlama, prompt: list[int], count: int) -> list[int]:
    fast.reset(len(prompt) + count)
    logits = fast.forward(prompt)
    answer = []
    for _ in range(count):
        answer.append(int(logits.argmax()))
        logits = fast.forward(answer[-1:])
    return answer


@pytest.mark.parametrize("kind", ["llama", "qwen2"])
def test_scripted_step_gives_the_eager_logits_bit_for_bit(kind: str) -> None:
    fast = FastLlama(tiny(kind))
    assert fast.step is not None  # scripting works here: the test compares something
    eager = eager_copy(fast)
    for prefill in (1, 5):
        scripted = fast_logits(fast, IDS, prefill)
        assert torch.equal(scripted, fast_logits(eager, IDS, prefill))
        # the steps (all but the first row) ran scripted: the prompt's cache is the same too
        assert torch.equal(fast.cache, eager.cache)
    assert greedy(fast, IDS, 30) == greedy(eager, IDS, 30)


def test_turned_off_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(faststep.ENV, "eager")
    assert FastLlama(tiny("llama")).step is None


def test_a_failed_script_falls_back_to_eager_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_sources(module: object) -> object:
        # what torch.jit.script raises where mmchat's .py files are not installed
        raise OSError("Can't get source for <class '_OneToken'>.\nmore detail")

    reference = FastLlama(tiny("llama"))
    monkeypatch.setattr(torch.jit, "script", no_sources)
    fast = FastLlama(tiny("llama"))
    assert fast.step is None
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [
        "mmchat: decoding without the scripted step (OSError: Can't get source for "
        "<class '_OneToken'>.)"
    ]
    assert greedy(fast, IDS, 20) == greedy(reference, IDS, 20)


def test_a_step_that_fails_while_decoding_hands_over_to_eager(
    capsys: pytest.CaptureFixture[str],
) -> None:
    fast = FastLlama(tiny("llama"))
    expected = greedy(eager_copy(fast), IDS, 20)

    def broken(*args: object) -> torch.Tensor:
        raise RuntimeError("a kernel this torch does not have")

    fast.step = broken
    assert greedy(fast, IDS, 20) == expected
    assert fast.step is None
    assert "the scripted step failed, decoding eagerly" in capsys.readouterr().err


# -- the real default decoder --------------------------------------------------------------------

PROMPTS = [
    "Explain in one sentence what a CPU does.",
    "Write a short poem about cats.",
    "Name three colors of the rainbow.",
    "Give me two tips for sleeping better.",
]


@pytest.fixture(scope="module")
def default_fast() -> Iterator[tuple[FastLlama, list[list[int]]]]:
    from transformers import AutoTokenizer

    from mmchat.engine import fastcache
    from mmchat.engine.default_decoder import smollm2_dir

    folder = smollm2_dir()
    fast = fastcache.lean_llama(folder)
    if fast is None:  # no int8 cache yet: quantize once (and cache it)
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
        fast = fastcache.fast_llama(LlamaParts.of(model), folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    prompts = []
    for text in PROMPTS:
        chat = [{"role": "user", "content": text}]
        encoded = tokenizer.apply_chat_template(chat, add_generation_prompt=True, return_dict=True)
        prompts.append(list(encoded["input_ids"]))
    yield fast, prompts


def test_real_decoder_greedy_answers_are_the_eager_ones_token_for_token(
    default_fast: tuple[FastLlama, list[list[int]]],
) -> None:
    fast, prompts = default_fast
    assert fast.step is not None
    eager = eager_copy(fast)
    for prompt in prompts:
        assert greedy(fast, prompt, 48) == greedy(eager, prompt, 48)
    prompt = prompts[0]
    assert torch.equal(
        fast_logits(fast, prompt, len(prompt) - 6), fast_logits(eager, prompt, len(prompt) - 6)
    )
