"""`genoseq evaluate variants` / run_variant_benchmark on SNVs of the bundled phage lambda genome with a tiny
seeded hyenadna model; metrics checked against sklearn on the scores score_variants returns."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score
from typer.testing import CliRunner

from genoseq import bundled
from genoseq.errors import ConfigError, InputError
from genoseq.eval.variant_benchmark import parse_labels, read_labelled_table, run_variant_benchmark
from genoseq.infer.variants import score_variants

WINDOW = 64
N_SNV = 30
runner = CliRunner()


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: the tiny model gains nothing from two, and two threads on a busy machine are 10x slower."""
    import torch

    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


@pytest.fixture(scope="module")
def genome():
    from genoseq.data.genome import Genome

    return Genome(bundled.path("phage_lambda"), aliases=True)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    import torch

    from genoseq.model.build import build_model
    from genoseq.model.presets import get_preset

    cfg = get_preset("hyenadna-tiny").to_dict()
    cfg.update(d_model=32, max_len=128)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model")
    build_model(cfg).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def model(model_dir):
    from genoseq.model.io import load_model

    return load_model(model_dir)


@pytest.fixture(scope="module")
def variants(genome) -> list[tuple[str, int, str, str]]:
    """N_SNV SNVs with the genome's REF, then one with a wrong REF and one on an unknown contig."""
    contig = next(iter(genome.contigs))
    rng = np.random.default_rng(0)
    out = []
    for pos in sorted(rng.choice(np.arange(200, 48000), N_SNV, replace=False)):
        ref = genome.fetch(contig, int(pos) - 1, int(pos))
        alt = "ACGT"[("ACGT".index(ref) + int(rng.integers(1, 4))) % 4]
        out.append((contig, int(pos), ref, alt))
    c, p, r, _ = out[3]
    wrong = "ACGT"[("ACGT".index(r) + 1) % 4]
    out.append((c, p, wrong, r))  # REF differs from the genome
    out.append(("chrZ", 100, "A", "G"))
    return out


@pytest.fixture(scope="module")
def llr(model, genome, variants) -> np.ndarray:
    """llr_sum per variant straight from score_variants (NaN for the two unscorable rows)."""
    table = score_variants(model, genome, variants, method="llr", window=WINDOW)
    assert table["status"][-2:] == ["ref_mismatch", "unknown_contig"]
    assert table["status"][:N_SNV] == ["ok"] * N_SNV
    return np.array(table["llr_sum"], dtype=float)


def write_table(path: Path, variants, labels, sep: str = "\t", header=("chrom", "pos", "ref", "alt")) -> Path:
    with open(path, "w") as fh:
        fh.write(sep.join([*header, "label"]) + "\n")
        for v, y in zip(variants, labels, strict=True):
            fh.write(sep.join([*(str(x) for x in v), str(y)]) + "\n")
    return path


def cli(*args: str):
    """``genoseq evaluate variants ARGS`` through the real command line app."""
    from genoseq.cli import app

    return runner.invoke(app, ["evaluate", "variants", *args])


def cli_args(model_dir, table, out, *extra):
    return ["--model", str(model_dir), "--genome", str(bundled.path("phage_lambda")), "--table", str(table),
            "--label-column", "label", "--window", str(WINDOW), "--out", str(out), *extra]


