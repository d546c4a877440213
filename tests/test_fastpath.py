"""The lean Llama forward (mmchat.engine.fastpath): transformers' numbers, bit for bit, faster.

It reads the prompt in fp32 arithmetic on weights dequantized from its int8 ones, and generates
in int8; the reference for that is transformers' model with those dequantized weights (and the
int8 LM head) filling the cache and its int8 copy generating from it (SplitStep, through the
same generation loop as the fast path's step).

Plumbing on a tiny random GQA Llama, then the real default decoder (SmolLM2-135M), then the
engine choosing the fast path for text turns and transformers for image turns.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib.util
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from fast_reads import counting_reads
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

from mmchat.engine import fastcache
from mmchat.engine.base import ChatMessage, Delta, Finished, GenerationRequest
from mmchat.engine.decode import Sampler
from mmchat.engine.fastpath import (
    FastLlama,
    Int8Rows,
    LlamaParts,
    RowsLinear,
    quantize_parts,
    rows_projections,
    supports,
)
from mmchat.engine.generate import CausalLMStep, FastStep, Step, tokens
from mmchat.engine.hf import HFEngine
from mmchat.engine.quant import quantize_int8_dynamic
from mmchat.engine.registry import resolve

IDS = [5, 17, 33, 2, 90, 64, 7, 11, 3, 42]


TINY_SIZES = dict(
    vocab_size=128,
    hidden_size=64,
    intermediate_size=160,
    num_hidden_layers=3,
    num_attention_heads=8,
    num_key_value_heads=2,  # GQA: 4 query heads per key/value head
    max_position_embeddings=64,
)


def tiny_llama() -> LlamaForCausalLM:
    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(**TINY_SIZES)).eval()


def hf_logits(model: torch.nn.Module, ids: list[int], keep: int = 0) -> torch.Tensor:
    with torch.inference_mode():
        return model(input_ids=torch.tensor([ids]), logits_to_keep=keep).logits[0]  # [T, vocab]


def fast_logits(fast: FastLlama, ids: list[int], prefill: int) -> torch.Tensor:
    """Logits at positions prefill-1 .. T-1: one prefill, then one token at a time."""
    fast.reset(len(ids))
    rows = [fast.forward(ids[:prefill])]
    rows += [fast.forward([token]) for token in ids[prefill:]]
    return torch.stack(rows)


PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class RowScaled(torch.nn.Module):
    """torch.ao's dynamic int8 Linear with each row scaled to its own range around the call,
    as fastpath.RowScaledLinear does (the bias taken out and put back)."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = x.abs().amax(dim=-1, keepdim=True).clamp(min=torch.finfo(torch.float32).tiny)
        y = self.inner(x / scale)
        bias = self.inner.bias()
        return y.mul_(scale) if bias is None else y.sub_(bias).mul_(scale).add_(bias)


def prompt_model(model: LlamaForCausalLM, quantized: torch.nn.Module) -> LlamaForCausalLM:
    """What the fast path reads a prompt with: `model` with each projection's weight replaced
    by its int8 rows dequantized, and `quantized`'s int8 LM head (the prompt's last row)."""
    copied = copy.deepcopy(model)
    for layer in copied.model.layers:
        for name in PROJECTIONS:
            linear = getattr(layer.self_attn, name, None) or getattr(layer.mlp, name)
            rows = Int8Rows.quantize(linear.weight)
            zero = torch.zeros(rows.values.shape[0], dtype=torch.int64)
            q = torch._make_per_channel_quantized_tensor(rows.values, rows.scales, zero, 0)
            linear.weight = torch.nn.Parameter(q.dequantize(), requires_grad=False)
    copied.lm_head = quantized.lm_head
    return copied


def scan_model(quantized: torch.nn.Module) -> torch.nn.Module:
    """What FastLlama.states reads with: `quantized` (a quantize_int8_dynamic copy) with each
    projection's rows scaled to their own range around its int8 call."""
    copied = copy.deepcopy(quantized)
    for layer in copied.model.layers:
        for name in PROJECTIONS:
            owner = layer.self_attn if hasattr(layer.self_attn, name) else layer.mlp
            setattr(owner, name, RowScaled(getattr(owner, name)))
    return copied


