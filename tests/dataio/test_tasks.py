"""read_task: GUE-style split folders, single files, GenomicBenchmarks layouts, BED + genome, kinds,
class mapping, row limits, skips and error messages."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import numpy as np
import pytest

from genoseq.data.tasks import Task, read_task
from genoseq.errors import InputError
from genoseq.tokenizer import reverse_complement_str

DATA = Path(__file__).resolve().parents[1] / "data" / "tasks"
GUE = Path(__file__).resolve().parents[3] / "shared" / "data" / "benchmarks" / "gue"

CHR1 = "ACGTACGTAACCGGTTAACCGGATCCAAGTTTGACCAGTACGATCGATCGGGCCTTAAGG"  # tests/data/tasks/tiny.fa
CHR2 = "TTTTGGGGCCCCAAAANNNNACGT"


class StubGenome:
    def __init__(self) -> None:
        self.seqs = {"chr1": CHR1, "chr2": CHR2}

    @property
    def contigs(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.seqs.items()}

    def fetch(self, contig: str, start: int, end: int, strand: str = "+") -> str:
        if contig not in self.seqs or end > len(self.seqs[contig]):
            raise InputError(f"{contig}:{start}-{end} is not in the genome")
        seq = self.seqs[contig][start:end]
        return reverse_complement_str(seq) if strand == "-" else seq


def genome_for_test(tmp_path: Path):
    """DATA-A's Genome when present (cache kept out of the repo), else the stub."""
    try:
        from genoseq.data.genome import Genome
    except ImportError:
        return StubGenome()
    return Genome(DATA / "tiny.fa", cache_dir=tmp_path)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


# ----------------------------------------------------------------------------- GUE / NT style


def test_gue_split_folder() -> None:
    task = read_task(DATA / "gue_mouse_3_small")
    assert isinstance(task, Task)
    assert list(task.splits) == ["train", "dev", "test"]
    assert [len(task[s]) for s in ("train", "dev", "test")] == [12, 6, 6]
    assert task.kind == "binary" and task.classes == ["0", "1"] and task.n_classes == 2 == task.n_outputs
    assert task.class_to_id == {"0": 0, "1": 1}
    assert task["train"].labels.dtype == np.int64
    assert task["train"].labels.tolist() == [1, 0, 0, 0, 0, 1, 0, 1, 1, 1, 1, 0]
    assert task["dev"].labels.tolist() == [0, 1, 0, 0, 1, 1]
    assert task["train"].sequences[0].startswith("AAAAAGCCTGTGAAGCACAGAGAGCAGCCA")
    assert task["dev"].sequences[0].startswith("TCCATGTGTCATCATGGACAGGCTTGTAAT")
    assert task["train"].lines[0].endswith("train.csv.gz:2")
    assert task.name == "gue_mouse_3_small"
    with pytest.raises(InputError, match=r"has no split 'valid'"):
        task["valid"]


def test_single_file_is_one_split_and_max_rows() -> None:
    task = read_task(DATA / "gue_mouse_3_small" / "train.csv.gz", max_rows=5)
    assert list(task.splits) == ["train"] and len(task["train"]) == 5
    assert task["train"].labels.tolist() == [1, 0, 0, 0, 0]
    assert task.max_rows == 5 and "limited to 5 rows per split" in task.report()
    assert task.name == "gue_mouse_3_small"


def test_valid_is_read_as_dev_and_tsv(tmp_path: Path) -> None:
    write(tmp_path / "t" / "train.tsv", "sequence\tlabel\nACGT\tcat\nGGCC\tdog\nTTAA\tbird\n")
    write(tmp_path / "t" / "valid.tsv.gz", "sequence\tlabel\nACGA\tdog\n")
    task = read_task(tmp_path / "t")
    assert list(task.splits) == ["train", "dev"]
    assert task.kind == "multiclass" and task.classes == ["bird", "cat", "dog"]
    assert task["train"].labels.tolist() == [1, 2, 0] and task["dev"].labels.tolist() == [2]