# ------------------------------------------------------------------------------------------ metrics
def test_cli_binary_matches_sklearn(tmp_path, model_dir, variants, llr):
    rng = np.random.default_rng(1)
    labels = [int(x) for x in rng.integers(0, 2, len(variants))]
    table = write_table(tmp_path / "v.tsv", variants, labels)
    res = cli(*cli_args(model_dir, table, tmp_path / "out", "--score-method", "llr"))
    assert res.exit_code == 0, res.output
    m = json.loads((tmp_path / "out" / "metrics.json").read_text())
    y = np.array(labels[:N_SNV])
    assert m["auroc"] == roc_auc_score(y, -llr[:N_SNV])  # exact: the same scores, negated (positive is low)
    assert m["auprc"] == average_precision_score(y, -llr[:N_SNV])
    assert (m["score_column"], m["positive_is"], m["score_sign"], m["method"]) == ("llr_sum", "low", -1, "llr")
    assert m["direction"].startswith("metrics use -llr_sum: a lower llr_sum ranks a variant towards label '1'")
    assert (m["n"], m["n_scored"], m["skipped"]) == (N_SNV + 2, N_SNV, {"ref_mismatch": 1, "unknown_contig": 1})
    assert (m["n_positive"], m["n_negative"]) == (int(y.sum()), int(N_SNV - y.sum()))
    assert m["spearman"] is None and m["model"] == str(model_dir) and m["window"] == WINDOW
    assert m["wall_seconds"] >= m["scoring_seconds"] > 0
    assert "ref_mismatch 1" in res.output and "unknown_contig 1" in res.output
    assert f"{table}, line {N_SNV + 2}: REF" in res.output and f"{table}, line {N_SNV + 3}: contig 'chrZ'" in res.output
    assert f"AUROC {m['auroc']:.4f}" in res.output
    assert (tmp_path / "out" / "roc.png").read_bytes()[:4] == b"\x89PNG"
    lines = (tmp_path / "out" / "scores.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    assert header[:5] == ["chrom", "pos", "ref", "alt", "label"]
    assert header[5:7] == ["status", "message"] and "llr_sum" in header and header[-1] == "in_metrics"
    rows = [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]
    assert len(rows) == N_SNV + 2
    assert [r["in_metrics"] for r in rows] == ["1"] * N_SNV + ["0", "0"]
    assert rows[-2]["status"] == "ref_mismatch" and rows[-2]["llr_sum"] == "nan"
    assert float(rows[0]["llr_sum"]) == pytest.approx(llr[0], rel=1e-5)


def test_direction_known_answer(tmp_path, model, genome, variants, llr):
    """label 1 exactly for the 8 lowest llr_sum: AUROC 1 with the default (low), 0 when told high."""
    order = np.argsort(llr[:N_SNV])
    labels = np.zeros(len(variants), dtype=int)
    labels[order[:8]] = 1
    table = write_table(tmp_path / "v.tsv", variants, labels.tolist())
    low = run_variant_benchmark(model, genome, table, "label", window=WINDOW).metrics
    assert (low["auroc"], low["auprc"], low["positive_is"]) == (1.0, 1.0, "low")
    high = run_variant_benchmark(model, genome, table, "label", window=WINDOW, positive_is="high").metrics
    assert high["auroc"] == 0.0 and high["score_sign"] == 1  # reported as is, never flipped


def test_continuous_spearman(tmp_path, model, genome, variants, llr):
    """A fitness-like label = monotone function of llr_sum: Spearman 1 (auto: high llr -> high label)."""
    fitness = [f"{math.exp(v):.12g}" if math.isfinite(v) else "0.5" for v in llr]
    table = write_table(tmp_path / "v.csv", variants, fitness, sep=",",
                        header=("chromosome", "position", "REF", "ALT"))
    r = run_variant_benchmark(model, genome, table, "label", window=WINDOW)
    m = r.metrics
    assert m["label_kind"] == "continuous" and m["positive_is"] == "high" and m["spearman"] == pytest.approx(1.0)
    assert m["auroc"] is None and 0 < m["pearson"] < 1
    flipped = run_variant_benchmark(model, genome, table, "label", window=WINDOW, positive_is="low").metrics
    assert flipped["spearman"] == pytest.approx(-1.0)


def test_cli_continuous_scatter(tmp_path, model_dir, variants, llr):
    values = [f"{v:.6f}" if math.isfinite(v) else "0" for v in llr]
    table = write_table(tmp_path / "v.tsv", variants, values)
    res = cli(*cli_args(model_dir, table, tmp_path / "out", "--score-column", "llr_mean"))
    assert res.exit_code == 0, res.output
    m = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert m["score_column"] == "llr_mean" and m["spearman"] == pytest.approx(1.0)  # same window length everywhere
    assert "Spearman 1.0000" in res.output
    assert (tmp_path / "out" / "scatter.png").read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / "out" / "roc.png").exists()


def test_string_labels_need_positive_label(tmp_path, model, genome, variants, llr):
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, len(variants))
    words = ["pathogenic" if v else "benign" for v in y]
    table = write_table(tmp_path / "v.tsv", variants, words)
    with pytest.raises(InputError, match="'benign' and 'pathogenic'|'pathogenic' and 'benign'") as err:
        run_variant_benchmark(model, genome, table, "label", window=WINDOW)
    assert "--positive-label" in str(err.value) and str(table) in str(err.value)
    m = run_variant_benchmark(model, genome, table, "label", window=WINDOW, positive_label="pathogenic").metrics
    assert m["auroc"] == roc_auc_score(y[:N_SNV], -llr[:N_SNV])
    assert (m["positive_label"], m["negative_label"]) == ("pathogenic", "benign")
    with pytest.raises(InputError, match="--positive-label 'likely' is not a value"):
        run_variant_benchmark(model, genome, table, "label", window=WINDOW, positive_label="likely")