class SplitStep(CausalLMStep):
    """transformers' reference for the fast path: `fp32` reads the prompt, `int8` (its
    quantize_int8_dynamic copy) each new token, from the same KV cache."""

    def __init__(self, fp32: torch.nn.Module, int8: torch.nn.Module) -> None:
        super().__init__(fp32)
        self.int8 = int8

    def next(self, token: int) -> torch.Tensor:
        self.model = self.int8
        return super().next(token)


def split_logits(step: SplitStep, ids: list[int], prefill: int) -> torch.Tensor:
    rows = [step.prefill(ids[:prefill])]
    rows += [step.next(token) for token in ids[prefill:]]
    step.close()
    return torch.stack(rows)


def greedy(
    step: Step,
    prompt: list[int],
    count: int,
    eos_ids: frozenset[int] = frozenset(),
    cancel: threading.Event | None = None,
) -> list[int]:
    answer = tokens(
        step,
        prompt,
        max_new_tokens=count,
        sampler=Sampler(0.0, 1.0, 0),
        eos_ids=set(eos_ids),
        cancel=cancel or threading.Event(),
    )
    return list(answer)


def fast_greedy(
    fast: FastLlama,
    prompt: list[int],
    count: int,
    eos_ids: frozenset[int] = frozenset(),
    cancel: threading.Event | None = None,
) -> list[int]:
    fast.reset(0)  # from an empty cache: nothing of an earlier answer kept (FastLlama.resume)
    return greedy(FastStep(fast, count), prompt, count, eos_ids, cancel)


# -- a tiny random model: plumbing ---------------------------------------------------------------


def test_prompt_and_steps_are_transformers_numbers_bit_for_bit() -> None:
    model = tiny_llama()
    fast = FastLlama(model)  # packs its own copies: the model stays fp32
    assert supports(model) is None
    quantized = quantize_int8_dynamic(copy.deepcopy(model))
    prompt = prompt_model(model, quantized)
    for prefill in (1, 4, 10):  # keep=1: the head sees the same row as the fast path's
        fast.reset(prefill)
        assert torch.equal(fast.forward(IDS[:prefill]), hf_logits(prompt, IDS[:prefill], 1)[0])
    steps = fast_logits(fast, IDS, prefill=4)
    assert torch.equal(steps, split_logits(SplitStep(prompt, quantized), IDS, prefill=4))
    assert not torch.allclose(steps[1:], hf_logits(model, IDS)[4:], atol=1e-6)  # int8, not fp32
    assert fast_greedy(fast, IDS, 20) == greedy(SplitStep(prompt, quantized), IDS, 20)


def test_states_are_int8_row_scaled_hidden_states_and_leave_the_answer_alone() -> None:
    model = tiny_llama()
    fast = FastLlama(model)
    quantized = quantize_int8_dynamic(copy.deepcopy(model))
    with torch.inference_mode():
        hidden = (
            scan_model(quantized)
            .model(input_ids=torch.tensor([IDS]), output_hidden_states=True)
            .hidden_states
        )
    expected = fast_logits(fast, IDS[:6], prefill=4)
    fast.reset(len(IDS))
    rows = [fast.forward(IDS[:4])]
    for blocks in (0, 1, 2):  # the last block's output is normed in hidden_states: not compared
        assert torch.equal(fast.states(IDS, blocks), hidden[blocks][0])
    # Between an answer's tokens: it goes on from its own cache as if nothing had run.
    rows += [fast.forward([token]) for token in IDS[4:6]]
    assert torch.equal(torch.stack(rows), expected)
    with pytest.raises(ValueError):
        fast.states([], 1)


def test_prompts_read_no_fp32_projection_weights() -> None:
    # Parts without the projections' fp32 weights give the same numbers: only the int8 rows
    # (and norms, embeddings) are read, so the fp32 decoder need not be resident.
    model = tiny_llama()
    parts = LlamaParts.of(model)
    rows = quantize_parts(parts)
    kept = {k: v for k, v in parts.tensors.items() if not k.endswith("_proj.weight")}
    bare = dataclasses.replace(parts, tensors=kept)
    assert len(kept) < len(parts.tensors)
    assert torch.equal(
        fast_logits(FastLlama(bare, rows), IDS, 4), fast_logits(FastLlama(parts, rows), IDS, 4)
    )


