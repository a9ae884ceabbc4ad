"""Zero-shot variant benchmark: score a labelled variant table and measure how well the scores rank it.

``genoseq evaluate variants`` is a thin shell over :func:`run_variant_benchmark`. Steps:

1. :func:`read_labelled_table` reads a TSV/CSV (plain or gzip) with a header line naming the variant
   columns (the names :func:`genoseq.read_variants` accepts: ``chrom``/``chr``/``chromosome``/``contig``/...,
   ``pos``/``position`` 1-based, ``ref``, ``alt``) and a label column.
2. :func:`parse_labels`: **binary** labels (``0``/``1``, or two distinct strings with ``positive_label``) or
   **continuous** numbers. A missing label (empty, ``NA``, ``nan``, ``.``) is an error naming the file and
   line unless ``skip_unlabelled`` (then the row is counted under ``unlabelled``).
3. :func:`genoseq.infer.variants.score_variants` scores every row (one ALT per row: ``A,C`` gets status
   ``multiallelic``). Rows the scorer cannot score keep their status (``ref_mismatch``, ``unknown_contig``,
   ...): they are counted by status in ``metrics["skipped"]`` and left out of the metrics.
4. Metrics on the labelled, scored rows, from :mod:`genoseq.eval.metrics`: AUROC and AUPRC for binary labels
   (``classification_metrics`` with the two-column score ``[-s, s]``: its AUROC/AUPRC use column 1, the raw
   oriented score ``s``; the threshold metrics it also returns are not meaningful for a raw score and are
   dropped), Spearman and Pearson for continuous labels (``regression_metrics``; R² is dropped, a score is
   not a prediction of the label's scale).

**Score column.** ``llr`` -> ``llr_sum`` (log P(alt window) - log P(ref window), averaged over strands: the
standard zero-shot likelihood-ratio score; ``llr_mean`` is the same divided by the window length - 1, so it
only ranks differently where windows are clipped at contig ends), ``masked_llr`` -> ``masked_llr``,
``embedding`` -> ``emb_l2``, ``head`` -> ``head_diff`` (``head_diff_1`` for a two-output head). Any numeric
score column of the method can be chosen with ``score_column``.

**Direction** (``positive_is``: ``"low"``, ``"high"`` or ``"auto"``) says which end of the score points at
the positive class (binary label 1) or at higher label values (continuous). Metrics are computed on the
*oriented* score ``s = sign * score`` (sign -1 for ``low``) and the choice is written out (``positive_is``,
``score_sign``, ``direction``); nothing is flipped after the fact (an AUROC below 0.5 stays below 0.5).
``auto`` assumes the usual conventions: binary label 1 = damaging (pathogenic, deleterious), so a *low*
``llr_*``/``masked_llr*``/``emb_cosine`` and a *high* ``emb_l2`` point at 1; continuous labels = fitness or
activity (higher = more functional, as in deep mutational scans), so the same score ends point at *low*
label values (``llr`` high -> label high). ``head_*`` columns default to ``high`` for both.
"""

from __future__ import annotations

import math
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genoseq.errors import ConfigError, InputError

MISSING = frozenset({"", "na", "nan", "n/a", "none", "null", "."})
LABEL_TYPES = ("auto", "binary", "continuous")
DIRECTIONS = ("auto", "low", "high")
DEFAULT_SCORE = {"llr": "llr_sum", "masked_llr": "masked_llr", "embedding": "emb_l2", "head": "head_diff"}
# score end that points at binary label 1 (damaging) under the default conventions
_DAMAGE_END = {"llr": "low", "masked_llr": "low", "emb_cosine": "low", "emb_l2": "high", "head": "high"}
_NOT_SCORES = {"index", "record", "chrom", "pos", "ref", "alt", "status", "message", "alt_index",
               "window_start", "window_end"}


