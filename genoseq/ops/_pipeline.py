"""Run the blocks of a sequence through three stages on worker threads, each op single-threaded.

A recurrent layer processed block by block has one stage that must see the blocks in order (it carries a
state) and stages before and after it that need nothing from other blocks. Splitting every small block op
over OpenMP threads costs a barrier per op, and on a machine shared with other processes each barrier can
wait for a preempted thread; here whole stages run on worker threads instead (torch releases the GIL inside
ops), with the in-order stage first in line so the carried state never waits behind independent work.

Workers: ``genoseq.ops._groups.get_group_threads()`` (``set_group_threads`` / ``GENOSEQ_GROUP_THREADS`` /
``torch.get_num_threads()``). With one worker everything runs in the caller, in order. Results are identical
either way: every stage computes the same thing, only the interleaving differs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch

from genoseq.ops._groups import WorkerPool, get_group_threads

_blocks_pool = WorkerPool("genoseq-blocks")  # apart from the group workers': a stage may call map_groups


def _get_pool(n: int) -> ThreadPoolExecutor:
    """The pipeline workers' pool of n threads."""
    return _blocks_pool.get(n)


def run_blocks(
    n: int,
    first: Callable[[int], Any],
    chain: Callable[[int, Any], Any],
    last: Callable[[int, Any], Any] | None = None,
    fold: Callable[[int, Any], None] | None = None,
    lookahead: int = 2,
) -> None:
    """For i = 0..n-1: ``r = first(i)``; ``r = chain(i, r)``, strictly in order of i; ``v = last(i, r)``;
    ``fold(i, v)``. ``first`` and ``last`` calls of different blocks may run concurrently and in any order
    (``first`` at most ``lookahead`` blocks ahead of ``chain``); ``chain`` calls never overlap; ``fold``
    calls run one at a time in order of i (accumulate into shared tensors there: the sums come out the same
    for any number of workers). Jobs run without autograd recording, their ops single-threaded."""
    workers = min(get_group_threads(), n // 2)  # a few blocks: the hand-offs would cost more than they save
    if workers <= 1:
        keep = torch.get_num_threads()
        torch.set_num_threads(1)  # the same single-threaded ops as the workers run: identical results
        try:
            with torch.no_grad():
                for i in range(n):
                    v = chain(i, first(i))
                    if last is not None:
                        v = last(i, v)
                        if fold is not None:
                            fold(i, v)
        finally:
            torch.set_num_threads(keep)
        return
    cv = threading.Condition()
    firsts: dict[int, Any] = {}
    lasts: list[tuple[int, Any]] = []
    folds: dict[int, Any] = {}  # last results waiting for their turn: fold runs in block order
    st = {"first": 0, "chain": 0, "chain_busy": False, "running": 0, "fold": 0, "error": None}

    def pick():
        """Next job (kind, i, arg), None to wait, or "exit". Called with cv held."""
        if st["error"] is not None:
            return "exit"
        if not st["chain_busy"] and st["chain"] < n and st["chain"] in firsts:
            st["chain_busy"] = True
            i = st["chain"]
            return "chain", i, firsts.pop(i)
        if st["first"] < n and st["first"] <= st["chain"] + lookahead:
            st["first"] += 1
            return "first", st["first"] - 1, None
        if lasts:
            i, r = lasts.pop(0)
            return "last", i, r
        if st["chain"] >= n and st["running"] == 0:
            return "exit"
        return None

    def worker() -> None:
        with torch.no_grad():
            while True:
                with cv:
                    job = pick()
                    while job is None:
                        cv.wait()
                        job = pick()
                    if job == "exit":
                        cv.notify_all()
                        return
                    st["running"] += 1
                kind, i, arg = job
                try:
                    if kind == "first":
                        out = first(i)
                    elif kind == "chain":
                        out = chain(i, arg)
                    else:
                        out = last(i, arg)
                except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
                    with cv:
                        st["error"] = st["error"] or exc
                        st["running"] -= 1
                        cv.notify_all()
                    return
                with cv:
                    st["running"] -= 1
                    if kind == "first":
                        firsts[i] = out
                    elif kind == "chain":
                        st["chain_busy"] = False
                        st["chain"] += 1
                        if last is not None:
                            lasts.append((i, out))
                    elif fold is not None:
                        folds[i] = out
                        while st["fold"] in folds:
                            fold(st["fold"], folds.pop(st["fold"]))
                            st["fold"] += 1
                    cv.notify_all()

    pool = _get_pool(workers)
    futures = [pool.submit(worker) for _ in range(workers)]
    for f in futures:
        f.result()
    if st["error"] is not None:
        raise st["error"]