def test_rows_projections_are_the_decoder_on_the_int8_weights() -> None:
    # transformers' decoder with its projections rebuilt from the int8 rows at each call
    # computes what it computes with those int8 weights dequantized into its nn.Linear.
    model = tiny_llama()
    fast = FastLlama(model)
    reference = copy.deepcopy(model)
    rows = quantize_parts(LlamaParts.of(model))
    for index, layer in enumerate(reference.model.layers):
        for kind, members in (
            ("qkv", (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj)),
            ("o", (layer.self_attn.o_proj,)),
            ("gate_up", (layer.mlp.gate_proj, layer.mlp.up_proj)),
            ("down", (layer.mlp.down_proj,)),
        ):
            fused = rows[f"layers.{index}.{kind}"]
            weight = fused.values.float() * fused.scales.float()[:, None]
            start = 0
            for linear in members:
                end = start + linear.out_features
                linear.weight.data = weight[start:end].clone()
                start = end
    for name, module in rows_projections(fast).items():
        model.set_submodule(name, module)
    assert sum(isinstance(m, RowsLinear) for m in model.modules()) == 7 * len(fast.layers)
    ids = torch.tensor([IDS])
    with torch.inference_mode():
        assert torch.equal(model(ids).logits, reference(ids).logits)


def test_limits_are_enforced() -> None:
    fast = FastLlama(tiny_llama())
    fast.reset(len(IDS))
    fast.forward(IDS)
    with pytest.raises(ValueError, match="outgrew"):
        fast.forward([1])


def test_a_prompt_goes_on_from_the_tokens_it_shares_with_the_cache() -> None:
    fast = FastLlama(tiny_llama())
    fast.reset(len(IDS))
    whole = fast.forward(IDS)
    # The first four read, then the rest as one more prompt part: the mask lets each new
    # token see the cached ones and the new ones before it, as one reading of all ten does.
    fast.reset(4)
    fast.forward(IDS[:4])
    rest = fast.resume(IDS, len(IDS))  # grows the cache, the four kept
    assert rest == IDS[4:] and fast.length == 4
    assert torch.allclose(fast.forward(rest, prompt=True), whole, atol=1e-5)
    assert fast.ids == IDS
    # Kept: what the prompt shares with the cache, never its last token (its logits are needed).
    assert fast.resume(IDS, 20) == IDS[-1:] and fast.length == len(IDS) - 1
    fast.forward(IDS[-1:], prompt=True)
    assert fast.resume([*IDS[:3], 99, 98], 20) == [99, 98] and fast.ids == IDS[:3]
    assert fast.resume([99, *IDS], 20) == [99, *IDS] and fast.length == 0


def test_a_follow_up_reads_only_its_new_tokens_and_answers_as_if_read_whole() -> None:
    fast = FastLlama(tiny_llama())
    first = fast_greedy(fast, IDS, 6)
    follow_up = [*IDS, *first[:5], 8, 9, 10]  # the answer but its last token, then a message
    step = FastStep(fast, 6)
    reused = step.prefill(follow_up)
    assert fast.length == len(follow_up)
    assert fast.ids == follow_up
    fast.reset(0)
    fresh = FastStep(fast, 6).prefill(follow_up)
    # The kept answer tokens' keys and values are the int8 steps' (a fresh reading's are
    # fp32's): close, not equal.
    assert torch.allclose(reused, fresh, atol=0.05)
    assert reused.argmax() == fresh.argmax()


def test_the_same_prompt_again_reads_nothing_and_gives_the_same_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fast = FastLlama(tiny_llama())
    first = fast_greedy(fast, IDS, 8)
    read = counting_reads(fast, monkeypatch)
    again = greedy(FastStep(fast, 8), IDS, 8)
    assert again == first  # bit for bit: the kept logits, the same cache
    assert read == [1] * 7  # the answer's tokens after the first; no prompt token read
    # A sampler that changes its logits in place does not change the kept ones.
    logits = fast.read_prompt(IDS, 20)
    logits.fill_(0.0)
    assert fast.read_prompt(IDS, 20).argmax() == first[0]


