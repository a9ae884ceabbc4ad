import bz2
import lzma
import zlib
from collections import Counter
from itertools import product

import numpy as np
import pytest

from genoseq.data.tasks import Split
from genoseq.errors import ConfigError
from genoseq.eval._cnn import SmallCNN, _Encoded
from genoseq.eval._kmer import kmer_counts, kmer_frequencies
from genoseq.eval._ncd import COMPRESSORS, knn_probs, ncd_matrix
from genoseq.eval._select import stratified_subsample
from genoseq.eval.baselines import BASELINES, BaselineFit, run_baseline
from genoseq.eval.metrics import classification_metrics

MOTIF = "TATAAAGGC"


def _motif_split(name: str, n: int, rng: np.random.Generator, length: int = 50) -> Split:
    """Random sequences; class 1 carries MOTIF at a random position."""
    labels = rng.permutation(np.arange(n) % 2).astype(np.int64)
    seqs = []
    for y in labels:
        s = "".join(rng.choice(list("ACGT"), size=length))
        if y:
            p = int(rng.integers(0, length - len(MOTIF)))
            s = s[:p] + MOTIF + s[p + len(MOTIF):]
        seqs.append(s)
    return Split(name, seqs, labels)


@pytest.fixture(scope="module")
def motif_task() -> tuple[Split, Split, Split]:
    rng = np.random.default_rng(7)
    return _motif_split("train", 600, rng), _motif_split("dev", 150, rng), _motif_split("test", 150, rng)


def _shuffled_labels(split: Split, seed: int = 1) -> Split:
    return Split(split.name, split.sequences, np.random.default_rng(seed).permutation(split.labels))


# --- k-mer counting ---------------------------------------------------------------------------------


def test_kmer_counts_hand_built():
    counts, skipped = kmer_counts(["ACGTNAC", "aaaa", "", "A"], 2)
    assert counts.shape == (4, 16)
    # columns: AA=0, AC=1, CG=6, GT=11; TN and NA hold N -> skipped
    assert counts[0].toarray().tolist() == [[0, 2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0]]
    assert counts[1].toarray()[0, 0] == 3 and counts[1].sum() == 3  # lower case counts
    assert counts[2].sum() == 0 and counts[3].sum() == 0  # empty and shorter than k
    assert skipped.tolist() == [2, 0, 0, 0]
    freq, _ = kmer_frequencies(["ACGTNAC", "aaaa", ""], 2)
    assert freq[0, 1] == pytest.approx(0.5) and freq[0, 6] == pytest.approx(0.25)
    assert np.asarray(freq.sum(axis=1)).ravel().tolist() == pytest.approx([1.0, 1.0, 0.0])


def test_kmer_counts_match_naive_count():
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGTN"), p=[0.24, 0.24, 0.24, 0.24, 0.04], size=int(n)))
            for n in rng.integers(0, 40, size=30)]
    for k in (1, 3, 4):
        counts, skipped = kmer_counts(seqs, k)
        index = {"".join(t): i for i, t in enumerate(product("ACGT", repeat=k))}
        for row, s in enumerate(seqs):
            windows = [s[i:i + k] for i in range(len(s) - k + 1)]
            good = Counter(w for w in windows if "N" not in w)
            expected = np.zeros(4**k, dtype=np.int64)
            for w, c in good.items():
                expected[index[w]] = c
            assert counts[row].toarray().ravel().tolist() == expected.tolist(), (k, s)
            assert skipped[row] == sum("N" in w for w in windows)


# --- NCD and kNN ------------------------------------------------------------------------------------