@dataclass
class LabelledTable:
    """A labelled variant table as read: header, rows of fields and their 1-based line numbers."""

    path: Path
    columns: list[str]  # header names as written (a leading '#' removed)
    rows: list[list[str]]  # fields per data row
    lines: list[int]  # 1-based line number of each row
    variant_columns: dict[str, int]  # chrom, pos, ref, alt -> column index

    def column(self, name: str) -> list[str]:
        i = self.columns.index(name)
        return [r[i] for r in self.rows]

    def variants(self) -> list[dict[str, Any]]:
        """``[{chrom, pos, ref, alt}]`` per row (pos as int) for ``score_variants``."""
        c = self.variant_columns
        out = []
        for fields, line in zip(self.rows, self.lines, strict=True):
            text = fields[c["pos"]]
            try:
                pos = int(text)
            except ValueError:
                raise InputError(f"pos {text!r} is not an integer (expected a 1-based position)", self.path,
                                 line) from None
            out.append({"chrom": fields[c["chrom"]], "pos": pos, "ref": fields[c["ref"]], "alt": fields[c["alt"]]})
        return out


@dataclass
class Labels:
    """Parsed labels: ``values`` (N,) float64 (0/1 for binary), NaN for unlabelled rows."""

    kind: str  # "binary" | "continuous"
    values: np.ndarray
    positive_label: str | None = None  # binary: the label text counted as 1
    negative_label: str | None = None


@dataclass
class VariantBenchmarkResult:
    """What :func:`run_variant_benchmark` returns: the metrics dict and the per-row output table."""

    metrics: dict[str, Any]
    columns: list[str]
    rows: list[list[Any]]
    labels: np.ndarray  # (N,) label per row (NaN unlabelled)
    scores: np.ndarray  # (N,) raw score per row (NaN unscored)
    used: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # (N,) rows in the metrics
    lines: list[int] = field(default_factory=list)  # (N,) 1-based line of each row in the table


# ------------------------------------------------------------------------------------------ reading
def read_labelled_table(path: str | os.PathLike[str], label_column: str, delimiter: str | None = None) -> LabelledTable:
    """Read a labelled variant table (TSV/CSV, header required; blank and ``##`` lines skipped).

    The delimiter is a tab when the header line has one, else a comma, else whitespace (as
    :func:`genoseq.read_variants` sniffs it). Raises InputError naming the file (and line) for a missing
    file, a header without chrom/pos/ref/alt or without ``label_column`` (the message lists the columns),
    and a row with fewer fields than the header.
    """
    from genoseq.data.variants import _CHROM_NAMES, _POS_NAMES, _header_columns, split_table_lines

    p = Path(path)
    if not p.is_file():
        raise InputError("no such file; expected a TSV/CSV variant table with a header line", p)
    delimiter, table = split_table_lines(p, delimiter)
    if not table:
        raise InputError("empty file; expected a header line naming chrom, pos, ref, alt and the label column", p)
    header_line, header = table[0][0], [f.lstrip("#").strip() for f in table[0][1]]
    rows: list[list[str]] = []
    lines: list[int] = []
    for number, fields in table[1:]:
        if len(fields) < len(header):
            raise InputError(f"expected {len(header)} columns separated by {delimiter!r} as in the header "
                             f"(line {header_line}), found {len(fields)}", p, number)
        rows.append(fields)
        lines.append(number)
    found = _header_columns(header)
    if found is None:
        raise InputError(
            f"the header must name the variant columns chrom ({'/'.join(_CHROM_NAMES)}), pos "
            f"({'/'.join(_POS_NAMES)}, 1-based), ref and alt; found columns: {', '.join(header)}", p, header_line)
    if label_column not in header:
        raise InputError(f"no label column {label_column!r}; the columns are: {', '.join(header)}", p, header_line)
    if not rows:
        raise InputError("no variant rows after the header", p)
    cols = {k: found[k] for k in ("chrom", "pos", "ref", "alt")}
    return LabelledTable(p, header, rows, lines, cols)


