"""bitsandbytes 4-bit and 8-bit against the plain float weights, on the same model, in one run.

    .venv/bin/python bench/gpu.py [--model smollm2] [--tokens 128] [--forms float,4bit,8bit]

`--model default` runs the default (the fusion model: its decoder, new layers and encoder move
together); the forms `auto` (what mmchat picks by itself) and `int8` (the CPU's int8 path, on
a GPU machine too) add rows.

Where CUDA is present the model loads through HFEngine on the GPU as "float" (bf16, or fp16
where the GPU lacks bf16), bitsandbytes 4-bit nf4 and 8-bit (device_map="auto"); without CUDA
the same forms run on the CPU ("float" is fp32), which bitsandbytes 0.45+ supports. For each
form: load time, first token, decode tokens/s (greedy, --tokens new tokens), the device and
form the engine reports (read from its parameters), and memory: peak GPU memory allocated on
CUDA, peak RSS on the CPU. Each form runs in a fresh child process so its memory is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from typing import Any

PROMPT = "Write a short story about a dragon who learns to bake bread."


def child(model: str, form: str, tokens: int) -> dict[str, Any]:
    import torch

    from mmchat.engine.base import ChatMessage, Delta, Finished, GenerationRequest
    from mmchat.engine.hf import HFEngine
    from mmchat.engine.registry import resolve

    # "auto": what mmchat picks by itself; "int8": the CPU's int8 path, for comparison.
    quant = {"float": "none", "4bit": "4bit", "8bit": "8bit", "auto": "auto", "int8": "int8"}[form]
    start = time.perf_counter()
    engine = HFEngine(resolve(model), quant=quant, threads=2)
    info = engine.load()
    loaded = time.perf_counter() - start
    request = GenerationRequest([ChatMessage("user", PROMPT)], max_new_tokens=tokens, temperature=0)
    began = time.perf_counter()
    first = 0.0
    count = 0
    for event in engine.stream(request):
        if isinstance(event, Delta) and not first:
            first = time.perf_counter() - began
        if isinstance(event, Finished):
            count = event.completion_tokens
    total = time.perf_counter() - began
    from mmchat.engine.placement import device_of, weight_form

    measured = (  # the CPU's int8 path keeps its weights in the fast path, not in a model
        "cpu int8 (fast path)"
        if engine.fast is not None
        else f"{device_of(engine.model)} {weight_form(engine.model)}"
    )
    gpu_mb = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else 0.0
    return {
        "form": form,  # "float": bf16/fp16 on a GPU, fp32 on the CPU
        "reported": f"{info.device} {info.quant}",
        "measured": measured,
        "load_s": loaded,
        "first_s": first,
        "tok_s": (count - 1) / (total - first) if count > 1 and total > first else 0.0,
        "gpu_mb": gpu_mb,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--forms", default="")
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.model, args.child, args.tokens)))
        return
    import torch

    cuda = torch.cuda.is_available()
    forms = args.forms.split(",") if args.forms else ["float", "4bit", "8bit"]
    where = torch.cuda.get_device_name(0) if cuda else "CPU (no CUDA here)"
    print(f"# {args.model}, greedy, {args.tokens} new tokens, on {where}")
    columns = "load s | first token s | tok/s | peak GPU MB | peak RSS MB"
    print(f"| form | reported | measured | {columns} |")
    print("|---|---|---|---|---|---|---|---|")
    rows: list[dict[str, Any]] = []
    for form in forms:
        run = subprocess.run(
            [
                sys.executable,
                __file__,
                "--model",
                args.model,
                "--tokens",
                str(args.tokens),
                "--child",
                form,
            ],
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            lines = run.stderr.strip().splitlines() or ["no output"]
            print(f"| {form} | failed: {lines[-1][:80]} | | | | | | |")
            continue
        row = json.loads(run.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(
            f"| {row['form']} | {row['reported']} | {row['measured']} | {row['load_s']:.1f} "
            f"| {row['first_s']:.2f} | {row['tok_s']:.1f} | {row['gpu_mb']:.0f} "
            f"| {row['rss_mb']:.0f} |"
        )
    if rows and rows[0]["form"] == "float":
        base = rows[0]
        for row in rows[1:]:
            speed = row["tok_s"] / base["tok_s"] if base["tok_s"] else 0.0
            key = "gpu_mb" if cuda else "rss_mb"
            size = row[key] / base[key] if base[key] else 0.0
            print(f"{row['form']} vs {base['form']}: {speed:.2f}x speed, {size:.2f}x memory")


if __name__ == "__main__":
    main()