def test_integer_classes_sorted_numerically_and_fixed_mapping(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "sequence,label\nACGT,10\nACGT,2\nACGT,1\nACGT,2\n")
    task = read_task(path)
    assert task.classes == ["1", "2", "10"] and task["all"].labels.tolist() == [2, 1, 0, 1]
    fixed = read_task(path, classes=["10", "2", "1", "7"])
    assert fixed["all"].labels.tolist() == [0, 1, 2, 1] and fixed.n_classes == 4
    again = read_task(path, classes=task.to_dict())
    assert again.class_to_id == task.class_to_id
    bad = write(tmp_path / "y.csv", "sequence,label\nACGT,3\n")
    with pytest.raises(InputError, match=r"y.csv, line 2: label '3' is not one of the classes \['1', '2', '10'\]"):
        read_task(bad, classes=task.classes)


def test_to_dict_and_save_json(tmp_path: Path) -> None:
    task = read_task(DATA / "gue_mouse_3_small")
    out = tmp_path / "task.json"
    task.save_json(out)
    saved = json.loads(out.read_text())
    assert saved["classes"] == ["0", "1"] and saved["class_to_id"] == {"0": 0, "1": 1}
    assert saved["kind"] == "binary" and saved["splits"] == {"train": 12, "dev": 6, "test": 6}
    assert [p.name for p in tmp_path.iterdir()] == ["task.json"]  # no temp file left


def test_regression_and_multilabel_kinds(tmp_path: Path) -> None:
    reg = read_task(write(tmp_path / "r.csv", "sequence,label\nACGT,0.5\nGGTA,-1.25\nAAAA,3\n"))
    assert reg.kind == "regression" and reg.n_classes == 0 and reg.n_outputs == 1
    assert reg["all"].labels.dtype == np.float32 and reg["all"].labels.tolist() == [0.5, -1.25, 3.0]
    ml = read_task(write(tmp_path / "m.csv", "sequence,label\nACGT,b;a\nGGTA,c\nAAAA,a\n"))
    assert ml.kind == "multilabel" and ml.classes == ["a", "b", "c"]
    assert ml["all"].labels.tolist() == [[1, 1, 0], [0, 0, 1], [1, 0, 0]]
    cols = read_task(write(tmp_path / "c.csv", "sequence,h3k4,ctcf\nACGT,1,0\nGGTA,0,0\n"),
                     label_column=["h3k4", "ctcf"])
    assert cols.kind == "multilabel" and cols.classes == ["h3k4", "ctcf"] and cols["all"].labels.shape == (2, 2)
    targets = read_task(write(tmp_path / "t.csv", "sequence,a,b\nACGT,0.5,2\nGGTA,1,3.5\n"), label_column=["a", "b"])
    assert targets.kind == "regression" and targets.n_outputs == 2
    assert targets["all"].labels.tolist() == [[0.5, 2.0], [1.0, 3.5]]
    forced = read_task(write(tmp_path / "f.csv", "sequence,label\nACGT,1\nGGTA,2\n"), kind="regression")
    assert forced["all"].labels.tolist() == [1.0, 2.0]


# ----------------------------------------------------------------------------- bad input


def test_missing_column(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "sequence,target\nACGT,1\n")
    with pytest.raises(InputError) as err:
        read_task(path)
    assert err.value.path == str(path) and err.value.line == 1
    assert "missing column 'label'" in str(err.value) and "['sequence', 'target']" in str(err.value)


def test_headerless_file_says_add_a_header(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"line 1: missing column .*looks like data: add a header line"):
        read_task(write(tmp_path / "a.csv", "ACGTACGT,1\nGGCC,0\n"))


def test_wrong_delimiter(tmp_path: Path) -> None:
    path = write(tmp_path / "train.csv", "sequence\tlabel\nACGT\t1\n")
    with pytest.raises(InputError, match=r"train.csv, line 1: .*tab-separated but comma-separated .*delimiter='\\t'"):
        read_task(path)
    assert len(read_task(path, delimiter="\t")["train"]) == 1


def test_empty_sequence_and_invalid_nucleotide(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"e.csv, line 3: empty sequence"):
        read_task(write(tmp_path / "e.csv", "sequence,label\nACGT,1\n,0\n"))
    with pytest.raises(InputError) as err:
        read_task(write(tmp_path / "i.csv", "sequence,label\nACGT,1\nACXT,0\n"))
    assert err.value.line == 3 and "invalid nucleotide 'X'" in str(err.value) and "position 2" in str(err.value)


def test_non_numeric_regression_label(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"r.csv, line 3: label 'high' is not a number"):
        read_task(write(tmp_path / "r.csv", "sequence,label\nACGT,1.5\nGGTT,high\n"), kind="regression")


