"""Evaluation reports: per-group summaries, a Markdown table and a bar plot beside published numbers.

Pure functions over result rows (dicts with the ``results.csv`` columns, :data:`RESULT_COLUMNS`; one row per
task x model x mode x seed; metrics are fractions, NaN where not applicable). :func:`write_results` writes
``results.csv``, ``summary.csv``, ``results.md`` and ``results.png`` atomically; :func:`read_results` reads a
``results.csv`` back so a report can be rebuilt without rerunning anything.

Shown values are in the published scale: x100 for the classification metrics (GUE MCC 74.17 = 0.7417), as
the papers print them; a published number given as a fraction (scale 1) is converted to that scale.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from genoseq._atomic import atomic_write, write_text
from genoseq.errors import ConfigError, InputError
from genoseq.eval.metrics import ALL_METRICS, CLASSIFICATION_METRICS
from genoseq.eval.published import PublishedNumber

RESULT_COLUMNS = (
    "suite", "task", "model", "mode", "seed",
    "mcc", "accuracy", "f1", "auroc", "auprc", "pearson", "spearman", "r2",
    "train_seconds", "parameters", "n_train", "n_dev", "n_test", "details",
)
GROUP_KEYS = ("suite", "task", "model", "mode")
_TEXT_COLUMNS = ("suite", "task", "model", "mode", "details")
_INT_COLUMNS = ("seed", "parameters", "n_train", "n_dev", "n_test")
_FLOAT_COLUMNS = (*ALL_METRICS, "train_seconds")

# ---------------------------------------------------------------------------------------------- helpers


def _num(value: Any) -> float:
    """A cell as float: None / '' / 'nan' -> NaN."""
    if value is None or value == "":
        return math.nan
    return float(value)


def _mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1) of the finite values; sd 0.0 for one value, NaN for none."""
    xs = [x for x in values if math.isfinite(x)]
    if not xs:
        return math.nan, math.nan
    mean = math.fsum(xs) / len(xs)
    if len(xs) == 1:
        return mean, 0.0
    return mean, math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (len(xs) - 1))


def _extra_columns(rows: Iterable[dict[str, Any]]) -> list[str]:
    """Columns beyond :data:`RESULT_COLUMNS` (extra metrics), in order of first appearance."""
    extra: list[str] = []
    for row in rows:
        for key in row:
            if key not in RESULT_COLUMNS and key not in extra:
                extra.append(key)
    return extra


