"""Run a small torch computation on one thread, restoring the process's setting after.

One query (an embedding of one short text, a matrix-vector product) gives a second thread
little to do, and while other processes keep the cores busy the threads wait on each other:
a query is then many times slower on two threads than on one (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def one_thread() -> Iterator[None]:
    # Never imports torch: a search in a fresh process embeds with onnxruntime and does
    # without torch below the ANN threshold; only what already loaded it has threads to set.
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
