"""Choosing tokens (mmchat.engine.sampling), ending loops (mmchat.engine.repetition), and the
sampling values a person may set (flags, settings, personas), on tensors and token streams.

The same parts on the real default decoder are in test_generate.py and test_cli.py.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from transformers import GenerationConfig, RepetitionPenaltyLogitsProcessor

from mmchat.config import ConfigError, load_settings, sampling_problem, settings_path
from mmchat.engine.repetition import RepetitionGuard
from mmchat.engine.sampling import (
    EXACT_GREEDY,
    MODEL_FALLBACK,
    REPEAT_PENALTY,
    REPEAT_WINDOW,
    Sampler,
    Sampling,
    choose_sampling,
    model_sampling,
    penalize,
)
from mmchat.personas import Persona, PersonaError, persona_problem, read_persona_toml

# -- the windowed repetition penalty -------------------------------------------------------------


def test_the_penalty_divides_positive_and_multiplies_negative_logits_of_seen_tokens() -> None:
    logits = torch.tensor([2.0, -2.0, 1.0, -1.0, 0.5])
    got = penalize(logits, torch.tensor([0, 1, 1]), 2.0)  # token 1 seen twice: penalised once
    assert got.tolist() == [1.0, -4.0, 1.0, -1.0, 0.5]
    assert logits.tolist() == [2.0, -2.0, 1.0, -1.0, 0.5]  # the step's logits are left alone


def test_the_penalty_is_hf_s_processor_over_the_last_64_tokens() -> None:
    generator = torch.Generator().manual_seed(3)
    logits = torch.randn(1000, generator=generator) * 4
    history = torch.randint(0, 1000, (300,), generator=generator).tolist()
    sampler = Sampler(0.0, repeat_penalty=1.3)
    sampler.recent.extend(history)  # as if it had chosen them
    window = history[-REPEAT_WINDOW:]
    assert list(sampler.recent) == window
    ours = penalize(logits, torch.tensor(list(sampler.recent)), 1.3)
    hf = RepetitionPenaltyLogitsProcessor(1.3)(torch.tensor([window]), logits[None].clone())[0]
    assert torch.allclose(ours, hf)
    older = set(history[:-REPEAT_WINDOW]) - set(window)
    assert older and all(ours[t] == logits[t] for t in older)  # outside the window: untouched


def test_greedy_with_the_penalty_leaves_a_token_it_keeps_choosing() -> None:
    logits = torch.tensor([3.0, 2.9, 0.0])
    plain, penalised = Sampler(0.0), Sampler(0.0, repeat_penalty=1.1)
    assert [plain(logits) for _ in range(3)] == [0, 0, 0]
    # 3.0/1.1 < 2.9, then both are seen and penalised alike: the likelier comes back
    assert [penalised(logits) for _ in range(3)] == [0, 1, 0]


def test_greedy_with_the_penalty_is_argmax_of_the_penalised_logits() -> None:
    generator = torch.Generator().manual_seed(1)
    sampler = Sampler(0.0, repeat_penalty=1.3)
    for _ in range(200):  # logits near one another: the penalty often changes the choice
        logits = torch.randn(300, generator=generator)
        recent = torch.tensor(list(sampler.recent), dtype=torch.long)
        expected = int(torch.argmax(penalize(logits, recent, 1.3) if len(recent) else logits))
        assert sampler(logits) == expected


def test_top_k_1_and_a_tiny_top_p_are_argmax_and_a_seed_repeats_a_sample() -> None:
    generator = torch.Generator().manual_seed(0)
    rows = [torch.randn(500, generator=generator) for _ in range(20)]
    argmax = [int(torch.argmax(r)) for r in rows]
    assert [Sampler(1.0, seed=1, top_k=1)(r) for r in rows] == argmax
    assert [Sampler(1.0, 1e-6, seed=1)(r) for r in rows] == argmax
    first, again = Sampler(1.0, 0.9, seed=5, top_k=40), Sampler(1.0, 0.9, seed=5, top_k=40)
    drawn = [first(r) for r in rows]
    assert drawn == [again(r) for r in rows] and drawn != argmax
    other = Sampler(1.0, 0.9, seed=6, top_k=40)
    assert [other(r) for r in rows] != drawn


def test_top_p_keeps_only_the_nucleus() -> None:
    logits = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05]))
    sampler = Sampler(1.0, 0.75, seed=0)  # 0.5 + 0.3 reach 0.75: the two likeliest only
    assert {sampler(logits) for _ in range(300)} == {0, 1}
    full = Sampler(1.0, 1.0, seed=0)
    assert {full(logits) for _ in range(300)} == {0, 1, 2, 3}


# -- which sampling an answer uses ----------------------------------------------------------------


def test_a_model_without_sampling_settings_is_greedy_with_llama_cpp_s_penalty() -> None:
    assert model_sampling(None) == MODEL_FALLBACK
    assert model_sampling(GenerationConfig(bos_token_id=1, eos_token_id=2)) == Sampling(
        temperature=0.0, repeat_penalty=REPEAT_PENALTY
    )


def test_a_model_s_generation_config_sets_its_defaults() -> None:
    qwen = GenerationConfig(
        do_sample=True, temperature=0.7, top_p=0.8, top_k=20, repetition_penalty=1.05
    )
    assert model_sampling(qwen) == Sampling(0.7, 0.8, 20, 1.05)
    no_penalty = GenerationConfig(do_sample=True, temperature=0.6, top_p=0.95)
    chosen = model_sampling(no_penalty)
    assert chosen == Sampling(0.6, 0.95, 0, REPEAT_PENALTY)  # no top_k set: none applied


def test_temperature_0_asked_for_is_exact_greedy_and_other_values_override_the_model() -> None:
    model = Sampling(0.7, 0.8, 20, 1.05)
    assert choose_sampling(model, temperature=0.0) == EXACT_GREEDY
    assert choose_sampling(model, temperature=0.0, repeat_penalty=1.2) == Sampling(
        repeat_penalty=1.2
    )
    assert choose_sampling(model) == model
    assert choose_sampling(model, top_p=0.5, top_k=0) == Sampling(0.7, 0.5, 0, 1.05)


# -- the loop guard -------------------------------------------------------------------------------


def feed(guard: RepetitionGuard, ids: list[int]) -> int | None:
    """How many tokens went in when the guard fired, or None."""
    for count, token in enumerate(ids, 1):
        if guard.push(token):
            return count
    return None


def words(ids: list[int]) -> bool:
    return any(t < 100 for t in ids)  # ids under 100 stand for tokens with letters


def test_the_guard_fires_as_the_third_copy_ends() -> None:
    intro, line = [1, 2, 3], [10, 11, 12, 13, 14, 15, 16, 17]  # a sentence of 8 tokens
    assert feed(RepetitionGuard(words), intro + line * 5) == len(intro) + 3 * len(line)
    assert feed(RepetitionGuard(words), intro + line * 2 + [40] + line * 2) is None


def test_the_guard_catches_a_one_token_loop_at_twelve_tokens() -> None:
    assert feed(RepetitionGuard(words), [1, 2] + [7] * 30) == 2 + 12


def test_the_guard_leaves_short_units_and_rows_without_words_alone() -> None:
    assert feed(RepetitionGuard(words), [1] + [5, 6, 7] * 3 + [8]) is None  # 3 tokens a copy
    dashes = [200, 201, 202, 203]  # "| --- " cells of a Markdown table
    assert feed(RepetitionGuard(words), [1] + dashes * 6) is None


def test_the_guard_looks_at_units_up_to_its_longest() -> None:
    para = list(range(30, 90))  # 60 tokens
    assert feed(RepetitionGuard(words, max_unit=50), para * 3) is None
    assert feed(RepetitionGuard(words), para * 3) == 180


# -- values a person sets -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("temperature", -1.0, "must be 0 or more (0 = greedy), got -1.0"),
        ("temperature", math.inf, "must be 0 or more"),
        ("top_p", 2.0, "must be more than 0 and at most 1, got 2.0"),
        ("top_p", 0.0, "must be more than 0 and at most 1, got 0.0"),
        ("top_p", math.nan, "must be more than 0"),
        ("top_k", -3, "must be 0 (off) or more, got -3"),
        ("repeat_penalty", 0.0, "must be more than 0 (1 = off), got 0.0"),
        ("repeat_penalty", True, "must be more than 0"),
    ],
)
def test_bad_sampling_values_are_named(name: str, value: object, problem: str) -> None:
    got = sampling_problem(name, value)
    assert got is not None and got.startswith(problem)


@pytest.mark.parametrize(
    ("name", "value"),
    [("temperature", 0.0), ("temperature", 1.5), ("top_p", 1.0), ("top_k", 0), ("top_p", None)],
)
def test_good_sampling_values_pass(name: str, value: object) -> None:
    assert sampling_problem(name, value) is None


def test_settings_leave_sampling_to_the_model_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert (settings.temperature, settings.top_p, settings.top_k, settings.repeat_penalty) == (
        None,
        None,
        None,
        None,
    )
    path = settings_path()
    path.parent.mkdir(parents=True)
    path.write_text("top_p = 0.9\nrepeat_penalty = 1.2\n")
    monkeypatch.setenv("MMCHAT_TOP_K", "40")
    monkeypatch.setenv("MMCHAT_TEMPERATURE", "0")
    settings = load_settings()
    assert (settings.temperature, settings.top_p, settings.top_k, settings.repeat_penalty) == (
        0.0,
        0.9,
        40,
        1.2,
    )


@pytest.mark.parametrize(
    ("content", "env", "message"),
    [
        ("top_p = 2\n", {}, "settings.toml: 'top_p' must be more than 0 and at most 1, got 2.0"),
        ("repeat_penalty = 0\n", {}, "'repeat_penalty' must be more than 0 (1 = off)"),
        ("top_k = 0.5\n", {}, "'top_k' must be an int, got 0.5"),
        ("", {"MMCHAT_TEMPERATURE": "-1"}, "MMCHAT_TEMPERATURE: 'temperature' must be 0 or more"),
    ],
)
def test_bad_sampling_settings_are_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, content: str, env: dict[str, str], message: str
) -> None:
    path = settings_path()
    path.parent.mkdir(parents=True)
    path.write_text(content)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert message in str(info.value) and "\n" not in str(info.value)


def test_bad_persona_sampling_values_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "hot.toml"
    path.write_text('name = "hot"\nsystem_prompt = "Hi."\ntemperature = -0.5\n')
    with pytest.raises(PersonaError) as info:
        read_persona_toml(path)
    assert str(info.value) == (
        f"{path}: field 'temperature' must be 0 or more (0 = greedy), got -0.5"
    )
    assert persona_problem(Persona("wide", top_p=1.5)) == (
        "persona 'wide': 'top_p' must be more than 0 and at most 1, got 1.5"
    )
    assert persona_problem(Persona("calm", temperature=0.2, top_p=0.9)) is None


# -- how the TUI marks an answer the engine ended early -------------------------------------------


@pytest.mark.parametrize(
    ("meta", "note"),
    [
        ({"finish_reason": "repetition"}, "ended early: it was repeating itself"),
        ({"finish_reason": "length"}, "cut off at the length limit"),
        ({}, None),
    ],
)
async def test_the_tui_marks_an_answer_ended_early(meta: dict[str, str], note: str | None) -> None:
    from textual.app import App, ComposeResult
    from textual.widgets import Static

    from mmchat.store import Message
    from mmchat.tui.widgets.message_box import MessageBox

    saved = Message(1, 1, "assistant", "Cats are soft.\n" * 3, "complete", meta=meta)

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield MessageBox("assistant", saved.content, message=saved)

    async with Host().run_test() as pilot:
        header = str(pilot.app.query_one(".message-header", Static).render())
        assert (note in header) if note else header.strip() == "assistant", header
