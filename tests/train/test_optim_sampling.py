"""Parameter groups, the warm-up cosine schedule, the resumable stream sampler and seq-len stages."""

import math

import pytest
import torch
from torch import nn

from genoseq.train.callbacks import hyenadna_warmup
from genoseq.train.optim import WarmupCosine, build_optimizer, param_groups
from genoseq.train.sampling import FixedBatchSampler, SeqLenSchedule, Stage, StreamBatchSampler


class Toy(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(10, 8)
        self.proj = nn.Linear(8, 8)
        self.norm = nn.LayerNorm(8)
        self.mixer = nn.Module()
        self.mixer.filter = nn.Linear(4, 8)  # a Hyena-style implicit filter MLP
        self.A_log = nn.Parameter(torch.zeros(8, 4))
        self.A_log._no_weight_decay = True


def test_param_groups():
    groups = {g["name"]: g for g in param_groups(Toy(), lr=1e-3, weight_decay=0.1, filter_lr=5e-4)}
    assert groups["decay"]["param_names"] == ["proj.weight"]
    assert sorted(groups["no_decay"]["param_names"]) == ["A_log", "embedding.weight", "norm.bias", "norm.weight",
                                                          "proj.bias"]
    assert sorted(groups["filter"]["param_names"]) == ["mixer.filter.bias", "mixer.filter.weight"]
    assert groups["decay"]["weight_decay"] == 0.1
    assert groups["no_decay"]["weight_decay"] == 0.0 and groups["filter"]["weight_decay"] == 0.0
    assert groups["filter"]["lr"] == 5e-4 and groups["decay"]["lr"] == 1e-3
    opt = build_optimizer(Toy(), lr=1e-3, weight_decay=0.1, filter_lr=None)
    assert isinstance(opt, torch.optim.AdamW) and {g["lr"] for g in opt.param_groups} == {1e-3}
    assert sum(len(g["params"]) for g in opt.param_groups) == 8


def test_warmup_cosine():
    f = WarmupCosine(warmup_steps=4, total_steps=14, min_ratio=0.1)
    assert [f(s) for s in range(4)] == pytest.approx([0.2, 0.4, 0.6, 0.8])
    assert f(4) == pytest.approx(1.0)
    assert f(9) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert f(14) == pytest.approx(0.1) and f(100) == pytest.approx(0.1)


def test_schedule_stages_and_positions():
    sched = SeqLenSchedule([Stage(256, 8, 2), Stage(512, 4, 3), Stage(1024, 2, None)])
    assert [sched.at(s).seq_len for s in range(7)] == [256, 256, 512, 512, 512, 1024, 1024]
    # accumulate 2: batches 0-3 stage 0 (8 each), 4-9 stage 1 (4 each), then 2 each
    assert [sched.positions(b, 2) for b in (0, 1, 4, 5, 10, 11)] == [0, 8, 32, 36, 56, 58]


def test_hyenadna_schedule_keeps_tokens_per_step():
    stages = hyenadna_warmup(final_len=32768, final_batch=8, start_len=1024, steps_per_stage=100)
    assert [s.seq_len for s in stages] == [1024, 2048, 4096, 8192, 16384, 32768]
    assert [s.batch_size for s in stages] == [256, 128, 64, 32, 16, 8]
    assert {s.seq_len * s.batch_size for s in stages} == {32768 * 8}
    assert stages[-1].steps is None


def test_stream_sampler_resumes_and_shards():
    sched = SeqLenSchedule([Stage(64, 4, 2), Stage(128, 2, None)])
    full = StreamBatchSampler(sched, accumulate=1, seed=3, n_items=10)
    it = iter(full)
    first = [next(it) for _ in range(6)]
    assert [len(b) for b in first] == [4, 4, 2, 2, 2, 2]
    assert {k[2] for k in first[0]} == {64} and {k[2] for k in first[2]} == {128}
    # positions run on without gaps; items of each data epoch are a permutation of 0..9
    positions = [k[1] for b in first for k in b]
    assert positions == list(range(16))
    assert sorted(k[0] for b in first for k in b[:] if k[1] < 10) == list(range(10))
    resumed = iter(StreamBatchSampler(sched, 1, 3, 10, start_batch=lambda: 3))
    assert [next(resumed) for _ in range(3)] == first[3:6]
    ranks = [iter(StreamBatchSampler(sched, 1, 3, 10, rank=r, world_size=2)) for r in range(2)]
    for b in range(4):
        parts = [next(r) for r in ranks]
        assert parts[0] + parts[1] == first[b]
    with pytest.raises(ValueError, match="not divisible by 3"):
        StreamBatchSampler(sched, world_size=3)


def test_fixed_sampler_shards_in_order():
    s = FixedBatchSampler(5, 2, 16)
    assert list(s) == [[(0, 0, 16), (1, 1, 16)], [(2, 2, 16), (3, 3, 16)], [(4, 4, 16)]]
    assert list(FixedBatchSampler(5, 2, 16, rank=1, world_size=2)) == [[(2, 2, 16), (3, 3, 16)]]


def test_fixed_windows_tile_evenly():
    from genoseq.train.datamodules import fixed_windows
    from genoseq.train.datasets import Region

    regions = [Region("a", 0, 100), Region("b", 10, 35), Region("c", 0, 5)]
    tiles = fixed_windows(regions, 20, 100)
    assert [(w.contig, w.start, w.end) for w in tiles] == [
        ("a", 0, 20), ("a", 20, 40), ("a", 40, 60), ("a", 60, 80), ("a", 80, 100), ("b", 10, 30), ("c", 0, 20)]
    picked = fixed_windows(regions, 20, 3)
    assert [(w.contig, w.start) for w in picked] == [("a", 0), ("a", 60), ("c", 0)]