def test_ncd_exact_against_direct_computation():
    x, y, z = b"ACGTACGTACGTACGTACGT", b"TTGCATTGCATTGCA", b"GATTACA"
    direct = {
        "gzip": lambda d: zlib.compress(d, 9),
        "bz2": lambda d: bz2.compress(d, 9),
        "lzma": lambda d: lzma.compress(d, format=lzma.FORMAT_RAW,
                                        filters=[{"id": lzma.FILTER_LZMA2, "preset": 6, "dict_size": 1 << 16}]),
    }
    for name, comp in direct.items():
        def C(d: bytes, comp=comp) -> int:
            return len(comp(d))

        want = [[(C(q + r) - min(C(q), C(r))) / max(C(q), C(r)) for r in (y, z)] for q in (x, y)]
        got = ncd_matrix([x, y], [y, z], COMPRESSORS[name])
        assert got.tolist() == want, name
    # a sequence is closer to itself than to an unrelated one
    same = ncd_matrix([x], [x], COMPRESSORS["gzip"])[0, 0]
    assert same < ncd_matrix([x], [y], COMPRESSORS["gzip"])[0, 0]


def test_knn_votes_and_distance_tie_break():
    labels = np.array([0, 1, 1, 0])
    d = np.array([[0.1, 0.2, 0.3, 0.9],     # k=3: votes 0,1,1 -> 1/3, 2/3
                  [0.5, 0.1, 0.6, 0.2]])    # k=2: 1 (0.1), 0 (0.2): tie -> class 1 (smaller distance)
    p3 = knn_probs(d, labels, 3, 2)
    assert p3[0].tolist() == pytest.approx([1 / 3, 2 / 3])
    p2 = knn_probs(d, labels, 2, 2)
    assert p2[1].argmax() == 1 and p2[1] == pytest.approx([0.5, 0.5], abs=1e-8)
    assert p2[0].argmax() == 0  # nearest 0.1 (class 0) vs 0.2 (class 1)
    assert knn_probs(d, labels, 1, 3).shape == (2, 3)


def test_stratified_subsample_keeps_proportions_and_seed():
    labels = np.array([0] * 80 + [1] * 15 + [2] * 5)
    idx = stratified_subsample(labels, 20, seed=3)
    assert len(idx) == 20 and np.bincount(labels[idx]).tolist() == [16, 3, 1]
    assert idx.tolist() == stratified_subsample(labels, 20, seed=3).tolist()
    assert idx.tolist() != stratified_subsample(labels, 20, seed=4).tolist()
    assert stratified_subsample(labels, 500, seed=0).tolist() == list(range(100))


# --- CNN --------------------------------------------------------------------------------------------


def test_cnn_output_does_not_depend_on_padding():
    import torch

    torch.manual_seed(0)
    model = SmallCNN(2).eval()
    alone = _Encoded(["ACGTTGCANNAGT"])
    padded = _Encoded(["ACGTTGCANNAGT", "A" * 40])
    with torch.no_grad():
        a = model(*alone.batch(torch.tensor([0])))
        b = model(*padded.batch(torch.tensor([0, 1])))[:1]
    assert torch.allclose(a, b, atol=1e-6)


# --- run_baseline -----------------------------------------------------------------------------------


FAST = {"kmer_lr": {"ks": (3, 6), "Cs": (0.1, 1.0)}, "cnn": {"max_epochs": 12, "max_seconds": None},
        "ncd_knn": {"max_train": 200}}


@pytest.mark.parametrize("name", ["kmer_lr", "cnn"])
def test_motif_task_is_learned(name, motif_task):
    train, dev, test = motif_task
    fit = run_baseline(name, train, dev, test, 2, seed=0, **FAST[name])
    assert isinstance(fit, BaselineFit) and fit.probs.shape == (150, 2) and fit.probs.dtype == np.float64
    assert classification_metrics(test.labels, fit.probs)["accuracy"] >= 0.9
    assert fit.train_seconds > 0 and fit.parameters > 0 and "dev mcc" in fit.details


@pytest.mark.parametrize("name", BASELINES)
def test_test_labels_never_read_and_runs_reproducible(name, motif_task):
    train, dev, test = motif_task
    first = run_baseline(name, train, dev, test, 2, seed=0, **FAST[name])
    again = run_baseline(name, train, dev, _shuffled_labels(test), 2, seed=0, **FAST[name])
    assert np.array_equal(first.probs, again.probs)
    assert first.details == again.details and first.parameters == again.parameters


