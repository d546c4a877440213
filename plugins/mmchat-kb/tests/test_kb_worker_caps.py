"""The parsing process stops on its own: a CPU-time limit per file, and a watchdog that ends it
when its parent is gone (the parent's wall-clock deadline cannot hold then)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import psutil
import pytest
from kbtest_files import make_pdf
from mmchat_kb.limits import Limits
from mmchat_kb.parse_worker import limits_arg

PARENT = """
import sys
from pathlib import Path
from mmchat_kb.limits import Limits
from mmchat_kb.parser import Parser

parser = Parser(Limits(**__import__("json").loads(sys.argv[1])))
print(parser._start().pid, flush=True)
parser.parse(Path(sys.argv[2]), "pdf")
"""


@pytest.fixture(scope="module")
def long_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """5,000 pages (the page cap) of 50 lines: ~9 s of CPU to read on a fast core, so no CPU
    reads it inside the 1 s budget the test sets (one line a page took 1.8 s on one machine)."""
    path = tmp_path_factory.mktemp("long") / "long.pdf"
    return make_pdf(path, [f"Page {i} of a very long file." for i in range(5000)], lines=50)


def gone(pid: int, within: float) -> float | None:
    """Seconds until `pid` ended (a zombie counts as ended), or None."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return time.monotonic() - started
        except psutil.NoSuchProcess:
            return time.monotonic() - started
        time.sleep(0.05)
    return None


def test_cpu_limit_ends_a_parse_nobody_stops(long_pdf: Path) -> None:
    caps = replace(Limits.from_env(), parse_seconds=1.0)
    worker = subprocess.Popen(
        [sys.executable, "-P", "-m", "mmchat_kb.parse_worker", limits_arg(caps)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert worker.stdin is not None
    worker.stdin.write((json.dumps({"path": str(long_pdf), "kind": "pdf"}) + "\n").encode())
    worker.stdin.flush()
    try:
        code = worker.wait(timeout=15)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
        pytest.fail("the worker parsed on past its CPU limit")
    finally:
        worker.stdin.close()
        assert worker.stdout is not None
        worker.stdout.close()
    assert code == -signal.SIGXCPU


def test_worker_ends_when_its_parent_dies_mid_parse(long_pdf: Path) -> None:
    caps = replace(Limits.from_env(), parse_seconds=600.0)  # the parent's deadline: far away
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, limits_arg(caps), str(long_pdf)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    pid = int(parent.stdout.readline())
    time.sleep(0.5)  # reading the PDF now
    assert psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    parent.stdout.close()
    seconds = gone(pid, within=10)
    if seconds is None:
        psutil.Process(pid).kill()
    assert seconds is not None and seconds < 2.5, seconds  # reading it takes ~5 s