def _number(text: str) -> float | None:
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def parse_labels(
    table: LabelledTable, label_column: str, label_type: str = "auto", positive_label: str | None = None,
    skip_unlabelled: bool = False,
) -> Labels:
    """Parse the label column into binary (0/1) or continuous values.

    ``auto``: numbers whose values are all 0 or 1 -> binary (1 positive unless ``positive_label`` says
    otherwise); other numbers -> continuous (binary if ``positive_label`` is given and there are two
    values); text -> binary, which needs exactly two distinct values and ``positive_label`` naming one.
    Raises InputError naming the file and line of the first offending label.
    """
    if label_type not in LABEL_TYPES:
        raise ConfigError(f"label type {label_type!r}: choose one of {', '.join(LABEL_TYPES)}")
    if label_type == "continuous" and positive_label is not None:
        raise ConfigError("--positive-label applies to binary labels, not to --label-type continuous")
    raw = table.column(label_column)
    path = table.path
    present: list[int] = []
    for i, text in enumerate(raw):
        if text.strip().lower() in MISSING:
            if not skip_unlabelled:
                raise InputError(f"no label in column {label_column!r} (found {text!r}); give a label on every row "
                                 "or pass --skip-unlabelled to count and skip such rows", path, table.lines[i])
        else:
            present.append(i)
    values = np.full(len(raw), np.nan)
    if not present:
        raise InputError(f"column {label_column!r} holds no labels", path)
    nums = {i: _number(raw[i]) for i in present}
    non_numeric = [i for i in present if nums[i] is None]
    distinct = list(dict.fromkeys(raw[i].strip() for i in present))

    def fail(i: int, what: str) -> InputError:
        return InputError(f"label {raw[i]!r} in column {label_column!r}: {what}", path, table.lines[i])

    if label_type == "continuous" or (label_type == "auto" and not non_numeric and positive_label is None
                                      and not {nums[i] for i in present} <= {0.0, 1.0}):
        if non_numeric:
            raise fail(non_numeric[0], "expected a finite number (continuous labels)")
        for i in present:
            values[i] = nums[i]
        return Labels("continuous", values)
    # binary
    if not non_numeric and positive_label is None:
        bad = [i for i in present if nums[i] not in (0.0, 1.0)]
        if bad:
            raise fail(bad[0], "expected 0 or 1 (binary labels); name the positive value with --positive-label "
                               "when the two classes are written otherwise")
        for i in present:
            values[i] = nums[i]
        return Labels("binary", values, "1", "0")
    distinct_values: list[str] = []  # numeric labels compare as numbers ("1" == "1.0")
    keyed: dict[int, str] = {}
    for i in present:
        key = repr(nums[i]) if not non_numeric else raw[i].strip()
        keyed[i] = key
        if key not in distinct_values:
            distinct_values.append(key)
            if len(distinct_values) > 2:
                shown = ", ".join(repr(v) for v in distinct[:6]) + (", ..." if len(distinct) > 6 else "")
                raise fail(i, f"expected binary labels (0/1, or two distinct values with --positive-label) or "
                              f"numbers (continuous); column has more than two distinct values: {shown}")
    if positive_label is None:
        shown = " and ".join(repr(raw[next(i for i in present if keyed[i] == k)].strip()) for k in distinct_values)
        raise InputError(f"labels in column {label_column!r} are {shown}, not 0/1: pass --positive-label to name "
                         "the positive class", path)
    pos_key = positive_label.strip()
    if not non_numeric:
        num = _number(pos_key)
        pos_key = repr(num) if num is not None else pos_key
    if pos_key not in distinct_values:
        shown = ", ".join(repr(v) for v in distinct)
        raise InputError(f"--positive-label {positive_label!r} is not a value of column {label_column!r} "
                         f"(values: {shown})", path)
    negative = next((raw[i].strip() for i in present if keyed[i] != pos_key), None)
    for i in present:
        values[i] = 1.0 if keyed[i] == pos_key else 0.0
    return Labels("binary", values, positive_label.strip(), negative)


# ------------------------------------------------------------------------------------------ scoring
def default_score_column(method: str, columns: list[str]) -> str:
    """The score column used for ``method`` (see the module docstring)."""
    if method == "head":
        diffs = [c for c in columns if c.startswith("head_diff")]
        if "head_diff" in diffs:
            return "head_diff"
        if diffs == ["head_diff_0", "head_diff_1"]:
            return "head_diff_1"  # two-class head: change of the positive class's probability
        raise ConfigError(f"the head has several outputs ({', '.join(diffs) or 'none scored'}); choose one with "
                          "--score-column")
    if method not in DEFAULT_SCORE:
        raise ConfigError(f"unknown method {method!r}; choose one of {', '.join(DEFAULT_SCORE)}")
    return DEFAULT_SCORE[method]


