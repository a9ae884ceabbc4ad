"""Training-curve plot (PNG) from a run's ``logs/metrics.csv``; matplotlib is imported lazily (Agg)."""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path


def read_metrics(csv_path: str | Path) -> dict[str, list[tuple[int, float]]]:
    """Lightning CSVLogger file -> ``{metric: [(step, value), ...]}`` (empty cells skipped)."""
    series: dict[str, list[tuple[int, float]]] = {}
    with open(csv_path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            step = row.get("step")
            if step in (None, ""):
                continue
            for key, value in row.items():
                if key in ("step", "epoch") or value in (None, ""):
                    continue
                try:
                    v = float(value)
                except ValueError:
                    continue
                if math.isfinite(v):
                    series.setdefault(key, []).append((int(float(step)), v))
    return series


def plot_curves(csv_path: str | Path, out_png: str | Path, title: str = "", monitor: str | None = None) -> Path:
    """Plot train/val loss (left) and the monitored validation metric (right) against the step.

    Returns the PNG path (written atomically).
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    series = read_metrics(csv_path)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    ax = axes[0]
    for key, style in (("train/loss", "-"), ("val/loss", "o-")):
        if key in series:
            xs, ys = zip(*series[key], strict=True)
            ax.plot(xs, ys, style, label=key, markersize=3)
    ax.set_xlabel("step (batches)")
    ax.set_ylabel("loss (nats)")
    if ax.get_lines():
        ax.legend(loc="best")
    ax.grid(alpha=0.3)
    ax = axes[1]
    keys = [monitor] if monitor and monitor in series and monitor != "val/loss" else []
    keys += [k for k in ("val/bpb", "val/mcc", "val/pearson", "val/auroc") if k in series and k not in keys][:2]
    for key in keys:
        xs, ys = zip(*series[key], strict=True)
        ax.plot(xs, ys, "o-", label=key, markersize=3)
    ax.set_xlabel("step (batches)")
    if keys:
        ax.legend(loc="best")
    else:
        ax.text(0.5, 0.5, "no validation metric", ha="center")
    ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out_png = Path(out_png)
    tmp = out_png.with_name(f".{out_png.stem}.tmp-{os.getpid()}.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, out_png)
    return out_png