def _metric_columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Metric columns with at least one finite value: the standard metrics, then extra columns."""
    out = []
    for column in [*ALL_METRICS, *_extra_columns(rows)]:
        for row in rows:
            try:
                if math.isfinite(_num(row.get(column))):
                    out.append(column)
                    break
            except (TypeError, ValueError):
                continue
    return out


def _cell(value: Any) -> str:
    """A value as a CSV cell: floats round-trip (repr), NaN as 'nan', None as ''."""
    if value is None:
        return ""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)
    return str(value)


def _csv_text(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return buf.getvalue()


def _display_scale(metric: str, published: Sequence[PublishedNumber]) -> float:
    """The scale numbers are shown in: that of the published numbers (the largest), else 100 for
    classification metrics and 1 for regression ones."""
    if published:
        return max(p.scale for p in published)
    return 100.0 if metric in CLASSIFICATION_METRICS else 1.0


def _fmt_published(value: float) -> str:
    """A published number with at most two decimals and at least one: 69.0, 74.17, 75.4."""
    text = f"{value:.2f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def _label(model: str, mode: str) -> str:
    return f"{model} ({mode})"


def _select(
    rows: Sequence[dict[str, Any]], suite: str, metric: str, published: Sequence[PublishedNumber]
) -> tuple[list[dict[str, Any]], list[str], list[tuple[str, str]], list[str], dict[tuple[str, str], PublishedNumber]]:
    """Rows of ``suite``; their tasks and (model, mode) groups in first-seen order; published models with a
    number on one of those tasks; ``{(task, model): number}``."""
    if metric not in ALL_METRICS and metric not in _extra_columns(rows):
        raise ConfigError(f"unknown metric {metric!r}; expected one of {', '.join(ALL_METRICS)} or an extra column")
    ours = [r for r in rows if r.get("suite") == suite]
    tasks = list(dict.fromkeys(str(r["task"]) for r in ours))
    groups = list(dict.fromkeys((str(r["model"]), str(r["mode"])) for r in ours))
    refs = {(p.task, p.model): p for p in published if p.suite == suite and p.metric == metric}
    ref_models = list(dict.fromkeys(model for (task, model) in refs if task in tasks))
    return ours, tasks, groups, ref_models, refs


# ---------------------------------------------------------------------------------------------- public API


def summarize(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Group result rows by (suite, task, model, mode): seeds, mean and spread of every metric.

    Returns one dict per group in first-seen order with ``suite, task, model, mode, n_seeds``, then
    ``<metric>_mean`` and ``<metric>_sd`` for every metric column with a finite value in ``rows`` (the standard
    metrics, then extra columns), ``train_seconds_mean`` and ``parameters``. The sd is the sample standard
    deviation (ddof=1) over the seeds; it is 0.0 for a group with a single seed. NaN cells (metric not
    applicable) are left out of the mean and sd. ``parameters`` is the first row's value (the same model for
    every seed).

    Raises:
        InputError: a row lacks a group column or a seed, or two rows share (suite, task, model, mode, seed).
    """
    metrics = _metric_columns(rows)
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    seen: set[tuple[str, ...]] = set()
    for index, row in enumerate(rows):
        missing = [k for k in (*GROUP_KEYS, "seed") if row.get(k) in (None, "")]
        if missing:
            raise InputError(f"result row {index}: missing {', '.join(missing)}; expected the results.csv columns")
        key = tuple(str(row[k]) for k in GROUP_KEYS)
        if (*key, str(row["seed"])) in seen:
            raise InputError(
                f"result row {index}: seed {row['seed']} appears twice for suite={key[0]} task={key[1]} "
                f"model={key[2]} mode={key[3]}; expected one row per seed"
            )
        seen.add((*key, str(row["seed"])))
        groups.setdefault(key, []).append(row)
    out = []
    for key, members in groups.items():
        entry: dict[str, Any] = dict(zip(GROUP_KEYS, key, strict=True))
        entry["n_seeds"] = len(members)
        for metric in metrics:
            mean, sd = _mean_sd([_num(m.get(metric)) for m in members])
            entry[f"{metric}_mean"], entry[f"{metric}_sd"] = mean, sd
        entry["train_seconds_mean"] = _mean_sd([_num(m.get("train_seconds")) for m in members])[0]
        entry["parameters"] = members[0].get("parameters")
        out.append(entry)
    return out