def default_direction(score_column: str, kind: str) -> str:
    """``"low"`` or ``"high"``: the score end that points at label 1 / higher labels under ``auto``."""
    key = next((k for k in ("masked_llr", "llr", "emb_cosine", "emb_l2", "head") if score_column.startswith(k)), None)
    if key is None:
        raise ConfigError(f"no default direction for score column {score_column!r}; pass --positive-is low|high")
    damage = _DAMAGE_END[key]
    if kind == "binary" or key == "head":
        return damage
    return "high" if damage == "low" else "low"  # continuous labels are fitness-like: damage points at low labels


def ranking_metrics(labels: np.ndarray, oriented: np.ndarray, kind: str) -> dict[str, float | None]:
    """AUROC/AUPRC (binary) or Spearman/Pearson (continuous) of the oriented score; None when undefined.

    Uses :func:`genoseq.eval.metrics.classification_metrics` with probabilities ``[-s, s]`` (its AUROC and
    AUPRC are those of column 1, i.e. sklearn's ``roc_auc_score(labels, s)`` and
    ``average_precision_score(labels, s)``) and :func:`~genoseq.eval.metrics.regression_metrics`.
    """
    from genoseq.eval.metrics import classification_metrics, regression_metrics

    out: dict[str, float | None] = {"auroc": None, "auprc": None, "spearman": None, "pearson": None}
    y = np.asarray(labels, dtype=np.float64)
    s = np.asarray(oriented, dtype=np.float64)
    if kind == "binary":
        if len(np.unique(y)) == 2:
            m = classification_metrics(y.astype(np.int64), np.stack([-s, s], axis=1))
            out["auroc"], out["auprc"] = m["auroc"], m["auprc"]
    elif len(y) >= 2:
        m = regression_metrics(y, s)
        out["spearman"], out["pearson"] = m["spearman"], m["pearson"]
    return {k: (None if v is None or math.isnan(v) else float(v)) for k, v in out.items()}


def _direction_text(score_column: str, positive_is: str, kind: str, labels: Labels) -> str:
    target = f"label {labels.positive_label!r} (positive)" if kind == "binary" else "higher labels"
    return (f"metrics use {'-' if positive_is == 'low' else ''}{score_column}: a {positive_is}er "
            f"{score_column} ranks a variant towards {target}")


