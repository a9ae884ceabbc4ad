"""Normalised compression distance and the ``ncd_knn`` baseline (compressor + k-nearest neighbours, as in
"DNA Sequence Classification with Compressors" and the gzip text classifier it follows).

``NCD(x, y) = (C(xy) - min(C(x), C(y))) / max(C(x), C(y))``, ``C`` the compressed length in bytes and ``xy``
the plain concatenation (query first, training sequence second). Compressors (all header sizes included):

- ``gzip``: ``zlib.compress(data, 9)`` (deflate level 9, zlib container);
- ``bz2``: ``bz2.compress(data, 9)``;
- ``lzma``: ``lzma.compress`` of a raw LZMA2 stream (preset 6, 64 KiB dictionary, no .xz container, whose
  ~60 header bytes would dominate short sequences; the small dictionary only bounds allocation: inputs
  here are far shorter).
"""

from __future__ import annotations

import bz2
import lzma
import time
import zlib
from collections.abc import Callable, Sequence

import numpy as np

from genoseq.errors import ConfigError
from genoseq.eval._select import SelectionScore, is_better, stratified_subsample

COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": lambda data: zlib.compress(data, 9),
    "bz2": lambda data: bz2.compress(data, 9),
    "lzma": lambda data: lzma.compress(
        data, format=lzma.FORMAT_RAW, filters=[{"id": lzma.FILTER_LZMA2, "preset": 6, "dict_size": 1 << 16}]
    ),
}
DEFAULT_NEIGHBOURS = (1, 3, 5, 7, 9)


def compressed_sizes(sequences: Sequence[bytes], compress: Callable[[bytes], bytes]) -> np.ndarray:
    """(N,) compressed length of each sequence; a sequence repeated in the list is compressed once."""
    cache: dict[bytes, int] = {}
    out = np.empty(len(sequences), dtype=np.float64)
    for i, s in enumerate(sequences):
        size = cache.get(s)
        if size is None:
            size = cache[s] = len(compress(s))
        out[i] = size
    return out


def ncd_matrix(
    queries: Sequence[bytes], references: Sequence[bytes], compress: Callable[[bytes], bytes],
    query_sizes: np.ndarray | None = None, reference_sizes: np.ndarray | None = None,
) -> np.ndarray:
    """(N_query, N_reference) float64 NCD of every query against every reference (one compression of
    each concatenation; single sizes computed once, or passed in)."""
    cq = compressed_sizes(queries, compress) if query_sizes is None else query_sizes
    cr = compressed_sizes(references, compress) if reference_sizes is None else reference_sizes
    joint = np.empty((len(queries), len(references)), dtype=np.float64)
    for i, q in enumerate(queries):
        joint[i] = [len(compress(q + r)) for r in references]
    lo = np.minimum(cq[:, None], cr[None, :])
    hi = np.maximum(cq[:, None], cr[None, :])
    return (joint - lo) / hi


def knn_probs(distances: np.ndarray, labels: np.ndarray, k: int, n_classes: int) -> np.ndarray:
    """Vote fractions of the k nearest references: (N_query, n_classes) float64.

    Neighbours are ranked by distance, equal distances by reference order. A tie between classes in the
    vote goes to the class whose tied voters have the smaller summed distance: that class gets 1e-9 more,
    and each row is renormalised to sum to 1.
    """
    k = min(k, distances.shape[1])
    nearest = np.argsort(distances, axis=1, kind="stable")[:, :k]  # (N, k)
    near_labels = labels[nearest]
    near_dist = np.take_along_axis(distances, nearest, axis=1)
    votes = np.zeros((len(distances), n_classes), dtype=np.float64)
    dist_sum = np.zeros_like(votes)
    rows = np.repeat(np.arange(len(distances)), k)
    np.add.at(votes, (rows, near_labels.ravel()), 1.0)
    np.add.at(dist_sum, (rows, near_labels.ravel()), near_dist.ravel())
    probs = votes / k
    top = votes == votes.max(axis=1, keepdims=True)
    tied = top.sum(axis=1) > 1
    if tied.any():
        masked = np.where(top[tied], dist_sum[tied], np.inf)
        probs[np.flatnonzero(tied), masked.argmin(axis=1)] += 1e-9
        probs /= probs.sum(axis=1, keepdims=True)
    return probs


def fit_ncd_knn(
    train_seqs: Sequence[str], train_y: np.ndarray, dev_seqs: Sequence[str], dev_y: np.ndarray,
    test_seqs: Sequence[str], n_classes: int, seed: int, score: SelectionScore,
    compressor: str = "gzip", neighbours: Sequence[int] = DEFAULT_NEIGHBOURS,
    max_train: int | None = 3000, max_dev: int | None = 2000,
) -> tuple[np.ndarray, float, int, str]:
    """k chosen on dev from ``neighbours``; ``max_train``/``max_dev`` rows kept by a stratified seeded
    subsample (``None``: all). Returns ``(test probs, train seconds, stored training sequences, details)``;
    the seconds include the dev distance matrix (model selection), not the test one."""
    if compressor not in COMPRESSORS:
        raise ConfigError(f"ncd_knn: compressor must be one of {', '.join(COMPRESSORS)}, got {compressor!r}")
    if not neighbours or min(neighbours) < 1:
        raise ConfigError(f"ncd_knn: neighbours must be positive integers, got {tuple(neighbours)}")
    compress = COMPRESSORS[compressor]
    start = time.perf_counter()
    keep = stratified_subsample(train_y, len(train_y) if max_train is None else max_train, seed)
    dev_keep = stratified_subsample(dev_y, len(dev_y) if max_dev is None else max_dev, seed)
    refs = [train_seqs[i].upper().encode("ascii", errors="replace") for i in keep]
    ref_y = np.asarray(train_y)[keep]
    ref_sizes = compressed_sizes(refs, compress)
    dev = [dev_seqs[i].upper().encode("ascii", errors="replace") for i in dev_keep]
    dev_dist = ncd_matrix(dev, refs, compress, reference_sizes=ref_sizes)
    best_value, best_k = float("nan"), int(neighbours[0])
    for k in neighbours:
        value = score(np.asarray(dev_y)[dev_keep], knn_probs(dev_dist, ref_y, int(k), n_classes))
        if is_better(value, best_value):
            best_value, best_k = value, int(k)
    seconds = time.perf_counter() - start
    test = [s.upper().encode("ascii", errors="replace") for s in test_seqs]
    probs = knn_probs(ncd_matrix(test, refs, compress, reference_sizes=ref_sizes), ref_y, best_k, n_classes)
    name = {"gzip": "gzip (zlib level 9)", "bz2": "bz2 level 9", "lzma": "lzma (raw LZMA2 preset 6)"}[compressor]
    sub = f" (stratified subsample, seed {seed})"
    details = (
        f"k={best_k}, dev {score.metric} {best_value:.4f}; compressor {name}; k grid {tuple(neighbours)}; "
        f"train {len(keep)} of {len(train_y)} sequences{sub if len(keep) < len(train_y) else ''}; "
        f"dev {len(dev_keep)} of {len(dev_y)}{sub if len(dev_keep) < len(dev_y) else ''}"
    )
    return probs, seconds, len(keep), details