def markdown_table(
    rows: Sequence[dict[str, Any]], suite: str, metric: str, published: Sequence[PublishedNumber]
) -> str:
    """A Markdown table of ``metric`` on ``suite``: one line per task we ran.

    Columns: each (model, mode) group of ``rows`` as ``mean ± sd`` over seeds, then each published model with
    a number on one of those tasks (blank where it has none). Values are in the published scale (x100 for
    classification metrics). Below the table: the seeds and parameters of our groups, the published models'
    notes (size, pretraining, protocol) and one footnote per source.
    """
    ours, tasks, groups, ref_models, refs = _select(rows, suite, metric, published)
    if not ours:
        return f"**{suite}: {metric}**: no results for this suite.\n"
    used = [p for p in refs.values() if p.model in ref_models and p.task in tasks]
    scale = _display_scale(metric, used)
    summary = {(s["task"], s["model"], s["mode"]): s for s in summarize(ours)}

    sources: list[str] = []
    model_sources: dict[str, list[int]] = {}
    for model in ref_models:
        for p in used:
            if p.model == model:
                if p.source not in sources:
                    sources.append(p.source)
                index = sources.index(p.source) + 1
                if index not in model_sources.setdefault(model, []):
                    model_sources[model].append(index)

    scale_text = f" ×{scale:g}" if scale != 1 else ""
    header = ["task", *(_label(m, mode) for m, mode in groups)]
    header += [f"{model} " + "".join(f"[{i}]" for i in model_sources[model]) for model in ref_models]
    lines = [
        f"**{suite}: {metric.upper() if metric in ('mcc', 'f1', 'auroc', 'auprc') else metric}{scale_text}"
        f" on the test split**",
        "",
        "| " + " | ".join(_md(h) for h in header) + " |",
        "|" + "---|" * len(header),
    ]
    for task in tasks:
        cells = [task]
        for model, mode in groups:
            s = summary.get((task, model, mode))
            mean = s.get(f"{metric}_mean", math.nan) if s else math.nan
            sd = s.get(f"{metric}_sd", math.nan) if s else math.nan
            cells.append("" if s is None else "n/a" if math.isnan(mean) else f"{mean * scale:.2f} ± {sd * scale:.2f}")
        for model in ref_models:
            p = refs.get((task, model))
            cells.append("" if p is None else _fmt_published(p.fraction * scale))
        lines.append("| " + " | ".join(_md(c) for c in cells) + " |")

    lines.append("")
    seed_parts = []
    for model, mode in groups:
        members = [s for s in summary.values() if (s["model"], s["mode"]) == (model, mode)]
        n_seeds = sorted({s["n_seeds"] for s in members})
        text = f"{_label(model, mode)} {'/'.join(str(n) for n in n_seeds)} seed{'s' if n_seeds != [1] else ''}"
        params = members[0].get("parameters") if members else None
        try:
            if params not in (None, "") and math.isfinite(float(params)):
                text += f", {int(float(params)):,} parameters"
        except (TypeError, ValueError):
            pass
        seed_parts.append(text)
    lines.append(
        "Ours: mean ± sample standard deviation (ddof=1) over seeds, 0.00 where a group has a single seed; "
        + "; ".join(seed_parts) + "."
    )
    if ref_models:
        notes = []
        for model in ref_models:
            model_notes = list(dict.fromkeys(p.note for p in used if p.model == model and p.note))
            notes.append(f"{model}: {'; '.join(model_notes)}" if model_notes else model)
        lines.append("")
        lines.append(
            "Published (numbers from the papers, not rerun here; models pretrained and/or larger as noted): "
            + "; ".join(notes) + "."
        )
        lines.append("")
        lines.extend(f"- [{index}] {source}" for index, source in enumerate(sources, start=1))
    return "\n".join(lines) + "\n"


