"""In-silico mutagenesis: every substitution (and optionally every 1-bp deletion) in a region.

Each variant is scored with :func:`genoseq.score_variants` (any method). The three substitutions at
a position share their window, so for ``llr`` they share one prefilled prefix state and one reference
suffix (the prefix log-probabilities cancel exactly for causal models): per position the model runs
the prefix once and four suffixes (ref + 3 alts) instead of six full windows.

Outputs: a :class:`~genoseq.infer.table.ScoreTable` (one row per variant), a per-position track
(mean score of the three substitutions) as bedGraph or bigWig (needs pyBigWig), and a heatmap PNG
(bases x positions; matplotlib, imported only when plotting).
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genoseq.errors import DependencyError, InputError
from genoseq.infer.table import ScoreTable, atomic_path
from genoseq.infer.variants import score_variants
from genoseq.infer.windows import GenomeAccess, check_region

SCORE_COLUMN = {"llr": "llr_sum", "masked_llr": "masked_llr", "embedding": "emb_l2", "head": "head_diff"}
_REGION = re.compile(r"^(?P<chrom>[^:\s]+):(?P<start>[\d,]+)-(?P<end>[\d,]+)$")


def parse_region(region: str | tuple[str, int, int]) -> tuple[str, int, int]:
    """``"chrom:start-end"`` (0-based half-open, like BED; commas allowed) or a tuple -> (chrom, start, end)."""
    if isinstance(region, str):
        m = _REGION.match(region.strip())
        if not m:
            raise InputError(f"region {region!r} is not 'chrom:start-end' (0-based, end exclusive)")
        return m["chrom"], int(m["start"].replace(",", "")), int(m["end"].replace(",", ""))
    chrom, start, end = region
    return str(chrom), int(start), int(end)


def ism(
    model: torch.nn.Module,
    genome: Any,
    region: str | tuple[str, int, int],
    method: str = "llr",
    window: int | None = None,
    deletions: bool = False,
    rc_average: bool = True,
    **kwargs: Any,
) -> ScoreTable:
    """Score all substitutions (and 1-bp deletions when ``deletions``) in ``region``.

    Rows are ordered by position, then alt (A, C, G, T, then the deletion). Extra columns:
    ``offset`` (0-based genome position of the mutated base), ``kind`` (``snv``/``del``) and ``score``
    (the method's main column: llr_sum, masked_llr, emb_l2 or head_diff). Positions whose reference
    base is not A/C/G/T are left out. ``kwargs`` go to :func:`genoseq.score_variants`.
    """
    access = GenomeAccess(genome)
    chrom, start, end = parse_region(region)
    name = check_region(access, chrom, start, end)
    ref = access.tokens(name, start, end)
    bases = "ACGT"
    variants, meta = [], []
    for i, t in enumerate(ref.tolist()):
        if not 5 <= t <= 8:
            continue
        b = bases[t - 5]
        pos0 = start + i
        for alt in bases:
            if alt != b:
                variants.append((name, pos0 + 1, b, alt))
                meta.append((pos0, "snv"))
        if deletions:
            if pos0 > 0:  # VCF style: anchor base before the deleted one
                anchor = "ACGTN"[int(access.tokens(name, pos0 - 1, pos0)[0]) - 5]
                variants.append((name, pos0, anchor + b, anchor))
            elif access.lengths[name] > 1:  # first base of the contig: anchor after it
                after = "ACGTN"[int(access.tokens(name, 1, 2)[0]) - 5]
                variants.append((name, 1, b + after, after))
            else:
                continue
            meta.append((pos0, "del"))
    table = score_variants(model, access, variants, method=method, window=window, rc_average=rc_average, **kwargs)
    column = SCORE_COLUMN[method]
    if method == "head" and column not in table.columns:
        column = next(c for c in table.columns if c.startswith("head_diff"))
    for row, (pos0, kind) in zip(table.rows, meta, strict=True):
        row["offset"], row["kind"], row["score"] = pos0, kind, row.get(column)
    return ScoreTable(table.rows, table.columns + ["offset", "kind", "score"])


def position_track(table: ScoreTable) -> tuple[str, np.ndarray, np.ndarray]:
    """(chrom, positions, mean substitution score per position) from an :func:`ism` table."""
    sums: dict[int, list[float]] = {}
    for row in table:
        if row["kind"] == "snv" and row["score"] is not None and not math.isnan(row["score"]):
            sums.setdefault(row["offset"], []).append(row["score"])
    pos = np.array(sorted(sums), dtype=np.int64)
    chrom = table[0]["chrom"] if len(table) else ""
    return chrom, pos, np.array([np.mean(sums[p]) for p in pos], dtype=np.float64)


def write_track(table: ScoreTable, path: str | os.PathLike[str]) -> Path:
    """Per-position mean score as bedGraph (``.bedgraph``/``.bdg``) or bigWig (``.bw``/``.bigwig``)."""
    path = Path(path)
    chrom, pos, val = position_track(table)
    if path.suffix.lower() in (".bw", ".bigwig"):
        try:
            import pyBigWig
        except ImportError:
            raise DependencyError("pyBigWig", "bigWig output", extra="bigwig") from None
        length = int(pos.max()) + 1 if len(pos) else 1
        with atomic_path(path) as tmp:
            bw = pyBigWig.open(tmp, "w")
            bw.addHeader([(chrom, length)])
            bw.addEntries([chrom] * len(pos), pos.tolist(), ends=(pos + 1).tolist(), values=val.tolist())
            bw.close()
        return path
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        fh.write('track type=bedGraph name="genoseq ism" description="mean substitution score"\n')
        for p, v in zip(pos.tolist(), val.tolist(), strict=True):
            fh.write(f"{chrom}\t{p}\t{p + 1}\t{v:.6g}\n")
    return path


def heatmap_matrix(table: ScoreTable) -> tuple[np.ndarray, np.ndarray]:
    """(positions (P,), scores (4, P)) with rows A, C, G, T; the reference base's cell is NaN."""
    snv = [r for r in table if r["kind"] == "snv"]
    pos = np.array(sorted({r["offset"] for r in snv}), dtype=np.int64)
    col = {p: j for j, p in enumerate(pos.tolist())}
    mat = np.full((4, len(pos)), np.nan)
    for r in snv:
        if r["score"] is not None:
            mat["ACGT".index(r["alt"].upper()), col[r["offset"]]] = r["score"]
    return pos, mat


def plot_heatmap(table: ScoreTable, path: str | os.PathLike[str], title: str | None = None) -> Path:
    """Save a bases x positions heatmap PNG of the substitution scores (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pos, mat = heatmap_matrix(table)
    width = min(40.0, 2 + 0.12 * len(pos))
    fig, ax = plt.subplots(figsize=(width, 2.4))
    lim = float(np.nanmax(np.abs(mat))) if np.isfinite(mat).any() else 1.0
    im = ax.imshow(mat, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    ax.set_yticks(range(4), list("ACGT"))
    step = max(1, len(pos) // 10)
    ax.set_xticks(range(0, len(pos), step), [str(p) for p in pos[::step]])
    ax.set_xlabel("position (0-based)")
    ax.set_title(title or f"ISM {table[0]['chrom'] if len(table) else ''}")
    fig.colorbar(im, ax=ax, fraction=0.02)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return path