def test_a_sequence_read_aside_serves_the_prompt_it_fits_and_the_one_in_use_stays(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fast = FastLlama(tiny_llama())
    noted = [*IDS[:3], 70, 71, 72, *IDS[3:]]  # a note in the middle: a picture turn's prompt
    answer = fast_greedy(fast, noted, 4)
    in_use = [*noted, *answer[:3]]  # the last answer token is sampled, never read
    assert fast.ids == in_use
    plain = [*IDS, *answer, 2]  # the same chat without the note, as a text turn reads it
    read = counting_reads(fast, monkeypatch)
    assert fast.read_aside(plain, chunk=5) == len(plain) - 3  # the 3 shared tokens copied
    assert read == [5, 5, 2]
    assert fast.ids == in_use and fast.held(plain) == len(plain)  # the one in use untouched
    # A text turn after it reads only its new message, and as a whole read would.
    read.clear()
    follow_up = [*plain, 9, 8]
    logits = FastStep(fast, 4).prefill(follow_up)
    assert read == [2]
    whole = FastLlama(tiny_llama())
    whole.reset(len(follow_up))
    assert torch.allclose(logits, whole.forward(follow_up), atol=1e-5)
    # A turn about the picture again: back to the noted sequence, now aside.
    read.clear()
    FastStep(fast, 4).prefill([*in_use, 6])
    assert read == [1] and fast.held(follow_up) == len(follow_up)
    fast.reset(0)
    assert fast.held(follow_up) == 0  # both forgotten


def test_reading_aside_stops_between_chunks_and_keeps_what_it_read() -> None:
    fast = FastLlama(tiny_llama())
    fast_greedy(fast, IDS, 2)
    other = [99, *range(20, 30)]  # nothing shared
    assert fast.read_aside(other, stop=lambda: True) == 0
    calls = iter([False, True])
    assert fast.read_aside(other, stop=lambda: next(calls), chunk=4) == 4
    assert fast.held(other) == 4
    assert fast.read_aside(other, chunk=4) == len(other) - 4  # goes on from there


def test_prompt_reuse_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMCHAT_PROMPT_CACHE", "off")
    fast = FastLlama(tiny_llama())
    fast.reset(len(IDS))
    fast.forward(IDS)
    assert fast.resume(IDS, len(IDS)) == IDS and fast.length == 0
    assert fast.read_aside(IDS[:5]) == 0 and fast.held(IDS) == 0


def test_stops_at_end_tokens_and_length_like_the_transformers_step() -> None:
    model = tiny_llama()
    fast = FastLlama(model)
    quantized = quantize_int8_dynamic(copy.deepcopy(model))
    expected = greedy(SplitStep(prompt_model(model, quantized), quantized), IDS, 12)
    assert fast_greedy(fast, IDS, 12) == expected
    end = expected[5]
    assert fast_greedy(fast, IDS, 12, eos_ids=frozenset({end})) == expected[: expected.index(end)]
    cancel = threading.Event()
    cancel.set()
    assert fast_greedy(fast, IDS, 12, cancel=cancel) == expected[:1]  # checked after each token


def test_supports_refuses_hooks_other_architectures_and_quantized_weights() -> None:
    model = tiny_llama()
    handle = model.model.layers[1].register_forward_pre_hook(lambda module, args: None)
    assert "hooks" in str(supports(model))
    with pytest.raises(ValueError, match="hooks"):
        FastLlama(model)
    handle.remove()
    assert supports(model) is None
    gpt2 = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=64))
    assert "not a plain Llama or Qwen2" in str(supports(gpt2))
    assert "torch.bfloat16" in str(supports(tiny_llama().to(torch.bfloat16)))
    assert supports(quantize_int8_dynamic(tiny_llama())) is not None


# -- the real default decoder --------------------------------------------------------------------


@pytest.fixture(scope="module")
def smollm2() -> tuple[LlamaForCausalLM, list[int]]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from mmchat.engine.default_decoder import smollm2_dir

    folder = smollm2_dir()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    chat = [{"role": "user", "content": "Explain in one sentence what a CPU does."}]
    encoded = tokenizer.apply_chat_template(chat, add_generation_prompt=True, return_dict=True)
    return model, list(encoded["input_ids"])


def test_real_decoder_logits_match_transformers(
    smollm2: tuple[LlamaForCausalLM, list[int]],
) -> None:
    model, prompt = smollm2
    quantized = quantize_int8_dynamic(copy.deepcopy(model))
    prefill = len(prompt) - 7
    expected = split_logits(SplitStep(prompt_model(model, quantized), quantized), prompt, prefill)
    assert torch.equal(fast_logits(FastLlama(model), prompt, prefill), expected)


