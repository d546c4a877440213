"""Run a small torch computation on one thread, restoring the process's setting after.

One query (an embedding of one short text, a matrix-vector product) gives a second thread
little to do, and while other processes keep the cores busy the threads wait on each other:
a query is then many times slower on two threads than on one (docs/PERFORMANCE.md).
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
