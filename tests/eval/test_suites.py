from pathlib import Path

import pytest

from genoseq.errors import ConfigError, InputError
from genoseq.eval.suites import SUITES, find_local_tasks, get_suite, resolve_tasks

SHARED_GUE = Path(__file__).resolve().parents[3] / "shared" / "data" / "benchmarks" / "gue"


def _task(folder: Path, splits=("train", "dev", "test")) -> Path:
    folder.mkdir(parents=True)
    for s in splits:
        (folder / f"{s}.csv").write_text("sequence,label\nACGT,0\nTTTT,1\n")
    return folder


def test_suite_task_lists_match_the_published_benchmarks():
    assert len(SUITES["gue"].tasks) == 28 and len(set(SUITES["gue"].tasks)) == 28
    assert len(SUITES["genomic_benchmarks"].tasks) == 8
    assert len(SUITES["nt"].tasks) == 18
    assert {s.metric for s in SUITES.values()} == {"mcc", "accuracy"}
    assert SUITES["genomic_benchmarks"].metric == "accuracy"
    with pytest.raises(ConfigError, match="unknown suite 'glue'; choose one of gue, genomic_benchmarks, nt, local"):
        get_suite("glue")


def test_resolve_short_names_available_and_missing(tmp_path):
    _task(tmp_path / "prom" / "prom_core_tata")
    _task(tmp_path / "mouse" / "2")
    gue = SUITES["gue"]
    assert resolve_tasks(gue, tmp_path, ["prom_core_tata", "mouse/2"]) == ["prom/prom_core_tata", "mouse/2"]
    assert resolve_tasks(gue, tmp_path, ["available"]) == ["prom/prom_core_tata", "mouse/2"]
    with pytest.raises(InputError, match="ambiguous task '2'"):
        resolve_tasks(gue, tmp_path, ["2"])  # mouse/2 and tf/2
    with pytest.raises(InputError) as err:
        resolve_tasks(gue, tmp_path, None)
    msg = str(err.value)
    assert msg.startswith(f"26 task(s) of suite 'gue' not found under {tmp_path}: EMP/H3")
    assert "`genoseq data fetch gue --dir ~/genoseq-data/gue`" in msg and "--data ~/genoseq-data/gue/GUE" in msg
    assert "or run the 2 task(s) present with --tasks available" in msg


def test_local_task_discovery(tmp_path):
    _task(tmp_path / "b" / "x")
    _task(tmp_path / "a")
    (tmp_path / "notes").mkdir()
    (tmp_path / "gb" / "train").mkdir(parents=True)  # GenomicBenchmarks layout: train/<class>.csv
    (tmp_path / "gb" / "train" / "pos.csv").write_text("sequence\nACGT\n")
    assert find_local_tasks(tmp_path) == ["a", "b/x", "gb"]
    assert find_local_tasks(tmp_path / "a") == ["."]
    with pytest.raises(InputError, match="no task folders found"):
        find_local_tasks(tmp_path / "notes")


@pytest.mark.skipif(not SHARED_GUE.is_dir(), reason="needs ../shared/data/benchmarks/gue")
def test_shared_gue_copy_has_the_five_tasks():
    assert resolve_tasks(SUITES["gue"], SHARED_GUE, ["available"]) == [
        "prom/prom_300_tata", "prom/prom_core_tata", "mouse/2", "mouse/3", "tf/2"]


def test_genomic_benchmarks_and_nt_layouts_run(tmp_path):
    import shutil

    from genoseq.eval.harness import EvalRequest, evaluate

    tasks_dir = Path(__file__).resolve().parents[1] / "data" / "tasks"
    shutil.copytree(tasks_dir / "gb_sequences", tmp_path / "gb" / "human_nontata_promoters")
    shutil.copytree(tasks_dir / "nt_revised" / "enhancers", tmp_path / "nt" / "enhancers")
    assert resolve_tasks(SUITES["genomic_benchmarks"], tmp_path / "gb", ["available"]) == ["human_nontata_promoters"]
    assert resolve_tasks(SUITES["nt"], tmp_path / "nt", ["available"]) == ["enhancers"]
    res = evaluate(EvalRequest(suite="nt", out=tmp_path / "out", data_dir=tmp_path / "nt", tasks=["available"],
                               modes=[], baselines=["kmer_lr"], seeds=1), log=lambda _: None)
    (row,) = res["rows"]
    assert (row["suite"], row["task"], row["model"]) == ("nt", "enhancers", "kmer_lr")
    assert (row["n_train"], row["n_dev"], row["n_test"]) == (18, 2, 6)  # 10% of train held out: no dev split
    assert "MCC ×100" in Path(res["paths"]["markdown"]).read_text()
    # a baseline that cannot fit (3 training rows: the 1-row dev carve leaves one class) is reported, not dropped
    res = evaluate(EvalRequest(suite="genomic_benchmarks", out=tmp_path / "gbout", data_dir=tmp_path / "gb",
                               tasks=["available"], modes=[], baselines=["kmer_lr"], seeds=1), log=lambda _: None)
    assert res["rows"] == [] and len(res["skipped"]) == 1
    assert res["skipped"][0]["model"] == "kmer_lr" and res["skipped"][0]["task"] == "human_nontata_promoters"
