import csv
import math

import pytest

from genoseq.errors import InputError
from genoseq.eval.published import PublishedNumber
from genoseq.eval.report import (
    RESULT_COLUMNS,
    bar_plot,
    markdown_table,
    read_results,
    summarize,
    write_results,
)

NAN = math.nan


def _row(task, model, mode, seed, mcc, accuracy=NAN, **extra):
    row = {c: NAN for c in RESULT_COLUMNS}
    row.update(suite="gue", task=task, model=model, mode=mode, seed=seed, mcc=mcc, accuracy=accuracy,
               train_seconds=10.0 * (seed + 1), parameters=1000, n_train=100, n_dev=10, n_test=20, details="")
    row.update(extra)
    return row


ROWS = [
    _row("prom/prom_core_tata", "tiny", "finetune", 0, 0.5, 0.75),
    _row("prom/prom_core_tata", "tiny", "finetune", 1, 0.7, 0.85),
    _row("prom/prom_core_tata", "tiny", "finetune", 2, 0.6, 0.80),
    _row("prom/prom_core_tata", "kmer_lr", "baseline", 0, 0.55, parameters=4096),
    _row("mouse/2", "tiny", "finetune", 0, 0.2),
    _row("mouse/2", "tiny", "finetune", 1, 0.4),
    _row("mouse/2", "tiny", "finetune", 2, 0.3),
]

PUBLISHED = [
    PublishedNumber("gue", "prom/prom_core_tata", "DNABERT-2", "mcc", 74.17, 100.0, "S1 | Table 3", "117M, pretrained"),
    PublishedNumber("gue", "mouse/2", "Cad", "mcc", 0.5, 1.0, "S2", ""),
    PublishedNumber("gue", "tf/2", "DNABERT-2", "mcc", 66.52, 100.0, "S1 | Table 3", "117M, pretrained"),  # not run
    PublishedNumber("gue", "mouse/2", "Other", "accuracy", 90.0, 100.0, "S3", "x"),  # other metric
    PublishedNumber("genomic_benchmarks", "mouse/2", "Else", "mcc", 90.0, 100.0, "S4", "x"),  # other suite
]


def test_summarize_exact_mean_and_sample_sd():
    summary = summarize(ROWS)
    assert [(s["task"], s["model"], s["mode"], s["n_seeds"]) for s in summary] == [
        ("prom/prom_core_tata", "tiny", "finetune", 3),
        ("prom/prom_core_tata", "kmer_lr", "baseline", 1),
        ("mouse/2", "tiny", "finetune", 3),
    ]
    tiny = summary[0]
    assert tiny["mcc_mean"] == pytest.approx(0.6, abs=1e-15)
    assert tiny["mcc_sd"] == pytest.approx(0.1, abs=1e-15)  # ddof=1: sqrt((0.01 + 0.01 + 0) / 2)
    assert tiny["accuracy_mean"] == pytest.approx(0.8, abs=1e-15)
    assert tiny["accuracy_sd"] == pytest.approx(0.05, abs=1e-15)
    assert tiny["train_seconds_mean"] == 20.0 and tiny["parameters"] == 1000
    single = summary[1]
    assert single["mcc_mean"] == 0.55 and single["mcc_sd"] == 0.0  # one seed: sd 0.0
    assert math.isnan(single["accuracy_mean"]) and math.isnan(single["accuracy_sd"])  # NaN cells left out
    assert "auroc_mean" not in tiny and "pearson_mean" not in tiny  # no finite value anywhere


def test_summarize_extra_metric_and_errors():
    rows = [_row("tf/2", "m", "probe", s, 0.1 * s, ppl=float(s)) for s in (1, 2)]
    (s,) = summarize(rows)
    assert s["ppl_mean"] == 1.5 and s["ppl_sd"] == pytest.approx(math.sqrt(0.5))
    with pytest.raises(InputError, match="result row 1: seed 1 appears twice .*task=tf/2 model=m mode=probe"):
        summarize([rows[0], rows[0]])
    with pytest.raises(InputError, match="result row 0: missing mode"):
        summarize([{**rows[0], "mode": ""}])


