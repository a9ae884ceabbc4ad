"""read_token_labels: genome FASTA + BED of labelled intervals -> exact per-base targets; strict errors."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pytest

from genoseq.data.genome import Genome
from genoseq.data.intervals import Interval
from genoseq.data.token_tasks import IGNORE, read_token_labels
from genoseq.errors import ConfigError, InputError

X = IGNORE


@pytest.fixture
def genome(tmp_path: Path) -> Genome:
    fa = tmp_path / "g.fa"
    fa.write_text(">chrA desc\n" + "ACGTACGTAC\nGTACGTACGT\n" + ">chrB\nAAAAACCCCC\n")  # 20 bp, 10 bp
    return Genome(fa, use_cache=False)


def bed(tmp_path: Path, text: str, name: str = "labels.bed") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


GOOD = """track name=toy
# a comment
chrA\t2\t5\texon
chrA\t4\t8\texon
chrA\t8\t10\tintron
chrA\t12\t12\texon
chrB\t0\t3\tintron\t0\t-
"""


def test_per_base_classes_background_edges_and_skips(tmp_path, genome):
    lab = read_token_labels(bed(tmp_path, GOOD), genome, background="bg")
    assert lab.classes == ["bg", "exon", "intron"]  # background first (id 0), then sorted
    assert lab.n_outputs == 3 and lab.n_intervals == 4
    assert lab.skipped == {"empty interval (start == end)": 1}
    # same-class overlap (lines 3, 4) merged; touching different classes (8) allowed
    assert lab.labels("chrA", 0, 20).tolist() == [0, 0, 1, 1, 1, 1, 1, 1, 2, 2] + [0] * 10
    assert lab.labels("chrA", 3, 9).tolist() == [1, 1, 1, 1, 1, 2]
    # window edges: outside the contig is never scored
    assert lab.labels("chrA", -2, 3).tolist() == [X, X, 0, 0, 1]
    assert lab.labels("chrA", 17, 23).tolist() == [0, 0, 0, X, X, X]
    assert lab.labels("chrB", 0, 10).tolist() == [2, 2, 2] + [0] * 7
    assert lab.labels("chrB", 5, 5).tolist() == []
    whole = [Interval("chrA", 0, 20), Interval("chrB", 0, 10)]
    assert lab.counts(whole) == {"bg": 19, "exon": 6, "intron": 5}
    assert lab.counts([Interval("chrA", 3, 9)]) == {"exon": 5, "intron": 1}


def test_no_background_leaves_uncovered_bases_unscored(tmp_path, genome):
    lab = read_token_labels(bed(tmp_path, GOOD), genome, background=None)
    assert lab.classes == ["exon", "intron"]
    assert lab.labels("chrA", 0, 12).tolist() == [X, X, 0, 0, 0, 0, 0, 0, 1, 1, X, X]
    assert lab.counts([Interval("chrB", 0, 10)]) == {"intron": 3, "not scored": 7}


def test_gzip_crlf_and_space_separated(tmp_path, genome):
    gz = tmp_path / "labels.bed.gz"
    gz.write_bytes(gzip.compress(GOOD.replace("\t", " ").replace("\n", "\r\n").encode()))
    lab = read_token_labels(gz, genome, background="bg")
    assert lab.labels("chrA", 0, 12).tolist() == [0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 0, 0]


def test_overlapping_classes_error_names_both_lines(tmp_path, genome):
    p = bed(tmp_path, "chrA\t0\t10\texon\nchrA\t1\t2\texon\nchrA\t9\t12\tintron\n")
    with pytest.raises(InputError) as err:
        read_token_labels(p, genome)
    msg = str(err.value)
    assert msg.startswith(f"{p}: lines 1 and 3 overlap with different classes: chrA:0-10 'exon' and chrA:9-12 "
                          "'intron'")
    assert "data.label_priority" in msg
    # one class in the priority list is not enough
    with pytest.raises(InputError, match="lines 1 and 3 overlap"):
        read_token_labels(p, genome, priority=["exon"])


def test_priority_decides_overlaps(tmp_path, genome):
    p = bed(tmp_path, "chrA\t0\t10\texon\nchrA\t5\t12\tintron\n")
    first = read_token_labels(p, genome, background="bg", priority=["intron", "exon"])
    assert first.labels("chrA", 0, 14).tolist() == [1] * 5 + [2] * 7 + [0, 0]
    second = read_token_labels(p, genome, background="bg", priority=["exon", "intron"])
    assert second.labels("chrA", 0, 14).tolist() == [1] * 10 + [2] * 2 + [0, 0]
    with pytest.raises(ConfigError, match=r"label priority names \['utr'\] but .* has the classes"):
        read_token_labels(p, genome, priority=["utr", "exon"])


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        ("chrA\t0\t5\texon\nchrA\t5\t6\tintron\nchrZ\t0\t5\texon\n", 3,
         "unknown contig 'chrZ'; the genome has 2 contigs: chrA, chrB; expected a contig of the genome FASTA"),
        ("chrB\t5\t11\texon\n", 1, "end 11 is past the end of contig 'chrB' (10 bp)"),
        ("chrA\t0\t5\n", 1, "3 column(s); expected a class name in column 4 (data.label_column)"),
        ("chrA\t0\t5\t.\n", 1, "class (column 4) is '.'; expected a class name"),
        ("chrA\tzero\t5\texon\n", 1, "start (column 2) is 'zero'; expected a non-negative integer"),
        ("chrA\t6\t5\texon\n", 1, "start 6 > end 5"),
    ],
)
def test_strict_errors_name_file_and_line(tmp_path, genome, text, line, expected):
    p = bed(tmp_path, text)
    with pytest.raises(InputError) as err:
        read_token_labels(p, genome)
    assert str(err.value).startswith(f"{p}, line {line}: ")
    assert expected in str(err.value)


def test_file_and_class_count_errors(tmp_path, genome):
    with pytest.raises(InputError, match="file not found; expected a BED file of labelled intervals"):
        read_token_labels(tmp_path / "missing.bed", genome)
    with pytest.raises(InputError, match="no intervals; expected at least one labelled BED record"):
        read_token_labels(bed(tmp_path, "track x\n"), genome)
    with pytest.raises(ConfigError, match="at least two classes, got \\['exon'\\]"):
        read_token_labels(bed(tmp_path, "chrA\t0\t5\texon\n"), genome, background=None)
    with pytest.raises(ConfigError, match="label_column is 1-based and must be >= 4"):
        read_token_labels(bed(tmp_path, "chrA\t0\t5\texon\n"), genome, label_column=3)


def test_regression_values_from_bedgraph_and_score_column(tmp_path, genome):
    p = bed(tmp_path, "chrA\t0\t4\t1.5\nchrA\t4\t6\t-2\nchrA\t8\t9\t.\nchrA\t3\t4\t1.5\n")
    lab = read_token_labels(p, genome, task="regression", background=None)
    assert lab.classes is None and lab.n_outputs == 1
    assert lab.skipped == {"no value (., NA, nan or empty)": 1}
    got = lab.labels("chrA", 0, 10)
    assert got.dtype == np.float32
    assert got[:6].tolist() == [1.5, 1.5, 1.5, 1.5, -2.0, -2.0] and all(math.isnan(v) for v in got[6:])
    zero = read_token_labels(p, genome, task="regression", background=0)
    assert zero.labels("chrA", 5, 8).tolist() == [-2.0, 0.0, 0.0]
    assert math.isnan(zero.labels("chrA", 19, 21)[1])  # off-contig: not scored
    score = read_token_labels(bed(tmp_path, "chrB\t1\t3\tpeak\t7\t+\n", "s.bed"), genome, label_column=5,
                              task="regression", background=0.0)
    assert score.labels("chrB", 0, 4).tolist() == [0.0, 7.0, 7.0, 0.0]


def test_regression_errors(tmp_path, genome):
    with pytest.raises(InputError) as err:
        read_token_labels(bed(tmp_path, "chrA\t0\t4\t1\nchrA\t2\t6\t2\n"), genome, task="regression", background=None)
    assert "lines 1 and 2 overlap with different values: chrA:0-4 1.0 and chrA:2-6 2.0" in str(err.value)
    with pytest.raises(InputError, match=r"line 2: value \(column 4\) is 'high'; expected a number"):
        read_token_labels(bed(tmp_path, "chrA\t0\t4\t1\nchrA\t4\t6\thigh\n"), genome, task="regression",
                          background=None)
    with pytest.raises(ConfigError, match="token regression needs a numeric background"):
        read_token_labels(bed(tmp_path, "chrA\t0\t4\t1\n"), genome, task="regression", background="other")
