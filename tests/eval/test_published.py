from pathlib import Path

import pytest

from genoseq.errors import InputError
from genoseq.eval.published import (
    PUBLISHED_COLUMNS,
    PUBLISHED_CSV,
    PUBLISHED_SUITES,
    load_published,
    read_published,
)

HEADER = ",".join(PUBLISHED_COLUMNS)


def _write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "pub.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_packaged_numbers_load_and_every_row_has_a_source():
    numbers = load_published()
    assert numbers, "published.csv holds no numbers"
    assert PUBLISHED_CSV.read_text(encoding="utf-8").startswith("#")  # provenance header
    for n in numbers:
        assert n.suite in PUBLISHED_SUITES
        assert n.source.strip() and n.note.strip(), f"line {n.line}: source and note are required here"
        assert n.scale in (1.0, 100.0) and 0.0 <= n.fraction <= 1.0
    keys = [(n.suite, n.task, n.model, n.metric) for n in numbers]
    assert len(keys) == len(set(keys))


def test_dnabert2_gue_numbers_from_the_shared_data_readme():
    gue = {(n.task, n.model): n for n in load_published("gue")}
    expected = {"prom/prom_core_tata": 74.17, "prom/prom_300_tata": 71.59, "mouse/2": 79.32,
                "mouse/3": 66.47, "tf/2": 66.52}
    for task, value in expected.items():
        n = gue[(task, "DNABERT-2")]
        assert (n.metric, n.value, n.scale) == ("mcc", value, 100.0)
        assert "Zhou et al., ICLR 2024" in n.source
    assert load_published("local") == []


def test_published_tasks_are_suite_task_ids():
    suites = pytest.importorskip("genoseq.eval.suites")
    for n in load_published():
        assert n.task in suites.SUITES[n.suite].tasks, f"line {n.line}: {n.task} is not a {n.suite} task id"
        assert n.metric == suites.SUITES[n.suite].metric


def test_comments_and_quoted_fields(tmp_path):
    path = _write(
        tmp_path, "# provenance", HEADER, "", "# a comment between rows",
        'gue,mouse/2,M,mcc,0.5,1,"Paper, Table 1",""',
    )
    (n,) = read_published(path)
    assert (n.task, n.value, n.scale, n.source, n.note, n.line) == ("mouse/2", 0.5, 1.0, "Paper, Table 1", "", 5)
    assert n.fraction == 0.5


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("gue,mouse/2,M,mcc,50,100,S", "expected 8 fields"),
        ("bench,mouse/2,M,mcc,50,100,S,n", "column 'suite': expected one of gue, genomic_benchmarks, nt"),
        ("gue,mouse/2,M,MCC,50,100,S,n", "column 'metric': expected a lowercase metric"),
        ("gue,mouse/2,M,mcc,fifty,100,S,n", "column 'value': expected a finite number, got 'fifty'"),
        ("gue,mouse/2,M,mcc,50,10,S,n", "column 'scale': expected 100 (percent / x100) or 1 (fraction)"),
        ("gue,mouse/2,M,mcc,50,1,S,n", "column 'value': expected a number in [-1, 1] for scale 1"),
        ("gue,,M,mcc,50,100,S,n", "column 'task': expected a non-empty value"),
        ("gue,mouse/2,M,mcc,50,100,,n", "column 'source': expected a non-empty value"),
    ],
)
def test_bad_rows_name_the_line(tmp_path, row, message):
    path = _write(tmp_path, "# comment", HEADER, "gue,tf/2,M,mcc,50,100,S,n", row)
    with pytest.raises(InputError, match="line 4") as info:
        read_published(path)
    assert message in str(info.value) and str(path) in str(info.value)


def test_duplicate_and_header_errors(tmp_path):
    dup = _write(tmp_path, HEADER, "gue,tf/2,M,mcc,50,100,S,n", "gue,tf/2,M,mcc,51,100,S2,n")
    with pytest.raises(InputError, match=r"line 3: duplicate number .*task=tf/2 model=M metric=mcc \(first on line 2\)"):
        read_published(dup)
    bad_header = _write(tmp_path, "suite,task,model,metric,value,source,note")
    with pytest.raises(InputError, match="line 1: expected the header suite,task,model,metric,value,scale"):
        read_published(bad_header)
    only_comments = _write(tmp_path, "# nothing here")
    with pytest.raises(InputError, match="no header line"):
        read_published(only_comments)
    with pytest.raises(InputError, match="cannot read published numbers"):
        read_published(tmp_path / "missing.csv")
