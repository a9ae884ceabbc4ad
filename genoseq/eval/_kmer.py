"""k-mer count features (vectorised, scipy sparse) and the ``kmer_lr`` baseline.

Columns of the k-mer matrices are the 4**k k-mers in lexicographic order over ``ACGT`` (``A=0, C=1, G=2,
T=3``, first base most significant: for k=2 column 0 is ``AA``, column 1 ``AC``, column 4 ``CA``).
Sequences are upper-cased first; every overlapping window of k bases is counted, except windows holding
a base other than A/C/G/T (``N``, IUPAC codes, ...), which are skipped and counted separately.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from genoseq.errors import ConfigError
from genoseq.eval._select import SelectionScore, fill_probs, is_better

DEFAULT_KS = (3, 4, 5, 6)
DEFAULT_CS = (0.001, 0.01, 0.1, 1.0)

_CODES = np.full(256, 4, dtype=np.uint8)
for _i, _base in enumerate("ACGT"):
    _CODES[ord(_base)] = _i
    _CODES[ord(_base.lower())] = _i


def encode(sequences: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """All sequences as one code array.

    Returns:
        codes: (sum of lengths,) uint8, ``A/C/G/T`` (either case) -> 0..3, anything else -> 4.
        lengths: (N,) int64 sequence lengths.
    """
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    joined = "".join(sequences).encode("ascii", errors="replace")  # non-ASCII -> '?' -> code 4
    return _CODES[np.frombuffer(joined, dtype=np.uint8)], lengths


def kmer_counts(sequences: Sequence[str], k: int) -> tuple[sp.csr_matrix, np.ndarray]:
    """Overlapping k-mer counts.

    Args:
        sequences: N DNA sequences (any length; shorter than k gives an empty row).
        k: k-mer length, 1..12.

    Returns:
        counts: (N, 4**k) CSR int64 matrix of k-mer occurrences (column order in the module docstring).
        skipped: (N,) int64 number of windows per sequence skipped because they hold a non-ACGT base.
    """
    if not 1 <= k <= 12:
        raise ValueError(f"k must lie in 1..12, got {k}")
    codes, lengths = encode(sequences)
    n = len(lengths)
    starts = np.concatenate([[0], np.cumsum(lengths)])
    windows = np.maximum(lengths - k + 1, 0)  # (N,) windows per sequence
    total = int(windows.sum())
    row = np.repeat(np.arange(n, dtype=np.int64), windows)
    # start position of every window: the sequence start plus 0..windows-1
    offset = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(windows) - windows, windows)
    pos = starts[:-1][row] + offset  # (total,)
    padded = np.concatenate([codes, np.zeros(k, dtype=np.uint8)])
    index = np.zeros(total, dtype=np.int64)
    for j in range(k):
        index = index * 4 + (padded[pos + j] & 3)
    bad = np.concatenate([[0], np.cumsum(codes == 4, dtype=np.int64)])
    valid = bad[pos + k] == bad[pos]
    skipped = windows - np.bincount(row[valid], minlength=n)
    counts = sp.csr_matrix(
        (np.ones(int(valid.sum()), dtype=np.int64), (row[valid], index[valid])), shape=(n, 4**k)
    )
    counts.sum_duplicates()
    return counts, skipped.astype(np.int64)


def kmer_frequencies(sequences: Sequence[str], k: int) -> tuple[sp.csr_matrix, np.ndarray]:
    """k-mer counts divided by each sequence's number of counted windows (rows sum to 1, or 0 when none
    was counted). Returns ``(frequencies (N, 4**k) CSR float64, skipped (N,))``."""
    counts, skipped = kmer_counts(sequences, k)
    totals = np.asarray(counts.sum(axis=1)).ravel().astype(np.float64)
    scale = np.divide(1.0, totals, out=np.zeros_like(totals), where=totals > 0)
    return sp.csr_matrix(sp.diags(scale) @ counts.astype(np.float64)), skipped


def fit_kmer_lr(
    train_seqs: Sequence[str], train_y: np.ndarray, dev_seqs: Sequence[str], dev_y: np.ndarray,
    test_seqs: Sequence[str], n_classes: int, seed: int, score: SelectionScore,
    ks: Sequence[int] = DEFAULT_KS, Cs: Sequence[float] = DEFAULT_CS, max_iter: int = 1000,
) -> tuple[np.ndarray, float, int, str]:
    """Grid over ``ks`` x ``Cs`` on dev; returns ``(test probs (N_test, C), train seconds, parameters,
    details)``. Features: k-mer frequencies, scaled to unit variance on train (``StandardScaler`` without
    centring, which keeps them sparse; with an unpenalised intercept, centring would not change the fit),
    then L2 ``LogisticRegression`` (lbfgs)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if not ks or not Cs or min(ks) < 1 or max(ks) > 12 or min(Cs) <= 0:
        raise ConfigError(f"kmer_lr: need ks in 1..12 and Cs > 0, got ks={tuple(ks)}, Cs={tuple(Cs)}")
    start = time.perf_counter()
    best: tuple[float, int, float, object] | None = None
    unconverged = 0
    skipped: dict[int, tuple[int, int]] = {}  # k -> windows skipped in train, dev
    for k in ks:
        x_train, skip_train = kmer_frequencies(train_seqs, int(k))
        x_dev, skip_dev = kmer_frequencies(dev_seqs, int(k))
        skipped[int(k)] = (int(skip_train.sum()), int(skip_dev.sum()))
        for c in Cs:
            model = make_pipeline(
                StandardScaler(with_mean=False),
                LogisticRegression(C=float(c), max_iter=max_iter, random_state=seed),
            )
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                model.fit(x_train, train_y)
            unconverged += any(issubclass(w.category, ConvergenceWarning) for w in caught)
            value = score(dev_y, fill_probs(model.predict_proba(x_dev), model.classes_, n_classes))
            if best is None or is_better(value, best[0]):
                best = (value, int(k), float(c), model)
    seconds = time.perf_counter() - start
    value, k, c, model = best
    x_test, skip_test = kmer_frequencies(test_seqs, k)
    probs = fill_probs(model.predict_proba(x_test), model.classes_, n_classes)
    lr = model[-1]
    parameters = int(lr.coef_.size + lr.intercept_.size)
    details = (
        f"k={k}, C={c:g}, dev {score.metric} {value:.4f}; grid k {tuple(int(v) for v in ks)} x "
        f"C {tuple(float(v) for v in Cs)}; {k}-mers with non-ACGT skipped: train {skipped[k][0]}, "
        f"dev {skipped[k][1]}, test {int(skip_test.sum())}"
    )
    if unconverged:
        details += f"; {unconverged} fits stopped at max_iter={max_iter}"
    return probs, seconds, parameters, details