def test_real_decoder_int8_greedy_tokens_match_transformers(
    smollm2: tuple[LlamaForCausalLM, list[int]],
) -> None:
    # Per-call activation scales make int8 decoding chaotic: a last-bit difference anywhere
    # changes the answer within a few tokens, so equal tokens here mean equal arithmetic.
    model, prompt = smollm2
    quantized = quantize_int8_dynamic(copy.deepcopy(model))
    assert fast_greedy(FastLlama(model), prompt, 64) == greedy(
        SplitStep(prompt_model(model, quantized), quantized), prompt, 64
    )


def test_real_decoder_int8_still_follows_an_instruction(
    smollm2: tuple[LlamaForCausalLM, list[int]],
) -> None:
    # torch.ao int8 over the whole prompt answered this with "The answer is: 3."
    from transformers import AutoTokenizer

    from mmchat.engine.default_decoder import smollm2_dir

    model, _ = smollm2
    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir())
    chat = [{"role": "user", "content": "Name three colors."}]
    encoded = tokenizer.apply_chat_template(chat, add_generation_prompt=True, return_dict=True)
    tokens = fast_greedy(FastLlama(model), list(encoded["input_ids"]), 48)  # "1. Red: ..."
    named = {c for c in ("red", "blue", "green", "yellow") if c in tokenizer.decode(tokens).lower()}
    assert len(named) >= 2, tokenizer.decode(tokens)


# -- the engine: fast path for text turns, transformers for image turns ------------------------


@pytest.fixture(scope="module")
def default_engine(smollm2: tuple[LlamaForCausalLM, list[int]]) -> Iterator[HFEngine]:
    from mmchat.engine.default_decoder import smollm2_dir

    # The int8 cache exists (made here if no earlier start made it): the engine then starts
    # text-first, as every start after the first does.
    fastcache.fast_llama(LlamaParts.of(smollm2[0]), smollm2_dir())
    engine = HFEngine(resolve("default"), quant="auto", threads=2)
    engine.load()
    yield engine
    engine.close()


def answer(engine: HFEngine, message: ChatMessage, tokens: int) -> tuple[str, Finished]:
    events = list(engine.stream(GenerationRequest([message], max_new_tokens=tokens)))
    finished = events[-1]
    assert isinstance(finished, Finished), finished
    return "".join(e.text for e in events if isinstance(e, Delta)), finished


def easy_vqa_image(image_id: int) -> bytes:
    spec = importlib.util.find_spec("easy_vqa")
    assert spec is not None and spec.submodule_search_locations, "mmchat setup installs easy-vqa"
    root = Path(next(iter(spec.submodule_search_locations)))
    return (root / "data" / "test" / "images" / f"{image_id}.png").read_bytes()


def test_engine_runs_text_turns_fast_and_image_turns_on_the_decoder_over_int8_rows(
    default_engine: HFEngine,
) -> None:
    engine = default_engine
    assert engine.info is not None and engine.info.quant == "int8" and engine.fast is not None
    assert engine.info.vision  # before the vision parts load
    text, finished = answer(engine, ChatMessage("user", "What is the capital of France?"), 24)
    assert "Paris" in text and engine.last_path == "fast-int8"
    assert finished.completion_tokens > 0
    assert engine._fusion is None  # a text turn needs no transformers model, no encoder
    question = ChatMessage("user", "what color is the shape?", [easy_vqa_image(6)])
    said, _ = answer(engine, question, 6)
    assert engine.last_path == "transformers"
    assert said.strip().lower().rstrip(".") == "blue"
    decoder = engine.model
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in decoder.modules())
    assert all(p.dtype == torch.float32 for p in decoder.parameters())
    # The decoder loaded for the picture reads the fast path's int8 rows and its norms and
    # embedding, not copies (nor the file's fp32 projection weights).
    down = decoder.model.layers[3].mlp.down_proj
    assert isinstance(down, RowsLinear)
    assert down is engine.fast.layers[3].prompt[3].parts[0]  # the prompt's own, not a copy
    shared = engine.fast.parts.tensors["model.layers.3.input_layernorm.weight"]
    assert decoder.model.layers[3].input_layernorm.weight.data_ptr() == shared.data_ptr()
    again, _ = answer(engine, ChatMessage("user", "What is the capital of France?"), 24)
    assert again == text and engine.last_path == "fast-int8"


