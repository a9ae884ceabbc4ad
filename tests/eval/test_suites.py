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
    assert find_local_tasks(tmp_path) == ["a", "b/x"]
    assert find_local_tasks(tmp_path / "a") == ["."]
    with pytest.raises(InputError, match="no task folders found"):
        find_local_tasks(tmp_path / "notes")


@pytest.mark.skipif(not SHARED_GUE.is_dir(), reason="needs ../shared/data/benchmarks/gue")
def test_shared_gue_copy_has_the_five_tasks():
    assert resolve_tasks(SUITES["gue"], SHARED_GUE, ["available"]) == [
        "prom/prom_300_tata", "prom/prom_core_tata", "mouse/2", "mouse/3", "tf/2"]
