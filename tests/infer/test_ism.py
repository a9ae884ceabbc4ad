"""In-silico mutagenesis: rows, scores equal to individual variant scoring, tracks and heatmap."""

from __future__ import annotations

import numpy as np
import pytest

from genoseq.errors import DependencyError, InputError
from genoseq.infer.ism import heatmap_matrix, ism, parse_region, plot_heatmap, position_track, write_track
from genoseq.infer.variants import score_variants


def test_ism_rows_and_scores(toy_lm, toy_genome):
    g = toy_genome["chr1"]
    table = ism(toy_lm, toy_genome, "chr1:40-45", window=21, deletions=True)
    assert len(table) == 5 * 4
    assert table["offset"] == [p for p in range(40, 45) for _ in range(4)]
    assert table["kind"] == ["snv", "snv", "snv", "del"] * 5
    assert all(r["ref"] == g[r["offset"]] for r in table if r["kind"] == "snv")
    # the same variants scored one by one give the same numbers
    singles = score_variants(toy_lm, toy_genome, [(r["chrom"], r["pos"], r["ref"], r["alt"]) for r in table],
                             window=21, fast=False)
    np.testing.assert_allclose(table["score"], singles["llr_sum"], atol=1e-10)
    pos, mat = heatmap_matrix(table)
    assert pos.tolist() == list(range(40, 45))
    assert all(np.isnan(mat["ACGT".index(g[p]), j]) for j, p in enumerate(pos))
    assert np.isfinite(mat).sum() == 15


def test_track_and_heatmap_files(tmp_path, toy_lm, toy_genome):
    table = ism(toy_lm, toy_genome, ("chr1", 0, 6), window=21)
    chrom, pos, val = position_track(table)
    assert chrom == "chr1" and pos.tolist() == list(range(6))
    np.testing.assert_allclose(val[0], np.mean([r["score"] for r in table if r["offset"] == 0]))
    lines = write_track(table, tmp_path / "t.bedgraph").read_text().splitlines()
    assert lines[0].startswith("track type=bedGraph") and lines[1].split("\t")[:3] == ["chr1", "0", "1"]
    try:
        import pyBigWig  # noqa: F401
    except ImportError:
        with pytest.raises(DependencyError, match="bigwig"):
            write_track(table, tmp_path / "t.bw")
    png = plot_heatmap(table, tmp_path / "h.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_region_errors(toy_lm, toy_genome):
    assert parse_region("chr1:1,000-2,000") == ("chr1", 1000, 2000)
    with pytest.raises(InputError, match="chrom:start-end"):
        parse_region("chr1-5")
    with pytest.raises(InputError, match="outside the contig"):
        ism(toy_lm, toy_genome, "chr2:10-40")
    with pytest.raises(InputError, match="not in the genome"):
        ism(toy_lm, toy_genome, "chr9:1-4")
