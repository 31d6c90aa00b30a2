"""Summarise a multirun (basic or Optuna sweep) into one table and one plot.

    python scripts/summarize_runs.py multirun/train/2026-01-01_12-00-00 [--out DIR]

Reads every job's ``.hydra/overrides.yaml`` and ``results.json`` and writes, to ``--out`` (default: the multirun
dir), ``summary.md`` and ``summary.csv`` (one row per job, best objective first) and ``summary.png`` (the
objective against each swept hyperparameter, a heatmap for a two-parameter grid; ``simcse_pl/plots.py``).
For the paper's table, mean ± sd over seeds and training curves: ``simcse-report``."""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path
from typing import Any

try:
    from simcse_pl.cli.report import read_run
except ImportError:  # run from a checkout without the package installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from simcse_pl.cli.report import read_run

OBJECTIVE = "objective"


def read_job(job_dir: Path, multirun_dir: Path) -> dict[str, Any]:
    """One row: ``params`` (the job's overrides), its objective (best validated value of ``results["metric"]``,
    as run() returns it), before/final/test metrics and throughput; ``status`` says why there is no objective.
    The run folder is read by ``simcse-report``'s reader (``simcse_pl.cli.report.read_run``)."""
    run = read_run(job_dir, multirun_dir)
    row: dict[str, Any] = {"job": run.label, "params": run.params}
    if run.results is None:
        return {**row, "status": job_error(job_dir) or run.problem or "no results.json (failed or running)"}
    results = run.results
    metric = row["metric"] = run.metric
    row[OBJECTIVE] = run.objective
    row["best_step"] = results.get("best", {}).get("step")
    row["before"] = results.get("before", {}).get(metric)
    row["final"] = results.get("final", {}).get(metric)
    row.update(results.get("test", {}))
    row["sentences_per_sec"] = results.get("train", {}).get("train/sentences_per_sec")
    run_info = job_dir / "run_info.json"
    if run_info.exists():
        row["git_commit"] = (json.loads(run_info.read_text()).get("git", {}).get("commit") or "")[:10]
    row["status"] = "ok"
    return row


def job_error(job_dir: Path) -> str | None:
    """The last ``error:`` line a failed job wrote to its log (simcse_pl.cli.reporting logs it there in a sweep)."""
    lines = [line.partition("] - ")[2] for log in sorted(job_dir.glob("*.log"))
             for line in log.read_text(errors="replace").splitlines() if "][ERROR] - error: " in line]
    return f"failed: {lines[-1].removeprefix('error: ')}" if lines else None


def collect(multirun_dir: Path) -> list[dict[str, Any]]:
    """All jobs under ``multirun_dir`` (any depth, so custom ``hydra.sweep.subdir`` layouts work), best first."""
    jobs = sorted(p.parent.parent for p in multirun_dir.rglob("overrides.yaml") if p.parent.name == ".hydra")
    rows = [read_job(job, multirun_dir) for job in jobs]
    rows.sort(key=lambda r: -r[OBJECTIVE] if _is_number(r.get(OBJECTIVE)) else math.inf)
    return rows


def swept_keys(rows: list[dict[str, Any]]) -> list[str]:
    """Overrides whose value differs between jobs: the hyperparameters the sweep varied."""
    keys = list(dict.fromkeys(k for row in rows for k in row["params"]))
    return [k for k in keys if len({repr(r["params"].get(k)) for r in rows}) > 1]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1 or abs(value) >= 1e4 else f"{value:.2f}"
    return str(value)


def table(rows: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns (job, swept hyperparameters, objective, other results) and flat rows for them."""
    swept = swept_keys(rows)
    results = list(dict.fromkeys(k for row in rows for k in row if k not in ("job", "params", "metric", OBJECTIVE)))
    flat = [{"job": r["job"], **{k: r["params"].get(k) for k in swept}, **r} for r in rows]
    return ["job", *swept, OBJECTIVE, *results], flat


def to_markdown(rows: list[dict[str, Any]], cols: list[str], metric: str) -> str:
    lines = [
        f"objective = best `{metric}` over validations (what the sweep maximises), best job first",
        "",
        "| " + " | ".join(cols) + " |",
        "|" + "---|" * len(cols),
    ]
    lines += ["| " + " | ".join(_fmt(row.get(c)) for c in cols) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_csv(rows: list[dict[str, Any]], cols: list[str], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def plot(rows: list[dict[str, Any]], keys: list[str], metric: str, path: Path) -> None:
    """The objective against each swept hyperparameter (a heatmap for a 2-parameter grid), the untrained model's
    score as a dashed line: ``simcse_pl.cli.plots.objective_figure``, the figure ``simcse-report`` draws too."""
    from simcse_pl.cli.plots import objective_figure

    baselines = [r["before"] for r in rows if _is_number(r.get("before"))]
    baseline = sorted(baselines)[len(baselines) // 2] if baselines else None
    objective_figure(rows, keys, metric, path, baseline=baseline)


def summarize(multirun_dir: Path, out_dir: Path | None = None) -> str:
    """Write summary.md / .csv / .png for ``multirun_dir``; returns the markdown table."""
    rows = collect(multirun_dir)
    if not rows:
        raise SystemExit(f"no jobs (.hydra/overrides.yaml) under {multirun_dir}")
    out = out_dir or multirun_dir
    out.mkdir(parents=True, exist_ok=True)
    metric = next((r["metric"] for r in rows if "metric" in r), "objective")
    cols, flat = table(rows)
    markdown = to_markdown(flat, cols, metric)
    (out / "summary.md").write_text(markdown)
    write_csv(flat, cols, out / "summary.csv")
    plot(rows, swept_keys(rows), metric, out / "summary.png")
    return markdown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("multirun_dir", type=Path)
    parser.add_argument("--out", type=Path, default=None, help="where to write (default: the multirun dir)")
    args = parser.parse_args()
    print(summarize(args.multirun_dir, args.out))
    print(f"wrote summary.md, summary.csv, summary.png to {args.out or args.multirun_dir}")


if __name__ == "__main__":
    main()
