"""Answer quality on everyday prompts: loops, empty answers, known facts, length; greedy against
the default sampling, in one run.

    .venv/bin/python bench/quality.py [--limit N] [--max-tokens 160] [--threads 2]
                                      [--config greedy --config default --config sampled]
                                      [--models default,qwen2.5-coder] [--answers FILE]

`--limit 0` prints only the per-token cost of choosing a token and the loop guard.

The prompts are bench/data/quality_prompts.json (explain, list, story, advice, facts with known
answers; and a few coding prompts, reported apart). Every answer runs through the engine
`mmchat ask` uses (ProcessEngine: the model in its own process) on each model of `--models`
(default: the default model; `qwen2.5-coder` is the coding model, after `mmchat setup --model
qwen2.5-coder`), one after the other, with the request `ask` sends for the same flags:

- greedy: `--temperature 0`, exact greedy (argmax, no repetition penalty);
- default: no sampling flags: the model's own defaults (engine/sampling.py);
- sampled: `--temperature 0.2 --top-p 0.9 --seed 0` (SmolLM2's model card's suggestion).

Per configuration: loop rate (an answer where a run of 3+ words repeats 3+ times in a row, or
one line or sentence of 4+ words appears 3+ times), answers the loop guard ended (finish
reason "repetition"), empty answers, fact accuracy (keywords, bench/keywords.py), mean tokens
and decode tokens/s.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from keywords import passes  # noqa: E402

from mmchat.engine.base import ChatMessage, Delta, Failed, Finished, GenerationRequest  # noqa: E402

PROMPTS = Path(__file__).parent / "data" / "quality_prompts.json"
CONFIGS: dict[str, dict[str, Any]] = {
    "greedy": {"temperature": 0.0},
    "default": {},
    "sampled": {"temperature": 0.2, "top_p": 0.9, "seed": 0},
}
LABELS = {
    "greedy": "greedy (temperature 0)",
    "default": "default (model's own)",
    "sampled": "temperature 0.2, top-p 0.9",
}


# -- grading --------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+(?:['’]\w+)*")
_PIECES = re.compile(r"[^\n.!?]+")


def loops(answer: str) -> bool:
    """A run of 3+ words repeated 3+ times in a row, or one line or sentence of 4+ words
    appearing 3+ times anywhere in the answer."""
    words = [w.lower() for w in _WORD.findall(answer)]
    for n in range(3, len(words) // 3 + 1):
        for i in range(len(words) - 3 * n + 1):
            if words[i : i + n] == words[i + n : i + 2 * n] == words[i + 2 * n : i + 3 * n]:
                return True
    pieces: dict[tuple[str, ...], int] = {}
    for piece in _PIECES.findall(answer):
        key = tuple(w.lower() for w in _WORD.findall(piece))
        if len(key) >= 4:
            pieces[key] = pieces.get(key, 0) + 1
            if pieces[key] >= 3:
                return True
    return False


@dataclass
class Answer:
    model: str
    config: str
    id: str
    category: str
    text: str
    reason: str
    tokens: int
    rate: float
    right: bool | None  # facts and code: the keywords found; others: None
    looped: bool


def grade(model: str, config: str, prompt: dict[str, Any], text: str, done: Finished) -> Answer:
    keywords = prompt.get("keywords")
    right = passes(text, keywords, prompt.get("need", 1)) if keywords else None
    return Answer(
        model,
        config,
        prompt["id"],
        prompt["category"],
        text,
        done.reason,
        done.completion_tokens,
        done.tokens_per_second,
        right,
        loops(text),
    )


# -- running --------------------------------------------------------------------------------------


def ask(engine: Any, prompt: str, max_tokens: int, config: dict[str, Any]) -> tuple[str, Finished]:
    request = GenerationRequest([ChatMessage("user", prompt)], max_new_tokens=max_tokens, **config)
    text: list[str] = []
    for event in engine.stream(request):
        if isinstance(event, Delta):
            text.append(event.text)
        elif isinstance(event, Failed):
            raise SystemExit(f"the engine failed: {event.message}")
        elif isinstance(event, Finished):
            return "".join(text), event
    raise SystemExit("the engine ended an answer without Finished")


def run(
    model: str,
    engine: Any,
    prompts: list[dict[str, Any]],
    configs: list[str],
    max_tokens: int,
    log: Callable[[str], None],
) -> list[Answer]:
    answers = []
    for name in configs:
        started = time.perf_counter()
        for prompt in prompts:
            text, done = ask(engine, prompt["prompt"], max_tokens, CONFIGS[name])
            answers.append(grade(model, name, prompt, text, done))
        log(f"  {LABELS[name]}: {len(prompts)} answers in {time.perf_counter() - started:.0f} s")
    return answers


def per_token_cost(vocab: int = 49152, count: int = 2000) -> dict[str, float]:
    """Microseconds a token that choosing it and the loop guard take, on random logits of the
    default model's vocabulary size (the model's own forward is ~30-40 ms a token). On a busy
    machine, torch's elementwise ops over a whole vocabulary split across 2 threads can wait
    milliseconds for the second thread: 1 thread shows the work itself."""
    import torch

    from mmchat.engine.repetition import RepetitionGuard
    from mmchat.engine.sampling import Sampler

    rows = torch.randn(64, vocab)
    chooses = {
        "argmax (temperature 0)": Sampler(0.0),
        "greedy + penalty 1.1 / 64": Sampler(0.0, repeat_penalty=1.1),
        "temperature 0.2, top-p 0.9 + penalty": Sampler(0.2, 0.9, 0, repeat_penalty=1.1),
    }
    costs = {}
    for label, sampler in chooses.items():
        guard = RepetitionGuard(lambda ids: True)
        started = time.perf_counter()
        for i in range(count):
            guard.push(sampler(rows[i % 64]))
        costs[label] = (time.perf_counter() - started) / count * 1e6
    return costs


# -- the table ------------------------------------------------------------------------------------


def share(count: int, total: int) -> str:
    return f"{count}/{total} ({count / total:.0%})" if total else "-"


def row(label: str, answers: list[Answer]) -> list[str]:
    graded = [a for a in answers if a.right is not None]
    rates = [a.rate for a in answers if a.rate > 0]
    return [
        label,
        share(sum(a.looped for a in answers), len(answers)),
        str(sum(a.reason == "repetition" for a in answers)),
        str(sum(a.reason == "length" for a in answers)),
        str(sum(not a.text.strip() for a in answers)),
        share(sum(bool(a.right) for a in graded), len(graded)),
        f"{statistics.mean(a.tokens for a in answers):.0f}" if answers else "-",
        f"{statistics.median(rates):.1f}" if rates else "-",
    ]


HEADER = ["configuration", "loops", "guard", "at limit", "empty", "facts", "tokens", "tok/s"]


def table(answers: list[Answer], configs: list[str]) -> str:
    """One Markdown table: everyday prompts, then the coding prompts, per model and
    configuration."""
    rows = [["model", *HEADER]]
    models = list(dict.fromkeys(a.model for a in answers))
    for group in ("everyday", "coding"):
        for model in models:
            for name in configs:
                mine = [
                    a
                    for a in answers
                    if a.model == model
                    and a.config == name
                    and (a.category == "coding") == (group == "coding")
                ]
                if mine:
                    rows.append([model, *row(f"{LABELS[name]}, {group}", mine)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="the first N prompts only")
    parser.add_argument("--max-tokens", type=int, default=160, help="longest answer")
    parser.add_argument("--threads", type=int, default=2, help="the engine's CPU threads")
    parser.add_argument("--model", help="one model name (mmchat models); same as --models NAME")
    parser.add_argument(
        "--models",
        default="default",
        help="comma-separated model names, run one after the other (default: default)",
    )
    parser.add_argument(
        "--config",
        action="append",
        choices=sorted(CONFIGS),
        help="repeatable (default: greedy and default)",
    )
    parser.add_argument("--answers", type=Path, help="write every answer to this JSON file")
    args = parser.parse_args()
    import torch

    from mmchat.engine.process import ProcessEngine
    from mmchat.engine.registry import resolve

    for threads in sorted({1, args.threads}):
        torch.set_num_threads(threads)
        for label, micros in per_token_cost().items():
            print(
                f"choosing a token + the loop guard, {label}, {threads} thread(s): {micros:.0f} us"
            )
    prompts = json.loads(PROMPTS.read_text(encoding="utf-8"))["prompts"][: args.limit]
    configs = args.config or ["greedy", "default"]
    if not prompts:  # --limit 0: the per-token cost alone
        return
    models = (
        [args.model] if args.model else [m.strip() for m in args.models.split(",") if m.strip()]
    )
    answers: list[Answer] = []
    for model in models:
        engine = ProcessEngine(resolve(model), quant="auto", threads=args.threads)
        started = time.perf_counter()
        engine.load()
        print(f"{model} loaded in {time.perf_counter() - started:.0f} s; {len(prompts)} prompts")
        try:
            log = functools.partial(print, flush=True)
            answers += run(model, engine, prompts, configs, args.max_tokens, log)
        finally:
            engine.close()
    print()
    print(f"--max-tokens {args.max_tokens}, --threads {args.threads}")
    print(table(answers, configs))
    if args.answers:
        args.answers.write_text(json.dumps([a.__dict__ for a in answers], indent=1))


if __name__ == "__main__":
    main()