def test_kmer_lr_selects_on_dev(motif_task):
    train, dev, test = motif_task
    # 1-mer frequencies cannot see the motif; 6-mers can: dev must pick k=6
    fit = run_baseline("kmer_lr", train, dev, test, 2, ks=(1, 6), Cs=(1.0,))
    assert fit.details.startswith("k=6, C=1,")
    assert fit.parameters == 4**6 + 1
    assert "6-mers with non-ACGT skipped: train 0, dev 0, test 0" in fit.details


def test_ncd_knn_details_and_parameters(motif_task):
    train, dev, test = motif_task
    fit = run_baseline("ncd_knn", train, dev, test, 2, max_train=100, neighbours=(1, 3), compressor="bz2")
    assert fit.parameters == 100
    assert "train 100 of 600 sequences (stratified subsample, seed 0)" in fit.details
    assert "compressor bz2" in fit.details and "dev 150 of 150;" not in fit.details
    row_sums = fit.probs.sum(axis=1)
    assert np.allclose(row_sums, 1.0)


def test_multiclass_with_class_missing_from_train():
    rng = np.random.default_rng(0)
    motifs = ["AAAAAAAA", "CCCCCCCC", "GGGGGGGG"]

    def split(name, n, classes):
        labels = np.array([classes[i % len(classes)] for i in range(n)], dtype=np.int64)
        seqs = ["".join(rng.choice(list("ACGT"), size=20)) + motifs[y] for y in labels]
        return Split(name, seqs, labels)

    train, dev, test = split("train", 60, [0, 1]), split("dev", 20, [0, 1]), split("test", 9, [0, 1, 2])
    fit = run_baseline("kmer_lr", train, dev, test, 4, ks=(4,), Cs=(1.0,))
    assert fit.probs.shape == (9, 4) and np.all(fit.probs[:, 2:] == 0)


def test_errors():
    seqs = ["ACGT"] * 4
    cls = Split("train", seqs, np.array([0, 1, 0, 1]))
    reg = Split("train", seqs, np.array([0.5, 1.0, 2.0, 3.0], dtype=np.float32))
    multi = Split("train", seqs, np.zeros((4, 3), dtype=np.float32))
    with pytest.raises(ConfigError, match=r"unknown baseline 'svm'; choose one of kmer_lr, cnn, ncd_knn"):
        run_baseline("svm", cls, cls, cls, 2)
    with pytest.raises(ConfigError, match=r"baseline 'kmer_lr' supports classification .* task is regression"):
        run_baseline("kmer_lr", reg, reg, reg, 0)
    with pytest.raises(ConfigError, match=r"task is regression"):  # the task kind is named before the metric
        run_baseline("kmer_lr", reg, reg, reg, 0, select_metric="spearman")
    with pytest.raises(ConfigError, match=r"baseline 'cnn' supports classification .* multilabel"):
        run_baseline("cnn", multi, multi, multi, 3)
    with pytest.raises(ConfigError, match=r"baseline 'ncd_knn' supports classification .* task is multilabel"):
        run_baseline("ncd_knn", cls, cls, cls, 2, kind="multilabel")
    with pytest.raises(ConfigError, match=r"unknown option\(s\) C for baseline 'kmer_lr'; it accepts ks, Cs"):
        run_baseline("kmer_lr", cls, cls, cls, 2, C=1.0)
    with pytest.raises(ConfigError, match="select_metric must be one of mcc"):
        run_baseline("kmer_lr", cls, cls, cls, 2, select_metric="r2")
    with pytest.raises(ConfigError, match="compressor must be one of gzip, bz2, lzma, got 'zip'"):
        run_baseline("ncd_knn", cls, cls, cls, 2, compressor="zip")
    with pytest.raises(ConfigError, match="train split holds a single class"):
        run_baseline("kmer_lr", Split("train", seqs, np.zeros(4, dtype=np.int64)), cls, cls, 2)
    with pytest.raises(ConfigError, match=r"dev split: labels must lie in 0..1"):
        run_baseline("kmer_lr", cls, Split("dev", seqs, np.array([0, 1, 2, 0])), cls, 2)