def run_variant_benchmark(
    model: Any,
    genome: Any,
    table: str | os.PathLike[str],
    label_column: str,
    *,
    method: str = "llr",
    score_column: str | None = None,
    positive_is: str = "auto",
    label_type: str = "auto",
    positive_label: str | None = None,
    skip_unlabelled: bool = False,
    window: int | None = None,
    rc_average: bool = True,
    layer: int = -1,
    pool_window: int | None = None,
    batch_size: int = 8,
    model_name: str | None = None,
    progress: Any = None,
) -> VariantBenchmarkResult:
    """Score the labelled variant table ``table`` with ``model`` and compute the ranking metrics.

    Args:
        model: a GenoseqModel suited to ``method`` (see :func:`genoseq.score_variants`).
        genome: a :class:`genoseq.Genome`, FASTA path or ``{contig: sequence}``.
        table: TSV/CSV path (see :func:`read_labelled_table`).
        label_column: name of the label column.
        method: ``llr``, ``masked_llr``, ``embedding`` or ``head``.
        score_column: score column of the ScoreTable (default per method, module docstring).
        positive_is: ``low``/``high``/``auto`` (module docstring).
        label_type, positive_label, skip_unlabelled: see :func:`parse_labels`.
        window, rc_average, layer, pool_window, batch_size, progress: passed to ``score_variants``.
        model_name: recorded in the metrics (e.g. the model directory).

    Returns:
        A :class:`VariantBenchmarkResult`; ``metrics`` holds ``n`` (data rows), ``n_scored`` (rows in the
        metrics), ``skipped`` (rows left out, by reason: scorer status or ``unlabelled`` or ``nan_score``;
        ``n == n_scored + sum(skipped)``), the label summary, ``auroc``/``auprc``/``spearman``/``pearson``
        (None when not applicable), ``method``, ``score_column``, ``positive_is``, ``score_sign``,
        ``direction``, ``model``, ``window``, ``scoring_seconds``, ``wall_seconds``.
    """
    from genoseq.infer.variants import METHOD_COLUMNS, score_variants

    t0 = time.perf_counter()
    if positive_is not in DIRECTIONS:
        raise ConfigError(f"--positive-is {positive_is!r}: choose one of {', '.join(DIRECTIONS)}")
    if method in METHOD_COLUMNS and method != "head":  # check the score column before the (slow) scoring
        _check_column(score_column or DEFAULT_SCORE[method], method,
                      [c for c in METHOD_COLUMNS[method] if c not in _NOT_SCORES])
    tab = read_labelled_table(table, label_column)
    labels = parse_labels(tab, label_column, label_type, positive_label, skip_unlabelled)
    variants = tab.variants()
    t1 = time.perf_counter()
    scored = score_variants(model, genome, variants, method=method, window=window, rc_average=rc_average,
                            layer=layer, pool_window=pool_window, batch_size=batch_size, progress=progress)
    scoring_seconds = time.perf_counter() - t1
    score_cols = [c for c in scored.columns if c not in _NOT_SCORES]
    column = score_column or default_score_column(method, score_cols)
    _check_column(column, method, score_cols)
    direction = default_direction(column, labels.kind) if positive_is == "auto" else positive_is
    sign = -1.0 if direction == "low" else 1.0
    scores = np.array([np.nan if v is None else float(v) for v in scored[column]], dtype=np.float64)
    statuses = scored["status"]
    reasons: list[str | None] = []
    for i in range(len(tab.rows)):
        if math.isnan(labels.values[i]):
            reasons.append("unlabelled")
        elif statuses[i] != "ok":
            reasons.append(statuses[i])
        elif not math.isfinite(scores[i]):
            reasons.append("nan_score")
        else:
            reasons.append(None)
    used = np.array([r is None for r in reasons])
    y, s = labels.values[used], sign * scores[used]
    metrics: dict[str, Any] = {
        "table": str(tab.path), "label_column": label_column, "label_kind": labels.kind,
        "n": len(tab.rows), "n_scored": int(used.sum()),
        "skipped": dict(sorted(Counter(r for r in reasons if r is not None).items())),
    }
    if labels.kind == "binary":
        metrics.update(positive_label=labels.positive_label, negative_label=labels.negative_label,
                       n_positive=int((y == 1).sum()), n_negative=int((y == 0).sum()),
                       positive_fraction=float(y.mean()) if len(y) else None)
    metrics.update(ranking_metrics(y, s, labels.kind))
    notes = []
    if labels.kind == "binary" and metrics["auroc"] is None:
        notes.append("AUROC/AUPRC need both classes among the scored variants")
    if labels.kind == "continuous" and metrics["spearman"] is None:
        notes.append("Spearman/Pearson need two or more scored variants with non-constant labels and scores")
    metrics.update(
        method=method, score_column=column, positive_is=direction, score_sign=int(sign),
        direction=_direction_text(column, direction, labels.kind, labels),
        model=model_name, parameters=_n_params(model), window=window or _default_window(model),
        rc_average=rc_average, scoring_seconds=round(scoring_seconds, 4),
        wall_seconds=round(time.perf_counter() - t0, 4), notes=notes,
    )
    columns, rows = _output_rows(tab, scored, score_cols, labels.values, reasons)
    return VariantBenchmarkResult(metrics, columns, rows, labels.values, scores, used, tab.lines)


def _check_column(column: str, method: str, score_cols: list[str]) -> None:
    if column not in score_cols:
        raise ConfigError(f"score column {column!r} is not produced by method {method!r}; "
                          f"its score columns are: {', '.join(score_cols)}")


def _n_params(model: Any) -> int | None:
    try:
        return int(sum(p.numel() for p in model.parameters()))
    except AttributeError:
        return None


def _default_window(model: Any) -> int:
    from genoseq.infer.variants import default_window

    return default_window(model)