def test_wrong_field_count_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"w.csv, line 2: expected 2 comma-separated fields"):
        read_task(write(tmp_path / "w.csv", "sequence,label\nACGT,1,extra\n"))
    with pytest.raises(InputError, match=r"z.csv: empty file"):
        read_task(write(tmp_path / "z.csv", ""))
    with pytest.raises(InputError, match=r"h.csv: no labelled rows"):
        read_task(write(tmp_path / "h.csv", "sequence,label\n"))
    with pytest.raises(InputError, match="no such file"):
        read_task(tmp_path / "missing.csv")
    with pytest.raises(InputError, match="no split files found"):
        read_task(tmp_path / "empty_dir" if (tmp_path / "empty_dir").mkdir() is None else tmp_path)


def test_non_utf8(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_bytes(b"sequence,label\nACGT,1\n\xff\xfe,0\n")
    with pytest.raises(InputError, match=r"b.csv, line 3: bytes that are not UTF-8"):
        read_task(path)
    folder = tmp_path / "gb" / "train" / "pos"
    write(folder / "0.txt", "ACGT\n")
    (folder / "1.txt").write_bytes(b"AC\n\xffGT\n")
    with pytest.raises(InputError, match=r"1.txt, line 2: bytes that are not UTF-8"):
        read_task(tmp_path / "gb")


def test_skip_counts_and_warns(tmp_path: Path) -> None:
    path = write(tmp_path / "s.csv", "sequence,label\nACGT,1\n,0\nACXT,0\nGGCC,0\nAC,1,2\n")
    with pytest.warns(UserWarning, match=r"read_task skipped 3 invalid rows"):
        task = read_task(path, on_invalid="skip")
    assert task["all"].sequences == ["ACGT", "GGCC"]
    assert [(s.line, s.reason.split(":")[0]) for s in task.skipped] == [
        (3, "empty sequence"), (4, "invalid sequence"), (6, "expected 2 comma-separated fields (sequence, label), found 3")
    ]
    assert task.to_dict()["n_skipped"] == 3 and "skipped 3 rows" in task.report()


def test_bad_options(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "sequence,label\nACGT,1\n")
    with pytest.raises(InputError, match="kind must be one of"):
        read_task(path, kind="ordinal")
    with pytest.raises(InputError, match="on_invalid"):
        read_task(path, on_invalid="ignore")
    with pytest.raises(InputError, match="max_rows"):
        read_task(path, max_rows=0)
    with pytest.raises(InputError, match="kind='binary' but the labels hold 3 classes"):
        read_task(write(tmp_path / "b.csv", "sequence,label\nA,1\nC,2\nG,3\n"), kind="binary")


# ----------------------------------------------------------------------------- GenomicBenchmarks


def test_genomic_benchmarks_coordinates(tmp_path: Path) -> None:
    task = read_task(DATA / "gb_coords", genome=genome_for_test(tmp_path))
    assert list(task.splits) == ["train", "test"] and task.classes == ["negative", "positive"]
    train = task["train"]
    assert train.sequences == [CHR1[40:50], reverse_complement_str(CHR2[8:12]), CHR1[0:8],
                               reverse_complement_str(CHR1[10:20]), CHR2[0:6]]
    assert train.labels.tolist() == [0, 0, 1, 1, 1]
    assert task["test"].sequences == [CHR2[12:16], CHR1[50:60]] and task["test"].labels.tolist() == [0, 1]


def test_genomic_benchmarks_coordinates_need_genome() -> None:
    with pytest.raises(InputError, match=r"negative.csv.gz, line 1: this class file lists coordinates"):
        read_task(DATA / "gb_coords")


def test_genomic_benchmarks_bad_coordinates(tmp_path: Path) -> None:
    write(tmp_path / "gb" / "train" / "a.csv", "region,start,end,strand\nchr1,0,4,+\nchr9,0,4,+\nchr1,5,2,+\n")
    with pytest.raises(InputError, match=r"a.csv, line 3: cannot fetch chr9:0-4"):
        read_task(tmp_path / "gb", genome=genome_for_test(tmp_path))
    with pytest.warns(UserWarning):
        task = read_task(tmp_path / "gb", genome=genome_for_test(tmp_path), on_invalid="skip")
    assert task["train"].sequences == ["ACGT"] and [s.line for s in task.skipped] == [3, 4]


def test_genomic_benchmarks_sequences_and_txt_folders(tmp_path: Path) -> None:
    task = read_task(DATA / "gb_sequences")
    assert task.classes == ["background", "enhancer"]
    assert task["train"].sequences == ["TTTTAAAA", "ACGTACGT", "GGGGCCCC"]
    assert task["train"].labels.tolist() == [0, 1, 1]
    assert task["test"].sequences == ["CCCCAAAA", "NNACGTAC", "ACGTTTGA"]
    write(tmp_path / "gb" / "train" / "pos" / "0.txt", "ACGT\nAC\n")
    write(tmp_path / "gb" / "train" / "neg" / "0.txt", "TTTT\n")
    txt = read_task(tmp_path / "gb")
    assert txt["train"].sequences == ["TTTT", "ACGTAC"] and txt.classes == ["neg", "pos"]


def test_bed_task(tmp_path: Path) -> None:
    pytest.importorskip("genoseq.data.intervals")
    bed = write(tmp_path / "peaks.bed", "chr1\t0\t8\tbound\t0\t+\nchr1\t10\t20\tunbound\t0\t-\nchr2\t0\t6\tbound\t0\t.\n")
    task = read_task(bed, genome=genome_for_test(tmp_path))
    assert task.classes == ["bound", "unbound"] and list(task.splits) == ["all"]
    assert task["all"].sequences == [CHR1[0:8], reverse_complement_str(CHR1[10:20]), CHR2[0:6]]
    assert task["all"].labels.tolist() == [0, 1, 0]
    split_bed = write(tmp_path / "s.bed", "chr1\t0\t8\ta\t1\t+\ttrain\nchr1\t8\t16\tb\t0\t+\tvalid\n")
    by_split = read_task(split_bed, genome=genome_for_test(tmp_path), label_column="score", split_column=6)
    assert list(by_split.splits) == ["train", "dev"] and by_split.classes == ["0", "1"]
    assert by_split["train"].labels.tolist() == [1] and by_split["dev"].sequences == [CHR1[8:16]]
    with pytest.raises(InputError, match="needs a genome"):
        read_task(bed)
    bad = write(tmp_path / "b.bed", "track name=x\nchr1\t0\t8\ta\nchr9\t8\t16\tb\n")
    with pytest.raises(InputError, match=r"b.bed, interval 2: cannot fetch chr9:8-16"):
        read_task(bad, genome=genome_for_test(tmp_path))


@pytest.mark.skipif(not GUE.exists(), reason="../shared/data/benchmarks/gue not present")
def test_real_gue_tasks() -> None:
    expected = {"mouse/3": (1904, 239, 239), "prom/prom_core_tata": (4904, 613, 613), "tf/2": (19000, 1000, 1000)}
    for rel, sizes in expected.items():
        task = read_task(GUE / rel)
        assert tuple(len(task[s]) for s in ("train", "dev", "test")) == sizes, rel
        assert task.kind == "binary" and task.classes == ["0", "1"]
        lengths = {len(s) for s in task["test"].sequences}
        assert len(lengths) >= 1 and min(lengths) > 0
    assert read_task(GUE / "tf/2").name == "tf_2"


def test_bundled_gue_tasks_load() -> None:
    bundled = pytest.importorskip("genoseq.bundled")
    task = read_task(bundled.path("gue_prom_core_tata"))
    assert task.name == "gue_prom_core_tata" and task.kind == "binary"
    assert tuple(len(task[s]) for s in ("train", "dev", "test")) == (4904, 613, 613)
    assert {len(s) for s in task["test"].sequences} == {70}
    mouse = read_task(bundled.path("gue_mouse_2"), max_rows=50)
    assert [len(mouse[s]) for s in mouse.splits] == [50, 50, 50]


def test_crlf_bom_quotes_and_extra_columns(tmp_path: Path) -> None:
    path = tmp_path / "dev.csv"
    path.write_bytes(b'\xef\xbb\xbfname,sequence,label\r\n"a,1",acgtn,1\r\nb,GGTA,0\r\n\r\n')
    task = read_task(path)
    assert list(task.splits) == ["dev"] and task["dev"].sequences == ["acgtn", "GGTA"]
    assert task["dev"].labels.tolist() == [1, 0] and task["dev"].lines[1].endswith("dev.csv:3")


@pytest.mark.parametrize("name", ["train.csv.gz", "dev.csv.gz"])
def test_mutated_task_files_only_raise_genoseq_errors(name: str, tmp_path: Path) -> None:
    """Random byte edits: read_task loads or raises InputError naming the file, never a raw error."""
    rng = np.random.default_rng(11 if name.startswith("train") else 12)
    plain = gzip.decompress((DATA / "gue_mouse_3_small" / name).read_bytes())
    compressed = (DATA / "gue_mouse_3_small" / name).read_bytes()
    errors = 0
    for i in range(40):
        data = bytearray(plain if i % 2 else compressed)
        for _ in range(int(rng.integers(1, 4))):
            pos = int(rng.integers(0, len(data)))
            op = rng.random()
            if op < 0.4:
                data[pos] = int(rng.integers(0, 256))
            elif op < 0.7:
                data[pos:pos] = [b"\t", b",", b"\n", b'"', b"\xff", b"X", b"\r\n"][int(rng.integers(0, 7))]
            else:
                del data[pos : pos + int(rng.integers(1, 60))]
        path = tmp_path / f"{i}" / ("train.csv" if i % 2 else "train.csv.gz")
        write(path, "")
        path.write_bytes(bytes(data))
        try:
            read_task(path)
        except InputError as err:
            assert str(path) in str(err)
            errors += 1
    assert errors > 0


# ----------------------------------------------------------------------------- labelled FASTA (Nucleotide Transformer)

NT = DATA / "nt_revised" / "enhancers"
LABELLED_FASTA = (
    ">chr1:1000-1012|1 description ignored\n"
    "ACGTAC\n"
    "gtNNAC\n"
    "\n"
    ">chr2:5-9|0\n"
    "GG CC\n"
    ">seq|with|pipes|2\n"
    "TTTT\n"
)


def test_labelled_fasta_file_exact_records(tmp_path: Path) -> None:
    task = read_task(write(tmp_path / "nt" / "train.fna", LABELLED_FASTA))
    assert task.name == "nt" and list(task.splits) == ["train"] and task.kind == "multiclass"
    train = task["train"]
    assert train.sequences == ["ACGTACgtNNAC", "GGCC", "TTTT"]
    assert task.classes == ["0", "1", "2"] and train.labels.tolist() == [1, 0, 2]
    assert [s.rsplit(":", 1)[1] for s in train.lines] == ["1", "5", "7"]  # header lines
    assert read_task(write(tmp_path / "x.fa", LABELLED_FASTA)).splits.keys() == {"all"}
    assert list(read_task(write(tmp_path / "valid.fasta", LABELLED_FASTA)).splits) == ["dev"]


def test_labelled_fasta_gzip_and_crlf(tmp_path: Path) -> None:
    crlf = LABELLED_FASTA.replace("\n", "\r\n").encode()
    (tmp_path / "test.fna").write_bytes(crlf)
    (tmp_path / "train.fna.gz").write_bytes(gzip.compress(crlf))
    task = read_task(tmp_path)
    assert list(task.splits) == ["train", "test"]
    for split in ("train", "test"):
        assert task[split].sequences == ["ACGTACgtNNAC", "GGCC", "TTTT"]
        assert task[split].labels.tolist() == [1, 0, 2]
    assert task["train"].lines[2].endswith("train.fna.gz:7")


def test_nt_fixture_folder() -> None:
    task = read_task(NT)
    assert task.name == "enhancers" and task.kind == "binary" and task.classes == ["0", "1"]
    assert {s: len(task[s]) for s in task.splits} == {"train": 20, "test": 6}
    assert task["train"].labels.tolist() == [0, 1] * 10
    assert task["train"].sequences[1] == "CAGAGTATGTATACCACTGGGTAGGATAGATAAGAGGGCACGTCAATACGGTTCAATGCC"
    assert all(len(s) == 60 for s in task["test"].sequences)
    assert read_task(NT / "test.fna", max_rows=2)["test"].labels.tolist() == [0, 1]


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        (">a|1\nACGT\n>chr1:5-9\nACGT\n", 3,
         r"record id 'chr1:5-9' has no '\|' before a label: expected a header '>ID\|LABEL'"),
        (">a|1\nACGT\n\n>chr1:5-9|\nACGT\n", 4,
         r"record id 'chr1:5-9\|' has an empty label after its last '\|': expected a header '>ID\|LABEL'"),
        (">a|1\n>b|0\nACGT\n", 1, r"record 'a\|1' has no sequence: expected sequence lines after its header"),
        (">a|1\nACGT\n>b|0\nAC\nGTXA\n", 3,
         r"invalid sequence: invalid nucleotide 'X' .* at position 4; expected A, C, G, T, N or an IUPAC code"),
        ("ACGT\n>a|1\nACGT\n", 1, r"sequence line before the first header: expected a FASTA file starting with"),
        (">a|1\nAC\n> \nACGT\n", 3, r"empty header: expected a header '>ID\|LABEL'"),
        ("", None, r"empty file; expected labelled FASTA records"),
    ],
)
def test_labelled_fasta_errors(tmp_path: Path, text: str, line: int | None, expected: str) -> None:
    path = write(tmp_path / "train.fna", text)
    with pytest.raises(InputError) as err:
        read_task(path)
    where = f"{path}, line {line}: " if line else f"{path}: "
    assert str(err.value).startswith(where), str(err.value)
    assert re.search(expected, str(err.value)), str(err.value)