def test_a_follow_up_reads_only_its_new_tokens_and_keeps_the_context(
    default_engine: HFEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = default_engine
    assert engine.fast is not None
    first = [ChatMessage("user", "What is the capital of France?")]
    events = list(engine.stream(GenerationRequest(first, max_new_tokens=24)))
    said = "".join(e.text for e in events if isinstance(e, Delta))
    assert "Paris" in said
    read = counting_reads(engine.fast, monkeypatch)
    follow = [*first, ChatMessage("assistant", said), ChatMessage("user", "And of Italy?")]
    events = list(engine.stream(GenerationRequest(follow, max_new_tokens=24)))
    assert "Rome" in "".join(e.text for e in events if isinstance(e, Delta))
    # Read: the new message, and none of the first turn (its prompt and answer were kept).
    assert 0 < read[0] < len(engine.prompt_ids(follow)) - len(engine.prompt_ids(first))


def test_plain_causal_lm_runs_fast_and_is_not_quantized_in_place() -> None:
    engine = HFEngine(resolve("smollm2"), quant="int8", threads=2)
    engine.load()
    try:
        text, _ = answer(engine, ChatMessage("user", "What is the capital of France?"), 24)
        assert "Paris" in text and engine.last_path == "fast-int8"
        assert supports(engine.model) is None  # fp32, not quantized in place
    finally:
        engine.close()


def tiny_gelu_llama_folder(folder: Path) -> Path:
    """A random Llama with a GELU MLP (which the fast path does not run) and SmolLM2's
    tokenizer, saved."""
    from transformers import AutoTokenizer

    from mmchat.engine.default_decoder import smollm2_dir

    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir())
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        hidden_act="gelu",
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.parametrize(("requested", "settled"), [("auto", "fp32"), ("int8", "int8")])
def test_without_the_fast_path_auto_keeps_fp32_and_int8_is_on_request(
    tmp_path: Path, requested: str, settled: str
) -> None:
    engine = HFEngine(resolve(str(tiny_gelu_llama_folder(tmp_path))), quant=requested, threads=2)
    info = engine.load()
    try:
        assert engine.fast is None and info.quant == settled and info.device == "cpu"
        plain = type(engine.model.model.layers[0].mlp.down_proj) is torch.nn.Linear
        assert plain == (settled == "fp32")
        _, finished = answer(engine, ChatMessage("user", "Hi"), 4)
        assert finished.completion_tokens > 0 and engine.last_path == "transformers"
    finally:
        engine.close()


# -- the int8 cache (mmchat.engine.fastcache) ------------------------------------------------------


