"""Window samplers, N filtering, hold-out splits and the torch Dataset over windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from genoseq.data.datasets import GenomeWindowDataset
from genoseq.data.genome import Genome
from genoseq.data.intervals import Interval, read_bed
from genoseq.data.windows import (
    EpochSampler,
    RandomWindows,
    center,
    contig_splits,
    filter_by_n,
    split_by_column,
    split_by_contig,
    tile,
)
from genoseq.errors import ConfigError, InputError
from genoseq.tokenizer import PAD_ID, Tokenizer

DATA = Path(__file__).resolve().parents[1] / "data"
HAND = DATA / "handmade"
CHRM = DATA / "genomes" / "MT-human.fa"
TOK = Tokenizer()


def spans(windows):
    return [(w.contig, w.start, w.end) for w in windows]


# ---------------------------------------------------------------- tiling
def test_tile_modes_exact():
    lengths = {"a": 10, "b": 3}
    assert spans(tile(lengths, 4, 3)) == [("a", 0, 4), ("a", 3, 7), ("a", 6, 10)]
    assert spans(tile(lengths, 4)) == [("a", 0, 4), ("a", 4, 8)]
    assert spans(tile(lengths, 4, partial="shift")) == [("a", 0, 4), ("a", 4, 8), ("a", 6, 10)]
    assert spans(tile(lengths, 4, partial="pad")) == [("a", 0, 4), ("a", 4, 8), ("a", 8, 12), ("b", 0, 4)]
    with pytest.raises(ConfigError, match="window must be a positive"):
        tile(lengths, 0)
    with pytest.raises(ConfigError, match="partial must be one of"):
        tile(lengths, 4, partial="wrap")


def test_tile_intervals_keep_fields_and_center():
    regions = [Interval("c", 10, 19, "r1", None, "-", label=1, split="test")]
    ws = tile(regions, 4, 2)
    assert spans(ws) == [("c", 10, 14), ("c", 12, 16), ("c", 14, 18)]
    assert all(w.strand == "-" and w.label == 1 and w.split == "test" and w.name == "r1" for w in ws)
    assert spans(center([Interval("c", 10, 20), Interval("c", 0, 3)], 4)) == [("c", 13, 17), ("c", -1, 3)]


def test_tile_whole_genome(tmp_path):
    g = Genome(CHRM, cache_dir=tmp_path)
    ws = tile(g, 1000, 500)
    assert len(ws) == (16569 - 1000) // 500 + 1
    assert ws[0] == Interval("HS#NC_012920.1", 0, 1000, strand="+")


# ---------------------------------------------------------------- N filter
def test_filter_by_n_counts_real_chrm(tmp_path):
    g = Genome(CHRM, cache_dir=tmp_path)
    ws = tile(g, 100)
    res = filter_by_n(g, ws, max_n_fraction=0.0)
    assert res.n_filtered == 1 and res.n_total == len(ws) == 165
    assert all(w.start != 3100 for w in res.kept)  # the window holding the rCRS N at 3106
    assert filter_by_n(g, ws, 0.01).n_filtered == 0


def test_filter_by_n_exact_and_padding(tmp_path):
    g = Genome(HAND / "two_contigs.fa", cache_dir=tmp_path)  # chr1 = ACGTacgtNNACG
    ws = tile({"chr1": 13}, 4, 2, partial="pad")
    assert spans(ws) == [("chr1", s, s + 4) for s in (0, 2, 4, 6, 8, 10)]
    res = filter_by_n(g, ws, max_n_fraction=0.25)
    # [6,10) and [8,12) hold 2 N of 4; [10,14) is 1/4 off-contig (kept at 0.25, dropped at 0.2)
    assert res.n_filtered == 2
    assert spans(res.kept) == [("chr1", 0, 4), ("chr1", 2, 6), ("chr1", 4, 8), ("chr1", 10, 14)]
    assert filter_by_n(g, ws, max_n_fraction=0.2).n_filtered == 3
    with pytest.raises(ConfigError):
        filter_by_n(g, ws, 1.5)


# ---------------------------------------------------------------- random windows
@pytest.fixture
def chrm(tmp_path) -> Genome:
    return Genome(CHRM, cache_dir=tmp_path)


def test_random_windows_deterministic_per_seed_and_epoch(chrm):
    a = RandomWindows(chrm, 1024, 50, seed=7)
    b = RandomWindows(chrm, 1024, 50, seed=7)
    first = [a[i] for i in range(50)]
    assert first == list(b)
    assert all(0 <= w.start and w.end <= 16569 and len(w) == 1024 for w in first)
    assert len({w.start for w in first}) > 40
    a.set_epoch(1)
    assert list(a) != first
    a.set_epoch(0)
    assert list(a) == first  # epoch 0 again: same windows
    assert a.epoch == 1 and a.position == 0  # iterating to the end advances the epoch
    a.set_epoch(0)
    assert list(RandomWindows(chrm, 1024, 50, seed=8)) != first
    assert a[49] == first[49] and a[-1] == first[-1]
    with pytest.raises(IndexError):
        a[50]


def test_random_windows_iteration_resume_mid_epoch(chrm):
    ref = RandomWindows(chrm, 500, 30, seed=11, max_n_fraction=0.0)
    full = list(ref)
    assert all(not (w.start <= 3106 < w.end) for w in full)  # the N window is always redrawn
    it = RandomWindows(chrm, 500, 30, seed=11, max_n_fraction=0.0)
    gen = iter(it)
    head = [next(gen) for _ in range(12)]
    state = it.state_dict()
    assert state["position"] == 12 and state["epoch"] == 0
    fresh = RandomWindows(chrm, 500, 30, seed=0, max_n_fraction=0.0)
    fresh.load_state_dict(state)
    assert head + list(fresh) == full
    assert fresh.epoch == 1
    other = RandomWindows(chrm, 500, 30, seed=11, max_n_fraction=0.0)
    other.set_epoch(1)
    assert list(fresh) == list(other)  # epoch 1 after resuming equals epoch 1 from scratch


def test_random_windows_cover_all_starts_uniformly(tmp_path):
    g = Genome(HAND / "two_contigs.fa", cache_dir=tmp_path)  # chr1: 13 bp, chr2: 10 bp
    rw = RandomWindows(g, 4, 4000, seed=0)
    starts = [(w.contig, w.start) for w in rw]
    # 10 starts on chr1 + 7 on chr2 = 17 positions, each ~ 4000/17 = 235
    counts = {k: starts.count(k) for k in set(starts)}
    assert len(counts) == 17
    assert all(170 < c < 300 for c in counts.values())


def test_random_windows_reject_n(tmp_path):
    fa = tmp_path / "g.fa"
    fa.write_text(">ns\n" + "N" * 1000 + "\n>ok\n" + "ACGT" * 250 + "\n")
    g = Genome(fa)
    rw = RandomWindows(g, 100, 200, seed=1, max_n_fraction=0.1)
    ws = list(rw)
    assert {w.contig for w in ws} == {"ok"}
    assert rw.n_rejected > 50 and rw.n_exhausted == 0
    only_n = RandomWindows(g, 100, 3, seed=1, contigs=["ns"], max_n_fraction=0.1, max_tries=5)
    assert len(list(only_n)) == 3 and only_n.n_exhausted == 3 and only_n.n_rejected == 15
    with pytest.raises(ConfigError, match="no region is at least 5000 bases"):
        RandomWindows(g, 5000, 3)


def test_random_windows_in_regions(chrm):
    regions = [Interval("HS#NC_012920.1", 100, 300), Interval("HS#NC_012920.1", 5000, 5050)]
    ws = list(RandomWindows(chrm, 50, 1520, seed=3, regions=regions))
    assert all((100 <= w.start and w.end <= 300) or (w.start == 5000 and w.end == 5050) for w in ws)
    assert 2 < sum(w.start == 5000 for w in ws) < 25  # 1 of 152 start positions, ~10 expected


# ---------------------------------------------------------------- resumable sampler
def test_epoch_sampler_resume_mid_epoch_equals_uninterrupted():
    full = list(EpochSampler(20, seed=5))
    assert sorted(full) == list(range(20)) and full != list(range(20))
    s = EpochSampler(20, seed=5)
    it = iter(s)
    head = [next(it) for _ in range(7)]
    state = s.state_dict()
    assert state["position"] == 7 and state["epoch"] == 0
    resumed = EpochSampler(20, seed=0)
    resumed.load_state_dict(state)
    assert head + list(resumed) == full
    assert resumed.epoch == 1 and resumed.position == 0
    second = list(resumed)
    assert second == list(EpochSampler(20, seed=5).order()) or second != full
    s1 = EpochSampler(20, seed=5)
    s1.set_epoch(1)
    assert second == list(s1)
    assert list(EpochSampler(5, shuffle=False)) == [0, 1, 2, 3, 4]
    with pytest.raises(InputError, match="sampler state is for 20 samples"):
        EpochSampler(3).load_state_dict(state)


def test_dataset_resume_with_random_windows(chrm):
    ds = GenomeWindowDataset(chrm, RandomWindows(chrm, 256, 12, seed=2), rc_prob=0.5, max_shift=8, seed=4)
    sampler = EpochSampler(len(ds), seed=9)
    full = [ds[i]["input_ids"] for i in sampler.order()]
    it = iter(sampler)
    _ = [next(it) for _ in range(5)]
    ds2 = GenomeWindowDataset(chrm, RandomWindows(chrm, 256, 12, seed=2), rc_prob=0.5, max_shift=8, seed=4)
    s2 = EpochSampler(len(ds2))
    s2.load_state_dict(sampler.state_dict())
    rest = [ds2[i]["input_ids"] for i in s2]
    assert len(rest) == 7
    for a, b in zip(full[5:], rest, strict=True):
        assert torch.equal(a, b)


# ---------------------------------------------------------------- splits
def test_split_by_contig_with_aliases(tmp_path):
    g = Genome(HAND / "aliases.fa", cache_dir=tmp_path, aliases=True)  # contigs 1, X, MT
    ws = tile(g, 2)
    parts = split_by_contig(ws, valid=["chrX"], test=["chrM"], genome=g)
    assert spans(parts["train"]) == [("1", 0, 2), ("1", 2, 4)]
    assert spans(parts["valid"]) == [("X", 0, 2), ("X", 2, 4)]
    assert {w.contig for w in parts["test"]} == {"MT"}
    assert all(w.split == "test" for w in parts["test"])
    assert contig_splits(["1", "X"], valid=["X"]) == {"1": "train", "X": "valid"}
    with pytest.raises(InputError, match="unknown contig 'chr9'"):
        split_by_contig(ws, valid=["chr9"], genome=g)
    with pytest.raises(InputError, match="hold-out contig 'chr9'"):
        contig_splits(["1", "X"], test=["chr9"])
    with pytest.raises(ConfigError, match="in both valid and test"):
        split_by_contig(ws, valid=["X"], test=["chrX"], genome=g)


def test_split_by_column():
    ivs = read_bed(HAND / "split_label.bed", split_column="split", label_column="label", label_type=int)
    parts = split_by_column(ivs)
    assert [iv.name for iv in parts["train"]] == ["a"]
    assert [iv.name for iv in parts["valid"]] == ["b", "d"]
    assert [iv.name for iv in parts["test"]] == ["c"]
    with pytest.raises(InputError, match="has no split"):
        split_by_column([Interval("c", 0, 1)])


# ---------------------------------------------------------------- torch dataset
def test_dataset_items_exact(tmp_path):
    g = Genome(HAND / "two_contigs.fa", cache_dir=tmp_path)
    ivs = read_bed(HAND / "split_label.bed", split_column="split", label_column="label", label_type=int)
    ds = GenomeWindowDataset(g, ivs, return_soft_mask=True)
    item = ds[0]  # chr1:0-4 ACGT, label 1
    assert item["input_ids"].dtype == torch.long
    assert item["input_ids"].tolist() == TOK.encode("ACGT").tolist()
    assert item["label"].item() == 1 and item["strand"] == 1
    assert ds[1]["soft_mask"].tolist() == [True, True, True, True]  # chr1:4-8 = acgt
    rc = GenomeWindowDataset(g, ivs, rc_prob=1.0, dtype=torch.uint8)
    assert rc[0]["input_ids"].dtype == torch.uint8
    assert rc[0]["input_ids"].tolist() == TOK.encode("ACGT").tolist()  # ACGT is its own reverse complement
    assert rc[2]["input_ids"].tolist() == TOK.encode("AAAA").tolist() and rc[2]["strand"] == -1  # chr2:0-4 TTTT


def test_dataset_string_labels_and_padding(tmp_path):
    g = Genome(HAND / "two_contigs.fa", cache_dir=tmp_path)
    ws = [Interval("chr2", 8, 12, label="pos"), Interval("chr2", -2, 2, label="neg")]
    ds = GenomeWindowDataset(g, ws)
    assert ds.label_to_id == {"neg": 0, "pos": 1}
    assert ds[0]["input_ids"].tolist() == [*TOK.encode("CC").tolist(), PAD_ID, PAD_ID]
    assert ds[1]["input_ids"].tolist() == [PAD_ID, PAD_ID, *TOK.encode("TT").tolist()]
    assert ds[0]["label"].item() == 1


def test_dataset_shift_deterministic_per_epoch(chrm):
    ws = [Interval("HS#NC_012920.1", 1000, 1100)] * 30
    ds = GenomeWindowDataset(chrm, ws, max_shift=5, seed=3)
    ref = chrm.tokens("HS#NC_012920.1", 995, 1105)

    def shift_of(item):
        ids = item["input_ids"].numpy()
        hits = [s for s in range(11) if np.array_equal(ref[s : s + 100], ids)]
        assert len(hits) == 1
        return hits[0] - 5

    e0 = [shift_of(ds[i]) for i in range(30)]
    assert e0 == [shift_of(ds[i]) for i in range(30)]
    assert len(set(e0)) > 3
    ds.set_epoch(1)
    assert [shift_of(ds[i]) for i in range(30)] != e0


def test_dataloader_workers_match_single_process(chrm):
    ds = GenomeWindowDataset(chrm, RandomWindows(chrm, 512, 16, seed=1), rc_prob=0.5, seed=2)
    single = torch.cat([b["input_ids"] for b in DataLoader(ds, batch_size=4)])
    multi = torch.cat([b["input_ids"] for b in DataLoader(ds, batch_size=4, num_workers=2)])
    assert single.shape == (16, 512)
    assert torch.equal(single, multi)