def test_labelled_fasta_label_comes_from_the_id_not_the_description(tmp_path: Path) -> None:
    task = read_task(write(tmp_path / "t.fna", ">a|1\nACGT\n>b|1 x|0\nACGA\n"))
    assert task["all"].sequences == ["ACGT", "ACGA"] and task.classes == ["1"]


def test_labelled_fasta_skip_records_reasons(tmp_path: Path) -> None:
    text = ">ok|1\nACGT\n>nolabel\nACGT\nAC\n>empty|0\n>bad|0\nAXGT\n>ok2|0\nGG\nCC\n"
    path = write(tmp_path / "train.fna", text)
    with pytest.warns(UserWarning, match="skipped 3 invalid rows"):
        task = read_task(path, on_invalid="skip")
    assert task["train"].sequences == ["ACGT", "GGCC"] and task["train"].labels.tolist() == [1, 0]
    assert [(s.line, s.reason.split(":")[0]) for s in task.skipped] == [
        (3, "record id 'nolabel' has no '|' before a label"), (6, "record 'empty|0' has no sequence"),
        (7, "invalid sequence")]
    assert all(s.path == str(path) for s in task.skipped)


def test_labelled_fasta_folder_rules(tmp_path: Path) -> None:
    write(tmp_path / "mixed" / "train.fna", LABELLED_FASTA)
    write(tmp_path / "mixed" / "test.csv", "sequence,label\nACGT,1\n")
    with pytest.raises(InputError, match=r"mixed: split files mix labelled FASTA \(train.fna\) and tables "
                                         r"\(test.csv\); expected one format"):
        read_task(tmp_path / "mixed")
    write(tmp_path / "two" / "train.fna", LABELLED_FASTA)
    write(tmp_path / "two" / "train.fa.gz", LABELLED_FASTA)
    with pytest.raises(InputError, match=r"two files for split 'train'"):
        read_task(tmp_path / "two")
    with pytest.raises(InputError, match=r"label_column do not apply to labelled FASTA"):
        read_task(NT, label_column="y")
    # a FASTA named .csv gets a hint; a plain genome FASTA is not a task
    with pytest.raises(InputError, match=r"c.csv, line 1: .*the file looks like FASTA: name it .fna/.fa/.fasta"):
        read_task(write(tmp_path / "c.csv", LABELLED_FASTA))
    with pytest.raises(InputError, match=r"tiny.fa, line 1: record id 'chr1' has no '\|' before a label"):
        read_task(DATA / "tiny.fa")


def test_mutated_labelled_fasta_only_raises_genoseq_errors(tmp_path: Path) -> None:
    """Random byte edits of the NT fixture: read_task loads or raises InputError naming the file."""
    rng = np.random.default_rng(13)
    plain = (NT / "train.fna").read_bytes()
    errors = 0
    for i in range(40):
        data = bytearray(plain)
        for _ in range(int(rng.integers(1, 4))):
            pos = int(rng.integers(0, len(data)))
            if rng.random() < 0.5:
                data[pos] = int(rng.integers(0, 256))
            else:
                data[pos:pos] = [b">", b"|", b"\n", b"\xff", b"X", b"\r\n", b" "][int(rng.integers(0, 7))]
        path = tmp_path / f"{i}" / ("train.fna.gz" if i % 2 else "train.fna")
        path.parent.mkdir()
        path.write_bytes(gzip.compress(bytes(data)) if i % 2 else bytes(data))
        try:
            read_task(path)
        except InputError as err:
            assert str(path) in str(err)
            errors += 1
    assert errors > 0