class CountingQuantize:
    """fastcache's quantize_parts, counted: the real function runs."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = fastcache.quantize_parts

        def counted(parts: LlamaParts) -> dict[str, Int8Rows]:
            self.calls += 1
            return real(parts)

        monkeypatch.setattr(fastcache, "quantize_parts", counted)


def saved_tiny_llama(folder: Path, seed: int = 0) -> LlamaForCausalLM:
    model = tiny_llama()
    if seed:
        torch.manual_seed(seed)
        model = LlamaForCausalLM(model.config).eval()
    model.save_pretrained(folder)
    return LlamaForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()


@pytest.fixture
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("MMCHAT_CACHE_DIR", str(cache))
    return cache


def test_int8_cache_is_written_once_then_read_and_answers_stay_bit_identical(
    tmp_path: Path, private_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "model"
    model = saved_tiny_llama(folder)
    quantize = CountingQuantize(monkeypatch)
    expected = fast_greedy(FastLlama(model), IDS, 20)
    first = fastcache.fast_llama(LlamaParts.of(model), folder)
    assert quantize.calls == 1
    key = fastcache.source_key(folder)
    assert key is not None and (fastcache.cache_folder(key) / ".complete").is_file()
    again = fastcache.fast_llama(LlamaParts.of(model), folder)
    assert quantize.calls == 1  # read back, not quantized again
    assert fast_greedy(first, IDS, 20) == fast_greedy(again, IDS, 20) == expected
    assert torch.equal(fast_logits(again, IDS, 4), fast_logits(FastLlama(model), IDS, 4))


def test_changed_weights_get_a_new_cache_never_the_stale_one(
    tmp_path: Path, private_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "model"
    old = saved_tiny_llama(folder)
    fastcache.fast_llama(LlamaParts.of(old), folder)
    old_key = fastcache.source_key(folder)
    new = saved_tiny_llama(folder, seed=7)  # the same file names, other weights
    assert fastcache.source_key(folder) != old_key
    quantize = CountingQuantize(monkeypatch)
    fast = fastcache.fast_llama(LlamaParts.of(new), folder)
    assert quantize.calls == 1
    assert fast_greedy(fast, IDS, 20) == fast_greedy(FastLlama(new), IDS, 20)
    assert fast_greedy(fast, IDS, 20) != fast_greedy(FastLlama(old), IDS, 20)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "other model", "wrong source"])
def test_a_damaged_cache_is_rebuilt_not_used(
    tmp_path: Path, private_cache: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    folder = tmp_path / "model"
    model = saved_tiny_llama(folder)
    fastcache.fast_llama(LlamaParts.of(model), folder)
    key = fastcache.source_key(folder)
    assert key is not None
    path = fastcache.cache_folder(key) / fastcache.FILE
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x00" * 64)
    else:
        # A well-formed file that belongs elsewhere: another model's shapes under this key,
        # or this model's rows marked as made from other weights.
        config = LlamaConfig(**{**model.config.to_dict(), "intermediate_size": 96})
        other = LlamaForCausalLM(config).eval() if damage == "other model" else model
        rows = fastcache.quantize_parts(LlamaParts.of(other))
        fastcache.write_rows(
            path, rows, LlamaParts.of(other), key if damage == "other model" else "0" * 20
        )
    quantize = CountingQuantize(monkeypatch)
    fast = fastcache.fast_llama(LlamaParts.of(model), folder)
    assert quantize.calls == 1
    assert fast_greedy(fast, IDS, 20) == fast_greedy(FastLlama(model), IDS, 20)
    assert fastcache.read_cache(key) is not None  # rebuilt whole
    fastcache.fast_llama(LlamaParts.of(model), folder)
    assert quantize.calls == 1


def test_a_model_without_local_weights_is_quantized_and_not_cached(
    private_cache: Path, tmp_path: Path
) -> None:
    assert fastcache.source_key(tmp_path) is None  # no safetensors file
    fast = fastcache.fast_llama(LlamaParts.of(tiny_llama()), None)
    assert fast_greedy(fast, IDS, 8) == fast_greedy(FastLlama(tiny_llama()), IDS, 8)
    assert not private_cache.exists() or not any(private_cache.rglob("*.safetensors"))


def test_real_decoder_from_the_cache_gives_the_fresh_tokens(
    smollm2: tuple[LlamaForCausalLM, list[int]],
) -> None:
    from mmchat.engine.default_decoder import smollm2_dir

    model, prompt = smollm2
    fastcache.fast_llama(LlamaParts.of(model), smollm2_dir())  # written unless it was there
    key = fastcache.source_key(smollm2_dir())
    assert key is not None and fastcache.read_cache(key) is not None
    cached = fastcache.fast_llama(LlamaParts.of(model), smollm2_dir())
    assert fast_greedy(cached, prompt, 64) == fast_greedy(FastLlama(model), prompt, 64)


def test_lean_load_reads_the_cache_and_weight_files_without_the_model(
    tmp_path: Path, private_cache: Path
) -> None:
    folder = tmp_path / "model"
    model = saved_tiny_llama(folder)
    assert fastcache.lean_llama(folder) is None  # nothing cached yet: the full load runs
    fastcache.fast_llama(LlamaParts.of(model), folder)
    lean = fastcache.lean_llama(folder)
    assert lean is not None
    assert torch.equal(fast_logits(lean, IDS, 4), fast_logits(FastLlama(model), IDS, 4))
    assert fast_greedy(lean, IDS, 20) == fast_greedy(FastLlama(model), IDS, 20)
    key = fastcache.source_key(folder)
    assert key is not None
    path = fastcache.cache_folder(key) / fastcache.FILE
    path.write_bytes(path.read_bytes()[:100])  # truncated: not used, and removed
    assert fastcache.lean_llama(folder) is None
    assert not fastcache.cache_folder(key).exists()