def test_markdown_table_line_by_line():
    lines = markdown_table(ROWS, "gue", "mcc", PUBLISHED).splitlines()
    assert lines == [
        "**gue: MCC ×100 on the test split**",
        "",
        "| task | tiny (finetune) | kmer_lr (baseline) | DNABERT-2 [1] | Cad [2] |",
        "|---|---|---|---|---|",
        "| prom/prom_core_tata | 60.00 ± 10.00 | 55.00 ± 0.00 | 74.17 |  |",
        "| mouse/2 | 30.00 ± 10.00 |  |  | 50.0 |",
        "",
        "Ours: mean ± sample standard deviation (ddof=1) over seeds, 0.00 where a group has a single seed; "
        "tiny (finetune) 3 seeds, 1,000 parameters; kmer_lr (baseline) 1 seed, 4,096 parameters.",
        "",
        "Published (numbers from the papers, not rerun here; models pretrained and/or larger as noted): "
        "DNABERT-2: 117M, pretrained; Cad.",
        "",
        "- [1] S1 | Table 3",
        "- [2] S2",
    ]


def test_markdown_table_without_published_numbers_and_accuracy():
    text = markdown_table(ROWS, "gue", "accuracy", [])
    lines = text.splitlines()
    assert lines[0] == "**gue: accuracy ×100 on the test split**"
    assert lines[2] == "| task | tiny (finetune) | kmer_lr (baseline) |"
    assert lines[4] == "| prom/prom_core_tata | 80.00 ± 5.00 | n/a |"
    assert lines[5] == "| mouse/2 | n/a |  |"
    assert not any(line.startswith(("Published", "- [1]")) for line in lines)
    assert markdown_table(ROWS, "nt", "mcc", PUBLISHED) == "**nt: mcc**: no results for this suite.\n"


def test_bar_plot_writes_png(tmp_path):
    path = bar_plot(ROWS, "gue", "mcc", PUBLISHED, tmp_path / "plot.png")
    data = path.read_bytes()
    assert path == tmp_path / "plot.png" and len(data) > 1000
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert [p.name for p in tmp_path.iterdir()] == ["plot.png"]  # no temporary file left behind


def _same(a, b):
    return (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)) or a == b


def test_write_results_and_csv_round_trip(tmp_path):
    rows = [dict(r, details='{"lr": 0.001, "note": "a,b"}') for r in ROWS]
    rows[0]["ppl"] = 3.25  # an extra metric column goes at the end
    paths = write_results(rows, tmp_path / "out", "gue", "mcc", published=PUBLISHED)
    assert set(paths) == {"results", "summary", "markdown", "plot"}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "results.csv", "results.md", "results.png", "summary.csv"]
    with open(paths["results"], newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    assert header == [*RESULT_COLUMNS, "ppl"]
    back = read_results(paths["results"])
    assert len(back) == len(rows)
    for original, read in zip(rows, back, strict=True):
        expected = {**{k: NAN for k in header}, **original}
        assert set(read) == set(header)
        assert all(_same(read[k], expected[k]) for k in header), (read, expected)
        assert isinstance(read["seed"], int) and isinstance(read["mcc"], float)
    assert paths["markdown"].read_text(encoding="utf-8") == markdown_table(rows, "gue", "mcc", PUBLISHED)
    with open(paths["summary"], newline="", encoding="utf-8") as fh:
        summary = list(csv.DictReader(fh))
    assert summary[0]["n_seeds"] == "3" and float(summary[0]["mcc_sd"]) == pytest.approx(0.1)
    # the report can be rebuilt from results.csv alone
    assert markdown_table(back, "gue", "mcc", PUBLISHED) == markdown_table(rows, "gue", "mcc", PUBLISHED)


def test_read_results_errors(tmp_path):
    bad_header = tmp_path / "a.csv"
    bad_header.write_text("suite,task,model\n", encoding="utf-8")
    with pytest.raises(InputError, match="a.csv, line 1: expected a header starting with suite,task,model,mode,seed"):
        read_results(bad_header)
    write_results(ROWS[:1], tmp_path, "gue", "mcc", published=[])
    text = (tmp_path / "results.csv").read_text(encoding="utf-8").splitlines()
    fields = text[1].split(",")
    fields[RESULT_COLUMNS.index("seed")] = "one"
    (tmp_path / "bad.csv").write_text("\n".join([text[0], text[1], ",".join(fields)]) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="bad.csv, line 3: column 'seed': expected an integer, got 'one'"):
        read_results(tmp_path / "bad.csv")
    (tmp_path / "short.csv").write_text(text[0] + "\ngue,tf/2\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 2: expected 19 fields, got 2"):
        read_results(tmp_path / "short.csv")
