"""`genoseq evaluate` through the real app: a baselines-only run, the report command, argument errors."""

from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from genoseq.cli import app

runner = CliRunner()


def _task(folder: Path) -> None:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for split, n in (("train", 40), ("dev", 12), ("test", 12)):
        rows = ["sequence,label"]
        for i in range(n):
            seq = "".join(rng.choice(list("ACGT"), 24))
            rows.append(f"{seq[:8] + 'GGGCCC' + seq[14:] if i % 2 else seq},{i % 2}")
        (folder / f"{split}.csv").write_text("\n".join(rows) + "\n")


def test_local_baselines_run_and_report(tmp_path):
    _task(tmp_path / "data" / "gc")
    out = tmp_path / "out"
    res = runner.invoke(app, ["evaluate", "local", "--data", str(tmp_path / "data"), "--no-model",
                              "--baselines", "kmer_lr", "--seeds", "2", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "gc                       kmer_lr              baseline  seed 0: mcc" in res.output
    assert "| task | kmer_lr (baseline) |" in res.output  # the Markdown table is printed
    lines = (out / "results.csv").read_text().splitlines()
    assert len(lines) == 2  # header + one row: kmer_lr does not depend on the seed
    (out / "results.md").unlink()
    res = runner.invoke(app, ["evaluate", "report", str(out / "results.csv")])
    assert res.exit_code == 0, res.output
    assert (out / "results.md").read_text().startswith("**local: MCC ×100 on the test split**")


def test_local_needs_data_and_errors_are_one_line(tmp_path):
    res = runner.invoke(app, ["evaluate", "local", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "genoseq evaluate local needs --data DIR" in res.output
    res = runner.invoke(app, ["evaluate", "gue", "--data", str(tmp_path), "--tasks", "mouse/9",
                              "--out", str(tmp_path / "o")])
    assert res.exit_code != 0
    assert "unknown task 'mouse/9' for suite 'gue'" in str(res.exception)
