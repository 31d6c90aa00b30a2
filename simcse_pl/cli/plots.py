"""The figures of ``simcse-report`` (``report.md``): a sweep's objectives, the training curves and the alignment /
uniformity view, each run labelled by its swept overrides.

Conventions (issue 15, item 9): every axis is labelled with the metric and its unit; a y range is never narrower
than ``MIN_SPAN`` points, so run-to-run noise does not look like a trend; the untrained model's score is a
dashed horizontal line; a line joins points only where it means something (a curve over steps, means over
repeated values), never single points; ticks sit at the values swept when they are few; every point lies
inside the frame (margins); a sweep of exactly two hyperparameters on a grid is a heatmap.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

MIN_SPAN = 5.0  # points of a ×100 metric: the narrowest y range drawn
FEW_POINTS = 20  # a line with at most this many points also marks each one
MARKERS = ("o", "s", "^", "D", "v", "P", "*", "X")  # one shape per run in the alignment / uniformity view
OBJECTIVE = "objective"
DPI = 130


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1 or abs(value) >= 1e4 else f"{value:.2f}"
    return str(value)


def metric_label(metric: str) -> str:
    """``val/stsb_spearman`` -> ``STS-B dev Spearman (×100)``."""
    from simcse_pl.console import metric_title

    title = metric_title(metric)
    return f"{title} (×100)" if title != metric or metric.endswith(("spearman", "pearson")) else metric


def honest_ylim(ax: Any, values: Sequence[float], min_span: float = MIN_SPAN) -> None:
    """A y range holding every value with a margin, and at least ``min_span`` wide (centred on the data)."""
    values = [v for v in values if is_number(v)]
    if not values:
        return
    low, high = min(values), max(values)
    span = max(high - low, min_span)
    middle = (low + high) / 2
    ax.set_ylim(middle - 0.6 * span, middle + 0.6 * span)


def _sorted_values(values: Sequence[Any]) -> list[Any]:
    return sorted(set(values), key=lambda v: (not is_number(v), v if is_number(v) else str(v)))


def _apart(points: list[float]) -> bool:
    """Sorted points no closer than a tenth of their span: their tick labels will not overlap."""
    span = points[-1] - points[0] if points else 0.0
    return span == 0 or all(b - a > span / 10 for a, b in zip(points, points[1:]))


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def objective_panel(ax: Any, rows: Sequence[Mapping[str, Any]], key: str, metric: str,
                    baseline: float | None = None) -> None:
    """Objective against one swept hyperparameter: every finished job a point, the best a star, the mean per value
    joined by a line only when some value was run more than once, the untrained baseline a dashed line."""
    done = [r for r in rows if is_number(r.get(OBJECTIVE))]
    values = [r["params"].get(key, r.get(key)) for r in done]
    numeric = all(is_number(v) for v in values) and bool(values)
    labels = _sorted_values(values)
    x = values if numeric else [labels.index(v) for v in values]
    y = [r[OBJECTIVE] for r in done]
    ax.scatter(x, y, alpha=0.75, zorder=3, label="job")
    if done:
        best = max(range(len(done)), key=lambda i: y[i])
        ax.scatter([x[best]], [y[best]], marker="*", s=220, color="tab:red", label="best", zorder=4)
    repeated = len(labels) < len(values) and len(labels) > 1  # a line needs two x values with repeats
    if repeated:
        positions = labels if numeric else list(range(len(labels)))
        means = [_mean([yy for yy, v in zip(y, values) if v == label]) for label in labels]
        ax.plot(positions, means, "-", color="tab:orange", label="mean per value", zorder=2)
    if baseline is not None and is_number(baseline):
        ax.axhline(baseline, color="gray", linestyle="--", linewidth=1, label="untrained", zorder=1)
    log_x = numeric and min(labels) > 0 and max(labels) / min(labels) > 10
    if log_x:
        ax.set_xscale("log")
    if not numeric:
        ax.set_xticks(list(range(len(labels))), [fmt(v) for v in labels], rotation=30, ha="right")
        ax.set_xlim(-0.5, len(labels) - 0.5)
    elif len(labels) <= 8 and _apart([math.log10(v) if log_x else v for v in labels]):
        ax.set_xticks(labels, [fmt(v) for v in labels])
        ax.minorticks_off()
    ax.margins(x=0.08)
    honest_ylim(ax, [*y, *([baseline] if is_number(baseline) else [])])
    ax.set_xlabel(key)
    ax.set_ylabel(f"best {metric_label(metric)}")
    ax.grid(alpha=0.3)


def is_grid(rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> bool:
    """Two swept keys whose value combinations cover (most of) their product: a grid, not a random search."""
    if len(keys) != 2:
        return False
    a = {repr(r["params"].get(keys[0])) for r in rows}
    b = {repr(r["params"].get(keys[1])) for r in rows}
    combos = {(repr(r["params"].get(keys[0])), repr(r["params"].get(keys[1]))) for r in rows}
    return len(a) > 1 and len(b) > 1 and len(combos) >= 0.75 * len(a) * len(b)


def heatmap_panel(fig: Any, ax: Any, rows: Sequence[Mapping[str, Any]], keys: Sequence[str], metric: str) -> None:
    """Mean objective per (key 0, key 1) cell, each cell annotated; empty cells left blank."""
    import numpy as np

    done = [r for r in rows if is_number(r.get(OBJECTIVE))]
    xs = _sorted_values([r["params"].get(keys[0]) for r in done])
    ys = _sorted_values([r["params"].get(keys[1]) for r in done])
    grid = np.full((len(ys), len(xs)), np.nan)
    for j, yv in enumerate(ys):
        for i, xv in enumerate(xs):
            cell = [r[OBJECTIVE] for r in done if r["params"].get(keys[0]) == xv and r["params"].get(keys[1]) == yv]
            if cell:
                grid[j, i] = _mean(cell)
    image = ax.imshow(grid, cmap="viridis", aspect="auto", origin="lower")
    finite = grid[np.isfinite(grid)]
    middle = (finite.min() + finite.max()) / 2 if finite.size else 0
    for j in range(len(ys)):
        for i in range(len(xs)):
            if np.isfinite(grid[j, i]):
                ax.text(i, j, f"{grid[j, i]:.2f}", ha="center", va="center", fontsize=9,
                        color="white" if grid[j, i] < middle else "black")
    ax.set_xticks(range(len(xs)), [fmt(v) for v in xs])
    ax.set_yticks(range(len(ys)), [fmt(v) for v in ys])
    ax.set_xlabel(keys[0])
    ax.set_ylabel(keys[1])
    fig.colorbar(image, ax=ax, label=f"best {metric_label(metric)}, mean per cell")


def objective_figure(rows: Sequence[Mapping[str, Any]], keys: Sequence[str], metric: str, path: Path,
                     baseline: float | None = None, title: str | None = None) -> None:
    """``summary.png`` / the report's sweep figure: one panel per swept hyperparameter, or a heatmap for a
    two-parameter grid. Nothing swept: one point per job."""
    plt = _pyplot()
    done = [r for r in rows if is_number(r.get(OBJECTIVE))]
    if is_grid(done, keys):
        fig, ax = plt.subplots(figsize=(6.4, 4.8))
        heatmap_panel(fig, ax, done, keys, metric)
    else:
        keys = list(keys) or ["job"]
        fig, axes = plt.subplots(1, len(keys), figsize=(max(5.5, 4.6 * len(keys)), 4.2), squeeze=False)
        for ax, key in zip(axes[0], keys):
            objective_panel(ax, done, key, metric, baseline)
        axes[0][0].legend(fontsize=8, loc="best")
    untrained = f"; untrained {baseline:.2f}" if is_grid(done, keys) and is_number(baseline) else ""
    fig.suptitle(title or f"best {metric_label(metric)} per job ({len(done)} of {len(rows)} jobs finished{untrained})",
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def curves_figure(runs: Sequence[Mapping[str, Any]], metric: str, path: Path) -> None:
    """Dev metric (left) and training loss (right) against the step, one line per run; the untrained model's dev
    score (step 0) dashed. ``runs``: ``{"label", "validations": [(step, {metric: value})], "loss": [(step, v)]}``,
    and optionally ``log_every`` (``trainer.log_every_n_steps``) and ``steps`` (steps trained), which the loss
    panel quotes when a run too short to log its loss leaves it empty."""
    fig = _curves(runs, metric)
    fig.savefig(path, dpi=DPI)
    _pyplot().close(fig)


def _curves(runs: Sequence[Mapping[str, Any]], metric: str) -> Any:
    """The figure of ``curves_figure``. Each run's line starts at its own untrained score when it has one, so a run
    validated once after training still shows where it went from."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    values, baselines = [], []
    for run in runs:
        points = sorted((s, m[metric]) for s, m in run["validations"] if is_number(m.get(metric)))
        baselines += [v for s, v in points if s == 0]
        if any(s > 0 for s, _ in points):
            style = "-o" if len(points) > 1 else "o"
            left.plot([s for s, _ in points], [v for _, v in points], style, markersize=3, label=run["label"])
            values += [v for _, v in points]
        if run["loss"]:
            style = "-o" if len(run["loss"]) <= FEW_POINTS else "-"  # a few logged steps show as points
            right.plot([s for s, _ in run["loss"]], [v for _, v in run["loss"]], style, linewidth=1, markersize=3,
                       label=run["label"])
    if baselines:
        baseline = _mean(baselines)
        left.axhline(baseline, color="gray", linestyle="--", linewidth=1, label=f"untrained ({baseline:.2f})")
        values.append(baseline)
    honest_ylim(left, values)
    left.set_xlabel("training step")
    left.set_ylabel(metric_label(metric))
    left.set_title("dev score over training", fontsize=10)
    right.set_xlabel("training step")
    right.set_ylabel("training loss")
    right.set_title("training loss (logged steps)", fontsize=10)
    if not any(run["loss"] for run in runs):
        right.text(0.5, 0.5, no_loss_note(runs), transform=right.transAxes, ha="center", va="center", fontsize=9,
                   wrap=True, color="dimgray")
    from matplotlib.ticker import MaxNLocator

    for ax in (left, right):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.margins(x=0.03)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def no_loss_note(runs: Sequence[Mapping[str, Any]]) -> str:
    """Why the loss panel is empty: the loss is logged every ``trainer.log_every_n_steps`` steps, and the runs
    ended before the first of them."""
    every = sorted({r.get("log_every") for r in runs if r.get("log_every")})
    steps = sorted({r.get("steps") for r in runs if r.get("steps") is not None})
    logged = f"every {'/'.join(map(str, every))} steps" if every else "every trainer.log_every_n_steps steps"
    trained = f" and these runs trained {'/'.join(map(str, steps))}" if steps else ""
    return (f"no training loss logged:\nthe loss is logged {logged}{trained}\n"
            "(set trainer.log_every_n_steps lower for short runs)")