def _output_rows(
    tab: LabelledTable, scored: Any, score_cols: list[str], labels: np.ndarray, reasons: list[str | None],
) -> tuple[list[str], list[list[Any]]]:
    """Input columns, then status, message, the score columns, window bounds, label_value, in_metrics."""
    extra = ["status", "message", *score_cols, "window_start", "window_end", "label_value", "in_metrics"]
    taken = set(tab.columns)
    names = [f"genoseq_{c}" if c in taken else c for c in extra]
    rows = []
    for i, fields in enumerate(tab.rows):
        r = scored[i]
        values = [r.get(c) for c in extra[:-2]]
        rows.append(list(fields[: len(tab.columns)]) + values
                    + [None if math.isnan(labels[i]) else labels[i], int(reasons[i] is None)])
    return tab.columns + names, rows


# ------------------------------------------------------------------------------------------ outputs
def write_outputs(result: VariantBenchmarkResult, out: str | os.PathLike[str]) -> dict[str, Path]:
    """Write ``OUT/scores.tsv``, ``OUT/metrics.json`` and ``OUT/roc.png`` (binary) or ``OUT/scatter.png``
    (continuous), each atomically. Returns ``{name: path}``."""
    from genoseq._atomic import write_json
    from genoseq.infer.table import ScoreTable

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"scores": out / "scores.tsv", "metrics": out / "metrics.json"}
    ScoreTable([dict(zip(result.columns, r, strict=True)) for r in result.rows], result.columns).to_tsv(paths["scores"])
    write_json(paths["metrics"], result.metrics)
    if result.metrics["label_kind"] == "binary":
        paths["plot"] = plot_roc(result, out / "roc.png")
    else:
        paths["plot"] = plot_scatter(result, out / "scatter.png")
    return paths


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def _pyplot():  # noqa: ANN202
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_roc(result: VariantBenchmarkResult, path: str | os.PathLike[str]) -> Path:
    """ROC curve (left) and precision-recall curve (right) of the oriented score on the scored variants."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    plt = _pyplot()
    m = result.metrics
    y = result.labels[result.used].astype(np.int64)
    s = m["score_sign"] * result.scores[result.used]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(9, 4))
    if m["auroc"] is not None:
        fpr, tpr, _ = roc_curve(y, s)
        ax.plot(fpr, tpr, label=f"AUROC {m['auroc']:.3f}")
        prec, rec, _ = precision_recall_curve(y, s)
        bx.plot(rec, prec, label=f"AUPRC {m['auprc']:.3f}")
        bx.axhline(m["positive_fraction"], color="grey", ls=":", label=f"base rate {m['positive_fraction']:.3f}")
    else:
        ax.text(0.5, 0.5, "one class only", ha="center")
    ax.plot([0, 1], [0, 1], color="grey", ls=":")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    bx.set_xlabel("recall")
    bx.set_ylabel("precision")
    for a in (ax, bx):
        a.grid(alpha=0.3)
        if a.get_legend_handles_labels()[0]:
            a.legend(loc="lower right" if a is ax else "upper right")
    sign = "-" if m["score_sign"] < 0 else ""
    fig.suptitle(f"{sign}{m['score_column']} ({m['method']}), n = {m['n_scored']} "
                 f"({m['n_positive']} positive '{m['positive_label']}')", fontsize=10)
    fig.tight_layout()
    return _save(fig, Path(path))


def plot_scatter(result: VariantBenchmarkResult, path: str | os.PathLike[str]) -> Path:
    """Raw score (x) against the continuous label (y) of the scored variants, Spearman in the title."""
    plt = _pyplot()
    m = result.metrics
    fig, ax = plt.subplots(figsize=(5, 4.2))
    ax.scatter(result.scores[result.used], result.labels[result.used], s=8, alpha=0.6)
    ax.set_xlabel(m["score_column"])
    ax.set_ylabel(m["label_column"])
    ax.grid(alpha=0.3)
    rho = "n/a" if m["spearman"] is None else f"{m['spearman']:.3f}"
    sign = "-" if m["score_sign"] < 0 else ""
    ax.set_title(f"Spearman({sign}{m['score_column']}, label) = {rho}, n = {m['n_scored']}", fontsize=10)
    fig.tight_layout()
    return _save(fig, Path(path))
