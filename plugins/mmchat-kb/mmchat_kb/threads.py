"""Run a small torch computation on one thread, restoring the process's setting after.

One query (an embedding of one short text, a matrix-vector product) gives a second thread
little to do. Measured here while other processes kept both cores busy: a 2-thread query
embedding took 0.6-2 s (the threads wait on each other), a 1-thread one ~0.1 s; the 100k x 384
float16 product took p50 19 ms on one thread and 24 ms on two.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def one_thread() -> Iterator[None]:
    import torch  # already imported by whoever embeds; only the search path gets here

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