def align_uniform_figure(runs: Sequence[Mapping[str, Any]], path: Path, task: str = "stsb") -> None:
    """The paper's Figure 2 view: alignment (x) against uniformity (y) at each validation, one marker per
    validation coloured by step, joined in order; lower is better on both axes. The untrained point is a cross.
    Each run has its own marker shape, named in the legend by its label."""
    fig = _align_uniform(runs, task)
    fig.savefig(path, dpi=DPI)
    _pyplot().close(fig)


def _align_uniform(runs: Sequence[Mapping[str, Any]], task: str) -> Any:
    """The figure of ``align_uniform_figure``."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.2, 4.8))
    align_key, uniform_key = f"val/{task}_align", f"val/{task}_uniform"
    steps = [s for run in runs for s, m in run["validations"] if align_key in m]
    scatter = None
    drawn = [run for run in runs if any(is_number(m.get(align_key)) and is_number(m.get(uniform_key))
                                        for _, m in run["validations"])]
    for marker, run in zip(itertools.cycle(MARKERS), drawn):
        points = [(s, m[align_key], m[uniform_key]) for s, m in run["validations"]
                  if is_number(m.get(align_key)) and is_number(m.get(uniform_key))]
        if len(points) > 1:
            ax.plot([a for _, a, _ in points], [u for _, _, u in points], "-", color="lightgray", zorder=1)
        scatter = ax.scatter([a for _, a, _ in points], [u for _, _, u in points], c=[s for s, _, _ in points],
                             cmap="viridis", vmin=min(steps), vmax=max(steps), zorder=2, s=28, marker=marker,
                             label=run["label"])
        untrained = [(a, u) for s, a, u in points if s == 0]
        if untrained:
            ax.scatter(*untrained[0], marker="x", color="black", s=60, zorder=3)
    if scatter is not None:
        fig.colorbar(scatter, ax=ax, label="training step")
        legend = ax.legend(fontsize=7, loc="best", title="run (colour: step)", title_fontsize=7)
        for handle in legend.legend_handles:  # the legend's markers in one neutral colour: the shape is the run
            handle.set_color("dimgray")
    ax.set_xlabel(r"$\ell_{align}$ (STS-B dev pairs scored > 4; lower is better)")
    ax.set_ylabel(r"$\ell_{uniform}$ (lower is better)")
    ax.set_title("alignment vs uniformity per validation (× = untrained)", fontsize=10)
    ax.margins(0.12)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