# ------------------------------------------------------------------------------------------ bad input
def test_missing_label_column_lists_columns(tmp_path, model_dir, variants):
    table = write_table(tmp_path / "v.tsv", variants, [0] * len(variants))
    res = cli(*cli_args(model_dir, table, tmp_path / "out")[:-2], "--out", str(tmp_path / "out"),
              "--label-column", "pathogenic")
    assert res.exit_code == 2
    assert f"{table}, line 1: no label column 'pathogenic'; the columns are: chrom, pos, ref, alt, label" in res.output
    assert not (tmp_path / "out" / "metrics.json").exists()


def test_missing_label_names_line_or_is_skipped(tmp_path, model, genome, variants):
    labels = [i % 2 for i in range(len(variants))]
    labels[5] = "NA"
    table = write_table(tmp_path / "v.tsv", variants, labels)
    with pytest.raises(InputError, match=r"line 7: no label in column 'label' \(found 'NA'\).*--skip-unlabelled"):
        run_variant_benchmark(model, genome, table, "label", window=WINDOW)
    m = run_variant_benchmark(model, genome, table, "label", window=WINDOW, skip_unlabelled=True).metrics
    assert m["skipped"] == {"ref_mismatch": 1, "unknown_contig": 1, "unlabelled": 1}
    assert m["n_scored"] == N_SNV - 1 and m["n"] == N_SNV + 2


def test_label_parsing(tmp_path):
    def table(labels):
        rows = [("c", i + 1, "A", "G") for i in range(len(labels))]
        return read_labelled_table(write_table(tmp_path / "t.tsv", rows, labels), "label")

    lab = parse_labels(table(["1.0", "0", "1"]), "label")
    assert lab.kind == "binary" and lab.values.tolist() == [1.0, 0.0, 1.0]
    lab = parse_labels(table(["1", "2", "2.0"]), "label", positive_label="2")
    assert lab.kind == "binary" and lab.values.tolist() == [0.0, 1.0, 1.0]
    lab = parse_labels(table(["0.5", "-1", "3"]), "label")
    assert lab.kind == "continuous" and lab.values.tolist() == [0.5, -1.0, 3.0]
    with pytest.raises(InputError, match=r"line 4: label 'likely' .* more than two distinct values: 'benign', "
                                         r"'pathogenic', 'likely'"):
        parse_labels(table(["benign", "pathogenic", "likely"]), "label")
    with pytest.raises(InputError, match=r"line 3: label 'x' .* expected a finite number"):
        parse_labels(table(["0.5", "x"]), "label", label_type="continuous")
    with pytest.raises(InputError, match=r"line 4: label '2' .* expected 0 or 1"):
        parse_labels(table(["0", "1", "2"]), "label", label_type="binary")


def test_bad_table_and_options(tmp_path, model, genome, variants):
    bad = tmp_path / "bad.tsv"
    bad.write_text("chrom\tposition\tlabel\nc\t1\t0\n")
    with pytest.raises(InputError, match=r"line 1: the header must name the variant columns .* found columns: "
                                         r"chrom, position, label"):
        read_labelled_table(bad, "label")
    short = tmp_path / "short.tsv"
    short.write_text("chrom\tpos\tref\talt\tlabel\nc\t1\tA\tG\t0\nc\t2\tA\n")
    with pytest.raises(InputError, match=r"short.tsv, line 3: expected 5 columns"):
        read_labelled_table(short, "label")
    table = write_table(tmp_path / "v.tsv", variants, [i % 2 for i in range(len(variants))])
    with pytest.raises(ConfigError, match="score column 'emb_l2' is not produced by method 'llr'.*llr_sum"):
        run_variant_benchmark(model, genome, table, "label", window=WINDOW, score_column="emb_l2")
    with pytest.raises(ConfigError, match="--positive-is 'down'"):
        run_variant_benchmark(model, genome, table, "label", window=WINDOW, positive_is="down")


def test_embedding_method_defaults(tmp_path, model, genome, variants):
    """method embedding: emb_l2 by default, a larger distance points at label 1 (no negation)."""
    labels = np.random.default_rng(3).integers(0, 2, len(variants))
    table = write_table(tmp_path / "v.tsv", variants, labels.tolist())
    l2 = np.array(score_variants(model, genome, variants, method="embedding", window=WINDOW)["emb_l2"], dtype=float)
    m = run_variant_benchmark(model, genome, table, "label", method="embedding", window=WINDOW).metrics
    assert (m["score_column"], m["positive_is"], m["score_sign"]) == ("emb_l2", "high", 1)
    assert m["auroc"] == roc_auc_score(labels[:N_SNV], l2[:N_SNV])
    cos = run_variant_benchmark(model, genome, table, "label", method="embedding", window=WINDOW,
                                score_column="emb_cosine").metrics
    assert cos["positive_is"] == "low" and cos["direction"].startswith("metrics use -emb_cosine")
