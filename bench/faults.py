"""Fault and hostile-input figures: `python bench/faults.py [--quick] [--no-model]`.

Runs the scenarios of tests/reliability at full counts (the tests assert them at small counts)
against the real store, real `mmchat ask` processes with the "smollm2" model, Pillow and a pty,
and prints one line per figure with its goal. Exit status 1 when a figure misses its goal.
Takes ~10 minutes on a 2-core machine (--quick: ~3).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "reliability"))

import askkit  # noqa: E402
import faultkit  # noqa: E402
import hostile_images  # noqa: E402
import modelkit  # noqa: E402
import text_paths  # noqa: E402
import trustkit  # noqa: E402

Goal = Callable[[Any], bool]
misses: list[str] = []


def figure(name: str, value: Any, goal: str, ok: Goal | None = None) -> None:
    met = ok(value) if ok is not None else True
    if not met:
        misses.append(name)
    mark = "ok" if met else "MISS"
    print(f"  {name:<58} {value!s:>12}   goal {goal:<10} {mark}", flush=True)


def zero(v: Any) -> bool:
    return v == 0


def section(title: str) -> float:
    print(f"\n{title}", flush=True)
    return time.monotonic()


def done(started: float) -> None:
    print(f"  ({time.monotonic() - started:.0f} s)", flush=True)


def store_kills(work: Path, writer_rounds: int, migration_rounds: int) -> int:
    t = section(f"kill -9 of a writer process (mmchat.store), {writer_rounds} times")
    w = faultkit.kill_writer(work, writer_rounds)
    figure("confirmed writes", w["confirmed"], "> 0", lambda v: v > 0)
    figure("confirmed writes lost", w["lost"], "0", zero)
    figure("PRAGMA integrity_check not ok", w["integrity_failed"], "0", zero)
    done(t)
    t = section(
        f"kill -9 during a first start that backs up and migrates, {migration_rounds} times"
    )
    m = faultkit.kill_migration(work, migration_rounds)
    figure("kills inside the first start (backup, migration)", m["mid_migration"], "-")
    figure("migrations half-applied or recorded wrongly", m["bad_migrations"], "0", zero)
    figure("rows of the old schema lost", m["old_rows_lost"], "0", zero)
    figure("confirmed writes lost", m["lost"], "0", zero)
    figure("PRAGMA integrity_check not ok", m["integrity_failed"], "0", zero)
    done(t)
    return writer_rounds + migration_rounds


def ask_kills(work: Path, rounds: int) -> int:
    t = section(
        f"kill -9 of `mmchat ask --model smollm2` while loading and streaming, {rounds} each"
    )
    outcomes = [
        askkit.run(work / f"ask-kill-{phase}-{n}", phase, "SIGKILL")
        for phase in ("loading", "streaming")
        for n in range(rounds)
    ]
    saved = sum(o.prompt_saved for o in outcomes)
    figure("user prompt present", f"{100 * saved // len(outcomes)}%", "100%", lambda v: v == "100%")
    figure(
        "answers not saved as shown (checkpoint prefix)",
        sum(not o.answer_is_prefix for o in outcomes),
        "0",
        zero,
    )
    figure(
        "answers left 'streaming' after the next start",
        sum(o.answer_status == "streaming" for o in outcomes),
        "0",
        zero,
    )
    figure("orphan engine processes", sum(o.orphans for o in outcomes), "0", zero)
    bad = sum(
        faultkit.integrity(work / f"ask-kill-{p}-{n}" / "data" / "mmchat.db") != "ok"
        for p in ("loading", "streaming")
        for n in range(rounds)
    )
    figure("PRAGMA integrity_check not ok", bad, "0", zero)
    figure("runs with a harness problem", sum(bool(o.problems) for o in outcomes), "0", zero)
    done(t)
    return len(outcomes)


def concurrency(work: Path, writes: int, rounds: int) -> None:
    t = section(f"8 processes x {writes} writes on one database")
    c = faultkit.concurrent_writers(work, 8, writes)
    figure("'database is locked' errors", c["locked"], "0", zero)
    figure("other failed writes", c["failed"], "0", zero)
    figure("rows stored", c["stored"], str(8 * writes), lambda v: v == 8 * writes)
    done(t)
    t = section(f"8 simultaneous first starts on an old-schema database, {rounds} rounds")
    f = faultkit.concurrent_first_starts(work, 8, rounds)
    figure("starts", f["starts"], "-")
    figure("failed starts", f["failed_starts"], "0", zero)
    figure(
        "rounds where a migration was not applied exactly once", f["migrations_not_once"], "0", zero
    )
    done(t)


def files(work: Path) -> None:
    t = section("a database written by a newer schema")
    n = faultkit.newer_schema(work)
    figure(
        "refused for writes with a one-line message", n["refused"] and n["one_line"], "True", bool
    )
    figure("still readable (history list)", n["readable"], "True", bool)
    figure("writes (file bytes changed)", n["bytes_changed"], "0", zero)
    done(t)
    t = section("corrupt and truncated database files")
    copies = faultkit.damaged_copies(work)
    results = [faultkit.damaged(work, case, data) for case, data in copies.items()]
    figure("files", len(results), "-")
    figure(
        "reported in one line (store and CLI)",
        sum(r["reported"] and r["cli_reported"] for r in results),
        str(len(results)),
        lambda v: v == len(results),
    )
    figure(
        "kept byte-for-byte",
        sum(r["kept"] for r in results),
        str(len(results)),
        lambda v: v == len(results),
    )
    figure("replaced by an empty database", sum(r["replaced"] for r in results), "0", zero)
    figure("tracebacks", sum(r["cli_tracebacks"] for r in results), "0", zero)
    done(t)
    t = section("disk full")
    d = faultkit.disk_full(work, faultkit.MMCHAT)
    figure("method", d["method"], "-")
    figure("errors on the failed send", d["errors"], "1", lambda v: v == 1)
    figure("error is one clear line", d["one_line"], "True", bool)
    if "cli_exit" in d:
        figure(
            "mmchat ask: exit code, one line, no traceback",
            d["cli_exit"] != 0 and "\n" not in str(d["cli_stderr"]),
            "True",
            bool,
        )
    figure("text saved after space is freed", d["saved_after_free"], "True", bool)
    figure("PRAGMA integrity_check", d["integrity"], "ok", lambda v: v == "ok")
    done(t)
    t = section("permissions on a fresh install under umask 022")
    modes = faultkit.permissions(work / "perm-home")
    for name in ("data", "mmchat.db", "mmchat.db-wal", "mmchat.db-shm", "engine.log"):
        want = "0o700" if name == "data" else "0o600"
        figure(f"mode of {name}", modes.get(name), want, lambda v, w=want: v == w)
    figure(
        "config files readable by others",
        modes["config files open to others"],
        "0",
        lambda v: v == "0",
    )
    done(t)


def signals(work: Path) -> None:
    t = section("Ctrl-C, SIGTERM, SIGHUP to `mmchat ask` while idle, loading, streaming")
    outcomes = [
        askkit.run(work / f"sig-{phase}-{how}", phase, how)
        for phase in askkit.PHASES
        for how in ("SIGINT", "SIGTERM", "SIGHUP")
    ]
    worst = max(o.exit_seconds for o in outcomes)
    figure("runs", len(outcomes), "9")
    figure("slowest exit (s)", f"{worst:.2f}", "< 2", lambda v: float(v) < 2)
    figure("runs that lost the prompt", sum(not o.prompt_saved for o in outcomes), "0", zero)
    figure(
        "streamed answers not saved as stopped with all shown text",
        sum(
            o.phase == "streaming" and (o.answer_status != "stopped" or not o.answer_is_prefix)
            for o in outcomes
        ),
        "0",
        zero,
    )
    figure("orphan engine processes", sum(o.orphans for o in outcomes), "0", zero)
    figure("tracebacks", sum("Traceback" in o.stderr for o in outcomes), "0", zero)
    figure("runs with a harness problem", sum(bool(o.problems) for o in outcomes), "0", zero)
    done(t)


def hostile(work: Path, with_model: bool) -> None:
    t = section("hostile images through mmchat.images")
    expect = hostile_images.build(work / "images")
    i = hostile_images.run(work / "images", expect)
    figure("files", i["files"], ">= 200", lambda v: v >= 200)
    figure("accepted (decoded to RGB) / rejected", f"{i['accepted']}/{i['rejected']}", "-")
    figure("crashes", i["crashes"], "0", zero)
    figure("hangs over 10 s", i["hangs"], "0", zero)
    figure("bombs, fakes, special files not rejected", i["unexpected"], "0", zero)
    figure("rejections not one line naming the file", i["bad_messages"], "0", zero)
    figure("slowest file (s)", i["slowest_seconds"], "-")
    done(t)
    t = section("hostile strings to a pty: ask (model output, names, errors) and history")
    s = text_paths.run_all(work / "text-home", with_model=with_model)
    figure("strings", s["strings"], ">= 200", lambda v: v >= 200)
    figure("commands run on a pty", s["commands"], "-")
    figure("control characters reaching the terminal", s["control_chars"], "0", zero)
    figure("crashes", s["crashes"], "0", zero)
    figure("hangs over 10 s", s["hangs"], "0", zero)
    done(t)
    if with_model:
        t = section("the TUI on a pty: hostile titles, persona and model names, error text")
        import tui_pty

        u = tui_pty.run(work / "tui-home")
        figure("titles drawn (the check saw them)", u["rendered_titles"], "True", bool)
        figure("payload escape sequences reaching the terminal", u["payload_sequences"], "0", zero)
        figure("exit after SIGTERM (s)", u["exit_seconds"], "< 2", lambda v: float(v) < 2)
        done(t)


def models(work: Path) -> None:
    t = section("model loading: pickle, remote code, out of memory")
    refused = modelkit.pickle_checkpoint(work / "pickle-no", allow=False)
    allowed = modelkit.pickle_checkpoint(work / "pickle-yes", allow=True)
    figure(
        "pickle refused without --allow-pickle, one line",
        refused["exit"] != 0 and refused["one_line"] and "--allow-pickle" in refused["stderr"],
        "True",
        bool,
    )
    figure(
        "pickle payloads that ran (without / with opt-in)",
        int(refused["payload_ran"]) + int(allowed["payload_ran"]),
        "0",
        zero,
    )
    remote = modelkit.remote_code(work / "remote")
    figure("remote code that ran (trust_remote_code default)", int(remote["code_ran"]), "0", zero)
    oom = modelkit.out_of_memory(work / "oom")
    figure(
        "engine out of memory at load: one line, prompt kept",
        oom["one_line"] and oom["prompt_saved"] and "out of memory" in oom["stderr"],
        "True",
        bool,
    )
    killed = modelkit.killed_mid_load(work / "killed")
    figure(
        "engine SIGKILLed mid-load: one line, prompt kept",
        killed["one_line"] and killed.get("prompt_saved", False),
        "True",
        bool,
    )
    done(t)


def trust(work: Path, with_model: bool) -> None:
    t = section("code and text from the wrong place: planted modules, control tokens, links")
    setup = trustkit.run_planted(work, "setup", ["setup", "--minimal"])
    parse = trustkit.planted_parse(work)
    ran = [bool(setup["ran"]), bool(parse["ran"])]
    if with_model:
        args = ["ask", "--model", "smollm2", "--max-tokens", "3", "Say hi."]
        ask = trustkit.run_planted(work, "ask", args)
        ran.append(bool(ask["ran"]) or ask["exit"] != 0)
    figure(f"planted modules imported by children ({len(ran)} runs)", sum(ran), "0", zero)
    export = trustkit.export_through_link(work)
    figure("export -o through a symlink: target changed", int(export["victim_changed"]), "0", zero)
    figure("export -o new file mode", export["fresh_mode"], "0o600", lambda v: v == "0o600")
    if with_model:
        from transformers.utils import logging as hf_logging

        from mmchat.engine.hf import HFEngine
        from mmchat.engine.registry import resolve

        hf_logging.disable_progress_bar()  # one line per figure

        engine = HFEngine(resolve("smollm2"), quant="auto", threads=1)
        engine.load()
        tokens = trustkit.special_tokens(engine, work / "tokens")
        engine.close()
        template = sum(tokens["harmless"].values())
        figure("control tokens in a turn (the template's own)", template, "-")
        figure("extra control tokens from planted markers", tokens["extra"], "0", zero)
    if with_model:
        f = modelkit.pickled_fusion(work / "fusion")
        ok = f["exit"] == 1 and "safetensors" in str(f["stderr"]) and not f["payload_ran"]
        figure("fusion folder naming a pickled decoder: refused, ran nothing", ok, "True", bool)
    done(t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the CI counts")
    parser.add_argument("--no-model", action="store_true", help="skip real-model scenarios")
    args = parser.parse_args()
    if "MMCHAT_CACHE_DIR" not in os.environ:
        os.environ["MMCHAT_CACHE_DIR"] = str(askkit.private_cache())
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mmchat-faults-") as tmp:
        work = Path(tmp)
        kills = store_kills(work, 8 if args.quick else 80, 6 if args.quick else 20)
        if not args.no_model:
            kills += ask_kills(work, 1 if args.quick else 5)
        print()
        figure("kill -9 in total", kills, ">= 100", lambda v: v >= 100 or args.quick)
        concurrency(work, 60 if args.quick else 200, 3 if args.quick else 20)
        files(work)
        if not args.no_model:
            signals(work)
            models(work)
        hostile(work, with_model=not args.no_model)
        trust(work, with_model=not args.no_model)
    print(f"\n{len(misses)} figures missed their goal; {time.monotonic() - started:.0f} s")
    for name in misses:
        print(f"  MISS: {name}")
    raise SystemExit(1 if misses else 0)


if __name__ == "__main__":
    main()
