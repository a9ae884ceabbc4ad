"""Channel-group jobs: serial and threaded runs cover every group once; thread settings are restored."""

from __future__ import annotations

import threading

import pytest
import torch

from genoseq.ops import _groups


@pytest.mark.parametrize(("threads", "positions"), [(1, None), (2, None), (3, None), (2, 100)])
def test_map_groups_runs_every_group_once(threads, positions, monkeypatch):
    monkeypatch.setattr(_groups, "_threads", threads)
    seen, lock = [], threading.Lock()

    def job(g):
        assert not torch.is_grad_enabled()
        with lock:
            seen.append((g, threading.get_ident(), torch.get_num_threads()))

    keep = torch.get_num_threads()
    with torch.enable_grad():
        _groups.map_groups(job, list(range(7)), positions)
    assert sorted(g for g, _, _ in seen) == list(range(7))
    in_caller = threads == 1 or positions is not None  # 100 positions < PARALLEL_MIN_POSITIONS
    if in_caller:
        assert {t for _, t, _ in seen} == {threading.get_ident()}
    else:
        assert threading.get_ident() not in {t for _, t, _ in seen}
        assert all(n == 1 for _, _, n in seen)  # worker ops run single-threaded
    assert torch.get_num_threads() == keep


def test_job_errors_propagate(monkeypatch):
    monkeypatch.setattr(_groups, "_threads", 2)

    def job(g):
        if g == 3:
            raise RuntimeError("group 3 failed")

    with pytest.raises(RuntimeError, match="group 3 failed"):
        _groups.map_groups(job, list(range(5)))


def test_thread_settings(monkeypatch):
    monkeypatch.setattr(_groups, "_threads", None)
    monkeypatch.setenv("GENOSEQ_GROUP_THREADS", "3")
    assert _groups.get_group_threads() == 3
    monkeypatch.setenv("GENOSEQ_GROUP_THREADS", "")
    assert _groups.get_group_threads() == torch.get_num_threads()
    with pytest.raises(ValueError, match="n must be >= 1"):
        _groups.set_group_threads(0)


def test_workers_follow_inference_mode(monkeypatch):
    monkeypatch.setattr(_groups, "_threads", 2)
    with torch.inference_mode():
        out = torch.zeros(4)  # an inference tensor: writable only in inference mode

        def job(g):
            out[g] = g + 1

        _groups.map_groups(job, list(range(4)))
    assert out.tolist() == [1.0, 2.0, 3.0, 4.0]


def test_forked_child_runs_jobs_on_its_own_pool(monkeypatch):
    import multiprocessing as mp

    monkeypatch.setattr(_groups, "_threads", 2)
    _groups.map_groups(lambda g: None, [0, 1])  # the parent's pool exists
    ctx = mp.get_context("fork")
    with ctx.Pool(1) as pool:
        assert pool.apply_async(_child_job).get(timeout=60) == [0, 1, 2, 3]


def _child_job():
    out = []
    lock = threading.Lock()

    def job(g):
        with lock:
            out.append(g)

    _groups.set_group_threads(2)
    _groups.map_groups(job, [0, 1, 2, 3])
    return sorted(out)


def test_worker_sums_add_per_thread_and_total_entry_by_entry(monkeypatch):
    monkeypatch.setattr(_groups, "_threads", 2)
    monkeypatch.setattr(_groups, "PARALLEL_MIN_POSITIONS", 0)
    sums = _groups.WorkerSums(lambda: [torch.zeros(2), None])
    threads = set()

    def job(g: int) -> None:
        mine = sums.mine()
        threads.add(threading.get_ident())
        mine[0] += torch.tensor([g, 1.0])
        if g == 3:  # an entry only some thread sets
            mine[1] = torch.tensor(5.0) if mine[1] is None else mine[1] + 5

    _groups.map_groups(job, list(range(8)), 8)
    total, only_one = sums.totals()
    assert torch.equal(total, torch.tensor([28.0, 8.0]))
    assert only_one == 5.0
    assert _groups.WorkerSums(lambda: [torch.zeros(1), None]).totals() == []  # no job ran
    never = _groups.WorkerSums(lambda: [torch.zeros(1), None])
    never.mine()
    assert never.totals()[1] is None