def bar_plot(
    rows: Sequence[dict[str, Any]], suite: str, metric: str, published: Sequence[PublishedNumber],
    path: str | Path,
) -> Path:
    """Grouped bars per task: our (model, mode) groups (mean, sd error bars) and the published models (hatched).

    Values are in the same scale as :func:`markdown_table`. Written atomically (PNG, matplotlib Agg); returns
    the path.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ours, tasks, groups, ref_models, refs = _select(rows, suite, metric, published)
    used = [p for p in refs.values() if p.model in ref_models and p.task in tasks]
    scale = _display_scale(metric, used)
    summary = {(s["task"], s["model"], s["mode"]): s for s in summarize(ours)}
    series: list[tuple[str, list[float], list[float] | None, bool]] = []
    for model, mode in groups:
        means, sds = [], []
        for task in tasks:
            s = summary.get((task, model, mode), {})
            means.append(s.get(f"{metric}_mean", math.nan) * scale)
            sds.append(s.get(f"{metric}_sd", math.nan) * scale)
        series.append((_label(model, mode), means, sds, False))
    for model in ref_models:
        values = [refs[(t, model)].fraction * scale if (t, model) in refs else math.nan for t in tasks]
        series.append((f"{model} (published)", values, None, True))

    n_bars = max(1, len(series))
    width = 0.8 / n_bars
    fig = Figure(figsize=(min(18.0, max(6.0, 0.5 + len(tasks) * (0.12 * n_bars + 0.4))), 4.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    colors = [f"C{i % 10}" for i in range(n_bars)]
    for i, (label, values, errors, hatched) in enumerate(series):
        xs = [t + (i - (n_bars - 1) / 2) * width for t in range(len(tasks))]
        ax.bar(
            xs, values, width=width, label=label, color=colors[i], yerr=errors, capsize=3 if errors else 0,
            hatch="//" if hatched else None, edgecolor="black" if hatched else None, alpha=0.6 if hatched else 0.9,
        )
    ax.set_xticks(range(len(tasks)))
    ax.set_xticklabels(tasks, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(f"{metric}{f' ×{scale:g}' if scale != 1 else ''} (test)")
    ax.set_title(f"{suite}: {metric} (ours: mean ± sd over seeds; hatched: published)")
    ax.grid(axis="y", alpha=0.3)
    if series:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return atomic_write(Path(path), lambda tmp: fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight"))


def write_results(
    rows: Sequence[dict[str, Any]], out_dir: str | Path, suite: str, metric: str,
    published: Sequence[PublishedNumber] | None = None,
) -> dict[str, Path]:
    """Write ``results.csv``, ``summary.csv``, ``results.md`` and ``results.png`` into ``out_dir`` (atomically).

    ``results.csv`` has the columns of :data:`RESULT_COLUMNS` in that order, then any extra (metric) columns
    of the rows; a missing standard column is written empty. ``published`` defaults to the packaged numbers
    of ``suite`` (:func:`genoseq.eval.published.load_published`).

    Returns:
        ``{"results": ..., "summary": ..., "markdown": ..., "plot": ...}`` paths.
    """
    if published is None:
        from genoseq.eval.published import load_published

        published = load_published(suite)
    out = Path(out_dir)
    summary = summarize(rows)  # validates the rows before anything is written
    summary_columns = list(dict.fromkeys(k for s in summary for k in s))
    return {
        "results": write_text(out / "results.csv", _csv_text([*RESULT_COLUMNS, *_extra_columns(rows)], rows)),
        "summary": write_text(out / "summary.csv", _csv_text(summary_columns, summary)),
        "markdown": write_text(out / "results.md", markdown_table(rows, suite, metric, published)),
        "plot": bar_plot(rows, suite, metric, published, out / "results.png"),
    }


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """Read a ``results.csv`` written by :func:`write_results` back into rows.

    Types: text columns as str; ``seed``, ``parameters``, ``n_train``, ``n_dev``, ``n_test`` as int (None when
    empty); metrics, ``train_seconds`` and extra columns as float (NaN when empty or ``nan``).

    Raises:
        InputError: naming the file and line, when the header does not start with :data:`RESULT_COLUMNS`
            or a cell is not of its column's type.
    """
    path = Path(path)
    try:
        fh = open(path, newline="", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read results: {exc.strerror}", path=path) from exc
    rows: list[dict[str, Any]] = []
    with fh:
        reader = csv.reader(fh, strict=True)
        try:
            header = next(reader, None)
            if header is None or tuple(header[: len(RESULT_COLUMNS)]) != RESULT_COLUMNS:
                raise InputError(
                    f"expected a header starting with {','.join(RESULT_COLUMNS)}, got {','.join(header or [])}",
                    path=path, line=1,
                )
            extra = header[len(RESULT_COLUMNS):]
            for fields in reader:
                line = reader.line_num
                if not fields:
                    continue
                if len(fields) != len(header):
                    raise InputError(f"expected {len(header)} fields, got {len(fields)}", path=path, line=line)
                row: dict[str, Any] = {}
                for column, cell in zip(header, fields, strict=True):
                    row[column] = _parse_cell(path, line, column, cell, extra)
                rows.append(row)
        except csv.Error as exc:
            raise InputError(f"malformed CSV: {exc}", path=path, line=reader.line_num) from exc
    return rows


def _parse_cell(path: Path, line: int, column: str, cell: str, extra: Sequence[str]) -> Any:
    if column in _TEXT_COLUMNS:
        return cell
    if column in _INT_COLUMNS:
        if cell == "":
            return None
        try:
            value = float(cell)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or not value.is_integer():
            raise InputError(f"column '{column}': expected an integer, got {cell!r}", path=path, line=line)
        return int(value)
    if column in _FLOAT_COLUMNS or column in extra:
        try:
            return _num(cell)
        except ValueError:
            raise InputError(f"column '{column}': expected a number or nan, got {cell!r}", path=path, line=line) from None
    return cell
