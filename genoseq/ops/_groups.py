"""Run independent channel-group jobs on a small pool of worker threads, each op single-threaded.

A channel group's ops are small (a few channels x L) and PyTorch's CPU FFT is single-threaded anyway;
splitting each small op over OpenMP threads costs a barrier per op, and on a machine shared with other
processes every barrier can wait for a preempted thread. So groups run whole on worker threads, one
intra-op thread each (torch releases the GIL inside ops). Workers: ``set_group_threads(n)``, else
``GENOSEQ_GROUP_THREADS``, else ``torch.get_num_threads()``. With 1 worker, or for short inputs (fewer
than ``PARALLEL_MIN_POSITIONS`` positions, where handing jobs to threads costs more than it saves and idle
OpenMP threads spinning between regions steal the workers' cores), the jobs run in the caller with its
usual intra-op threads. Results are identical either way: each group writes only its own channels.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import torch

PARALLEL_MIN_POSITIONS = 8192
_threads: int | None = None
class WorkerPool:
    """A lazily made pool of n threads whose torch ops run single-threaded (the caller's count is kept).

    Made again when asked for another size, and forgotten in a forked child (which has none of the
    parent's threads: jobs sent to the inherited pool would wait forever).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._forget()
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._size = 0
        self._lock = threading.Lock()

    def get(self, n: int) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None or self._size != n:
                if self._pool is not None:
                    self._pool.shutdown(wait=True)
                keep = torch.get_num_threads()
                barrier = threading.Barrier(n)

                def init() -> None:
                    torch.get_num_threads()  # torch sets a thread's count lazily, at its first query: do it first
                    torch.set_num_threads(1)

                pool = ThreadPoolExecutor(n, thread_name_prefix=self.name, initializer=init)
                list(pool.map(lambda _: barrier.wait(), range(n)))  # start every worker now
                torch.set_num_threads(keep)  # the initializer's setting must not leak into the caller
                self._pool, self._size = pool, n
            return self._pool


_groups_pool = WorkerPool("genoseq-groups")


def set_group_threads(n: int | None) -> None:
    """Worker threads for channel-group jobs (1 = serial in the caller; None = the default)."""
    global _threads
    if n is not None and n < 1:
        raise ValueError(f"set_group_threads: n must be >= 1, got {n}")
    _threads = n


def get_group_threads() -> int:
    """The configured worker count: set_group_threads, else GENOSEQ_GROUP_THREADS, else torch's thread count."""
    if _threads is not None:
        return _threads
    value = os.environ.get("GENOSEQ_GROUP_THREADS", "")
    return int(value) if value.strip().isdigit() and int(value) > 0 else torch.get_num_threads()


def _get_pool(n: int) -> ThreadPoolExecutor:
    """The group workers' pool of n threads."""
    return _groups_pool.get(n)


class WorkerSums:
    """Accumulators for the jobs of a map_groups call: each thread adds into its own list, made by ``make``
    on the thread's first job (no locks), and :meth:`totals` sums the lists entry by entry afterwards."""

    def __init__(self, make: Callable[[], list]) -> None:
        self._make = make
        self._by_thread: dict[int, list] = {}

    def mine(self) -> list:
        """The calling thread's list."""
        me = threading.get_ident()
        mine = self._by_thread.get(me)
        if mine is None:
            mine = self._by_thread[me] = self._make()
        return mine

    def totals(self) -> list:
        """Entry-wise sums over the threads' lists, in the order the threads first added; an entry no thread
        set stays None."""
        lists = list(self._by_thread.values())
        width = len(lists[0]) if lists else 0
        return [None if all(p[j] is None for p in lists) else sum(p[j] for p in lists if p[j] is not None)
                for j in range(width)]


def map_groups(fn: Callable, groups: Sequence, positions: int | None = None) -> None:
    """Call ``fn(group)`` for every group, in the caller or shared among the worker threads.

    ``positions``: the sequence positions the whole call covers (batch x length); below
    PARALLEL_MIN_POSITIONS the groups run in the caller.

    Jobs run without autograd recording and without autocast (worker threads start with both off); when the
    caller is in inference mode, so are the workers (tensors made there are inference tensors)."""
    threads = get_group_threads()
    n = min(threads, len(groups))
    if n <= 1 or (positions is not None and positions < PARALLEL_MIN_POSITIONS):
        with torch.no_grad():
            for g in groups:
                fn(g)
        return
    it = iter(groups)
    it_lock = threading.Lock()
    inference = torch.is_inference_mode_enabled()

    def worker() -> None:
        # grad and inference mode are per thread: jobs never record autograd graphs, and may write into the
        # caller's inference tensors only in inference mode themselves
        with torch.inference_mode() if inference else torch.no_grad():
            _work()

    def _work() -> None:
        while True:
            with it_lock:
                g = next(it, None)
            if g is None:
                return
            fn(g)

    pool = _get_pool(threads)
    futures = [pool.submit(worker) for _ in range(n)]
    for f in futures:
        f.result()
