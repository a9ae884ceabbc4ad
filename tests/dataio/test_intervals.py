"""read_bed: BED3..BED12, narrowPeak, split/label columns, and errors naming file and line."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from genoseq.data.intervals import Interval, read_bed
from genoseq.errors import InputError

DATA = Path(__file__).resolve().parents[1] / "data"
HAND = DATA / "handmade"
QUIRKS = Path("/work/shared/data/parser_quirks")


def test_good_bed_skips_track_browser_comments():
    ivs = read_bed(HAND / "good.bed")
    assert ivs == [
        Interval("chr1", 0, 5, "first", 10.0, "+"),
        Interval("chr1", 3, 8, "second", None, "-"),
        Interval("chr2", 2, 10),
    ]
    assert len(ivs[0]) == 5


def test_crlf_and_gzip(tmp_path):
    assert read_bed(HAND / "crlf.bed") == [Interval("chr1", 0, 5), Interval("chr2", 1, 3)]
    gz = tmp_path / "good.bed.gz"
    gz.write_bytes(gzip.compress((HAND / "good.bed").read_bytes()))
    assert read_bed(gz) == read_bed(HAND / "good.bed")


def test_split_and_label_columns_by_header_name_and_index():
    by_name = read_bed(HAND / "split_label.bed", split_column="split", label_column="label", label_type=int)
    assert [(iv.name, iv.split, iv.label) for iv in by_name] == [
        ("a", "train", 1), ("b", "valid", 0), ("c", "test", 1), ("d", "valid", 0)
    ]
    by_index = read_bed(HAND / "split_label.bed", split_column=4, label_column=-1)
    assert [iv.split for iv in by_index] == [iv.split for iv in by_name]
    assert [iv.label for iv in by_index] == ["1", "0", "1", "0"]  # default label_type=str
    # a column used as split/label is not parsed as score / strand
    assert all(iv.score is None and iv.strand == "." for iv in by_name)


def test_standard_column_names(tmp_path):
    bed = tmp_path / "six.bed"
    bed.write_text("chr1\t0\t5\tenhancer\t3\t+\nchr1\t5\t9\tpromoter\t7\t-\n")
    assert [iv.label for iv in read_bed(bed, label_column="name")] == ["enhancer", "promoter"]
    assert [iv.label for iv in read_bed(bed, label_column="score", label_type=float)] == [3.0, 7.0]
    with pytest.raises(InputError, match=r"good.bed, line 6: no label column 4 \(line has 3 columns\)"):
        read_bed(HAND / "good.bed", label_column="name")  # the BED3 row lacks it
    with pytest.raises(InputError, match="'nope' is not a column name"):
        read_bed(HAND / "good.bed", label_column="nope")


@pytest.mark.parametrize(
    "name,pattern,kw",
    [
        ("start_gt_end.bed", r"start_gt_end.bed, line 2: start 9 > end 3; expected start <= end", {}),
        ("negative.bed", r"negative.bed, line 3: start \(column 2\) is negative \(-2\)", {}),
        ("non_integer.bed", r"non_integer.bed, line 2: start \(column 2\) is '1.5'; expected a non-negative integer", {}),
        ("too_few_columns.bed", r"too_few_columns.bed, line 2: 2 column\(s\); expected at least 3", {}),
        ("bad_strand.bed", r"bad_strand.bed, line 2: strand \(column 6\) is 'plus'; expected '\+', '-' or '.'", {}),
        ("bad_split.bed", r"bad_split.bed, line 2: split \(column 4\) is 'holdout'; expected train, valid or test",
         {"split_column": 3}),
        ("missing.bed", r"missing.bed: file not found", {}),
    ],
)
def test_bad_bed_errors_name_file_and_line(name, pattern, kw):
    with pytest.raises(InputError, match=pattern):
        read_bed(HAND / name, **kw)


def test_bad_label_type_names_line():
    with pytest.raises(InputError, match=r"split_label.bed, line 2: label \(column 4\) is 'a'"):
        read_bed(HAND / "split_label.bed", label_column="name", label_type=int)


@pytest.mark.skipif(not QUIRKS.is_dir(), reason="shared quirk files not present")
def test_real_quirk_files():
    peaks = read_bed(QUIRKS / "pybedtools" / "example.narrowPeak")
    assert len(peaks) == 3
    assert peaks[0] == Interval("chr1", 9356548, 9356648, None, 0.0, ".")
    assert peaks[0].extra == ("182", "5.0945", "-1", "50")
    bed12 = read_bed(QUIRKS / "pybedtools" / "mm9.bed12")
    assert len(bed12) == 5 and len(bed12[0].extra) == 6 and bed12[0].extra[3] == "9"
    rmsk = read_bed(QUIRKS / "pybedtools" / "rmsk.hg18.chr21.small.bed.gz")
    assert len(rmsk) == 1000 and rmsk[0] == Interval("chr21", 9719768, 9721892, "ALR/Alpha", 1004.0, "+")
    assert read_bed(QUIRKS / "pybedtools" / "hg38-problem.bed")[1].contig == "HLA-A*01:01:01:01"
    assert len(read_bed(QUIRKS / "pybedtools" / "BEAF_Kc_Bushey_2009.bed")) == 2995
    with pytest.raises(InputError, match=r"malformed.bed, line 1: 2 column\(s\)"):
        read_bed(QUIRKS / "pyfaidx" / "malformed.bed")
