"""``simcse-report RUN_OR_SWEEP_DIR [...]``: did I reproduce it, and which job of a sweep won? A ``report.md`` with
figures and a ``runs.csv``, from run folders.

    python train.py -m experiment=unsup_bert_base seed=1,2,3
    simcse-report multirun/unsup_bert_base/<date>_<time>        # -> report.md, runs.csv, curves.png, ...

Reads each run folder's ``results.json``, ``.hydra/config.yaml`` / ``overrides.yaml``, ``run_info.json``, its log and
``csv/metrics.csv`` (any folder under the arguments that has a ``.hydra/``) and writes to ``--out`` (default: the
one folder given, else ``./report``). Runs are labelled by their swept overrides (the keys whose values differ
across the runs, e.g. ``loss.tau=0.03``), each such key a column of the tables:

- ``report.md``: the paper's 7-task test table (Spearman ×100) for each run, the mean ± sd over runs that differ
  only in ``seed``, and the paper's reported numbers for the preset that was run (``PAPER``, the SimCSE paper's
  Table 5 / B.1; the presets' comments quote the same averages); the dev results, best job first, with each failed
  job's error;
- ``runs.csv``: one row per run (swept keys, objective, untrained / best / final dev score, test scores,
  throughput, git commit, status), best first, for a spreadsheet or pandas;
- ``curves.png``: the dev score and the training loss against the step, one line per run (untrained score dashed);
- ``align_uniform.png``: alignment vs uniformity at each validation (the paper's Figure 2 view), a marker per run;
- ``sweep.png``: for a sweep of other hyperparameters, the objective against each (a heatmap for a grid of two).

A damaged ``results.json`` (not JSON, cut short, or not the shape run.py writes) is one warning line naming it,
and the report goes on with the other runs (its row says it was left out); when every run's is damaged there is
nothing to report, and that is one error line (exit status 2).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simcse_pl.cli import plots
from simcse_pl.cli.plots import fmt, is_number
from simcse_pl.evaluation.base import PAPER_COLUMNS, unflatten

SEVEN = list(PAPER_COLUMNS)
# the SimCSE paper's test Spearman (×100, STS12-16 "all"), Table 5 (base) and Table B.1 (large); the average of each
# row is the "avg STS" in the preset's comment (tests/integration/test_report.py checks they agree)
PAPER: dict[str, tuple[float, ...]] = {
    "unsup_bert_base": (68.40, 82.41, 74.38, 80.91, 78.56, 76.85, 72.23),
    "unsup_bert_large": (70.88, 84.16, 76.43, 84.50, 79.76, 79.26, 73.88),
    "unsup_roberta_base": (70.16, 81.77, 73.24, 81.36, 80.65, 80.22, 68.56),
    "unsup_roberta_large": (72.86, 83.99, 75.62, 84.77, 81.80, 81.98, 71.26),
    "sup_bert_base": (75.30, 84.67, 80.19, 85.40, 80.82, 84.25, 80.39),
    "sup_bert_large": (75.78, 86.33, 80.44, 86.06, 80.86, 84.87, 81.14),
    "sup_roberta_base": (76.53, 85.21, 80.95, 86.03, 82.57, 85.83, 80.50),
    "sup_roberta_large": (77.46, 87.27, 82.36, 86.66, 83.93, 86.70, 81.95),
}
DASH = "–"
# results.json's sections of scores (``{"val/stsb_spearman": 81.2, "step": 125, ...}``), as run.py writes them
SECTIONS = ("before", "best", "final", "test", "train")


class ResultsError(ValueError):
    """A run's ``results.json`` that cannot be read: not JSON, cut short, or not the shape run.py writes."""


def parse_value(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


@dataclass
class Run:
    path: Path
    label: str  # the run's folder, relative to the folder given (a sweep's job number)
    params: dict[str, Any] = field(default_factory=dict)
    swept: dict[str, Any] = field(default_factory=dict)  # its values of the keys that differ across the runs
    results: dict[str, Any] | None = None
    problem: str | None = None  # why its results.json was left out (unreadable); None when read or absent
    config: dict[str, Any] = field(default_factory=dict)
    validations: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    loss: list[tuple[int, float]] = field(default_factory=list)

    @property
    def preset(self) -> str | None:
        for name in (self.params.get("experiment"), self.config.get("task_name")):
            if isinstance(name, str) and name in PAPER:
                return name
        experiment = self.params.get("experiment")
        task_name = self.config.get("task_name")
        return experiment if isinstance(experiment, str) else (task_name if task_name not in (None, "train") else None)

    @property
    def name(self) -> str:
        """What tells this run apart from the others: its swept overrides (``loss.tau=0.03 seed=1``), else its
        folder."""
        return " ".join(f"{k}={v}" for k, v in self.name_parts()) or self.label

    def name_parts(self) -> list[tuple[str, str]]:
        """``(key, value as shown)`` of the swept overrides."""
        return [(k, fmt(v)) for k, v in self.swept.items()]

    @property
    def error(self) -> str | None:
        """The last ``error:`` line the job wrote to its log (simcse_pl.cli.reporting logs it there in a sweep)."""
        lines = [line.partition("][ERROR] - error: ")[2] for log in sorted(self.path.glob("*.log"))
                 for line in log.read_text(errors="replace").splitlines() if "][ERROR] - error: " in line]
        return lines[-1] if lines else None

    @property
    def status(self) -> str:
        if self.problem is not None:
            return "left out: unreadable results.json"
        if self.results is not None:
            return "ok"
        error = self.error
        return f"failed: {error}" if error else "failed or running (no results.json)"

    @property
    def test(self) -> dict[str, dict[str, float]]:
        return unflatten((self.results or {}).get("test") or {})

    @property
    def metric(self) -> str:
        return (self.results or {}).get("metric") or self.config.get("optimized_metric") or "val/stsb_spearman"

    @property
    def objective(self) -> float | None:
        results = self.results or {}
        return (results.get("best") or results.get("before") or {}).get(self.metric)

    @property
    def group(self) -> tuple:
        """Runs of one group differ only in ``seed`` (and live in one sweep folder)."""
        return (str(self.path.parent), tuple(sorted((k, repr(v)) for k, v in self.params.items() if k != "seed")))


def _load_yaml(path: Path) -> Any:
    import yaml

    return yaml.safe_load(path.read_text()) if path.is_file() else None


def read_metrics_csv(path: Path) -> tuple[list[tuple[int, dict[str, float]]], list[tuple[int, float]]]:
    """Validations (step -> its ``val/*`` values; a step logged twice keeps its last values) and the training
    loss per logged step, from Lightning's CSV log."""
    validations: dict[int, dict[str, float]] = {}
    loss: dict[int, float] = {}
    if not path.is_file():
        return [], []
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            if not row.get("step"):
                continue
            step = int(float(row["step"]))
            values = {k: float(v) for k, v in row.items() if k and k.startswith("val/") and v not in ("", None)}
            if values:
                validations.setdefault(step, {}).update(values)
            if row.get("train/loss"):
                loss[step] = float(row["train/loss"])
    return sorted(validations.items()), sorted(loss.items())


def read_run(folder: Path, base: Path) -> Run:
    overrides = _load_yaml(folder / ".hydra" / "overrides.yaml") or []
    params = {k.lstrip("+~"): parse_value(v) for k, _, v in (o.partition("=") for o in overrides)}
    label = str(folder.relative_to(base)) if folder != base and base in folder.parents else folder.name
    run = Run(folder, label, params, config=_load_yaml(folder / ".hydra" / "config.yaml") or {})
    if (folder / "results.json").is_file():
        try:
            run.results = read_results(folder / "results.json")
        except ResultsError as exc:
            run.problem = str(exc)
    run.validations, run.loss = read_metrics_csv(folder / "csv" / "metrics.csv")
    return run


def read_results(path: Path) -> dict[str, Any]:
    """A run's ``results.json``, checked to be what run.py writes: an object whose score sections are objects of
    numbers, so a damaged file (a job killed while writing it, an edit) is one ``ResultsError`` line naming it
    rather than a stack trace deep in the tables."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path}: not valid JSON ({exc}); a truncated or damaged file?") from None
    if not isinstance(data, dict):
        raise ResultsError(f"{path}: a JSON {type(data).__name__}, not the object of results run.py writes")
    if "metric" in data and not isinstance(data["metric"], str | None):
        raise ResultsError(f"{path}: \"metric\" is {data['metric']!r}, not a metric name")
    for section in SECTIONS:
        _check_section(path, section, data.get(section))
    return data


def _check_section(path: Path, section: str, scores: Any) -> None:
    """A score section: absent, or an object whose scores (``val/...``, ``test/...``, ``train/...``) and ``step``
    are numbers (``null`` allowed: a score never logged)."""
    if scores is None:
        return
    if not isinstance(scores, dict):
        raise ResultsError(f"{path}: \"{section}\" is a JSON {type(scores).__name__}, not an object of scores")
    for key, value in scores.items():
        if (key == "step" or "/" in key) and not _is_number_or_null(value):
            raise ResultsError(f"{path}: \"{section}\".\"{key}\" is {value!r}, not a number")


def _is_number_or_null(value: Any) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def find_runs(paths: list[Path]) -> list[Run]:
    """Every run folder (``.hydra/`` inside) at or under ``paths``, in path order (a sweep's jobs by number), each
    labelled by its swept overrides."""
    runs: list[Run] = []
    for base in paths:
        if not base.exists():
            raise FileNotFoundError(f"{base}: no such folder")
        folders = [base] if (base / ".hydra").is_dir() else sorted(
            (p.parent for p in base.rglob(".hydra") if p.is_dir() and p.parent != base), key=_natural)
        runs += [read_run(folder, base) for folder in folders]
    keys = swept_keys(runs)
    for run in runs:
        run.swept = {k: run.params.get(k) for k in keys}
    return runs


def _natural(path: Path) -> tuple:
    """Job folders in number order (2 before 10)."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in path.parts)


def best_first(runs: list[Run]) -> list[Run]:
    """Runs by objective, best first; runs without one (failed, running) last, in their order."""
    return sorted(runs, key=lambda r: -r.objective if is_number(r.objective) else math.inf)


def mean_sd(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def _cell(value: float | None) -> str:
    return DASH if value is None or not math.isfinite(value) else f"{value:.2f}"


def test_row(run: Run) -> list[float | None]:
    """The seven test Spearman values of a run (None where not tested) and their average (all seven only)."""
    values = [run.test.get(task, {}).get("spearman") for task in SEVEN]
    average = statistics.fmean(values) if all(v is not None for v in values) else None
    return [*values, average]


def seed_groups(runs: list[Run]) -> list[list[Run]]:
    groups: dict[tuple, list[Run]] = {}
    for run in runs:
        if run.results and run.test:
            groups.setdefault(run.group, []).append(run)
    return [g for g in groups.values() if len(g) > 1]


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _swept_cells(run: Run) -> list[str]:
    return [_text(fmt(v)) if v is not None else DASH for v in run.swept.values()]


def _text(value: str) -> str:
    """A value as a table cell: a ``|`` would end the cell."""
    return value.replace("|", "\\|")


def table(runs: list[Run]) -> list[str]:
    keys = list(runs[0].swept) if runs else []
    header = ["run", *keys, *(PAPER_COLUMNS[t] for t in SEVEN), "Avg."]
    lines = [_row(header), "|" + "---|" * len(header)]
    tested = [r for r in runs if r.results and r.test]
    for run in tested:
        lines.append(_row([run.label, *_swept_cells(run), *map(_cell, test_row(run))]))
    for group in seed_groups(runs):
        rows = [test_row(r) for r in group]
        cells = []
        for column in zip(*rows, strict=True):
            present = [v for v in column if v is not None]
            if len(present) == len(column):
                mean, sd = mean_sd(present)
                cells.append(f"{mean:.2f} ± {sd:.2f}")
            else:
                cells.append(DASH)
        shared = [DASH if k == "seed" else v for k, v in zip(keys, _swept_cells(group[0]))]
        lines.append(_row([f"**mean ± sd over {len(group)} seeds**", *shared, *cells]))
    for preset in dict.fromkeys(r.preset for r in tested):
        if preset in PAPER:
            paper = list(PAPER[preset])
            lines.append(_row([f"paper ({preset})", *[DASH] * len(keys),
                               *map(_cell, [*paper, statistics.fmean(paper)])]))
    return lines


def dev_row(run: Run) -> dict[str, Any]:
    """A run's dev record: the objective's untrained, best (and its step) and final values, its training
    throughput and commit, and its status (a failed job's error)."""
    results = run.results or {}
    best = results.get("best") or {}
    info = _load_json(run.path / "run_info.json")
    return {
        "run": run.label, **run.swept, "metric": run.metric if run.results else None, "objective": run.objective,
        "untrained": (results.get("before") or {}).get(run.metric), "best": best.get(run.metric),
        "best_step": best.get("step"), "final": (results.get("final") or {}).get(run.metric),
        **(results.get("test") or {}),
        "sentences_per_sec": (results.get("train") or {}).get("train/sentences_per_sec"),
        "git_commit": ((info.get("git") or {}).get("commit") or "")[:10] or None, "status": run.status,
    }


def _load_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def dev_table(runs: list[Run]) -> list[str]:
    """The objective of each run, best first."""
    keys = list(runs[0].swept) if runs else []
    header = ["run", *keys, "untrained", "best (step)", "final", "sentences/s", "status"]
    lines = [_row(header), "|" + "---|" * len(header)]
    for run in best_first(runs):
        row = dev_row(run)
        best = f"{_cell(row['best'])} ({row['best_step']})" if row["best_step"] is not None else _cell(row["best"])
        speed = f"{row['sentences_per_sec']:.0f}" if is_number(row["sentences_per_sec"]) else DASH
        lines.append(_row([run.label, *_swept_cells(run), _cell(row["untrained"]), best, _cell(row["final"]), speed,
                           _text(run.status)]))
    return lines


def write_csv(runs: list[Run], path: Path) -> None:
    """``runs.csv``: every run's ``dev_row`` (and test scores), best first."""
    rows = [dev_row(r) for r in best_first(runs)]
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def swept_keys(runs: list[Run]) -> list[str]:
    keys = list(dict.fromkeys(k for r in runs for k in r.params))
    return [k for k in keys if len({repr(r.params.get(k)) for r in runs}) > 1]


def write_report(paths: list[Path], out: Path) -> Path:
    """Write ``report.md``, ``runs.csv`` and the figures to ``out``; returns the report's path."""
    runs = find_runs(paths)
    if not runs:
        raise FileNotFoundError(f"no run folders (with .hydra/ and results.json) under {', '.join(map(str, paths))}")
    damaged = [r for r in runs if r.problem is not None]
    if len(damaged) == len(runs):
        more = f" (and the {len(damaged) - 1} other run(s)' too)" if len(damaged) > 1 else ""
        raise ResultsError(f"no usable run: {damaged[0].problem}{more}")
    for run in damaged:  # the report goes on with the others; each damaged file is one line, and a row says so
        print(f"simcse-report: warning: {run.problem}; that run is left out", file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    done = [r for r in runs if r.results is not None]
    metric = done[0].metric if done else "val/stsb_spearman"
    presets = sorted({str(r.preset) for r in runs if r.preset})
    lines = [f"# Reproduction report: {', '.join(map(str, paths))}", ""]
    lines += [f"{len(done)} of {len(runs)} runs finished; preset{'s' if len(presets) > 1 else ''}: "
              f"{', '.join(presets) or 'none (no experiment=...)'}.", ""]
    lines += ["## Test: the paper's table (Spearman ×100)", ""]
    lines += table(runs)
    lines += ["", "Avg. is the mean of the seven tasks, shown only when all seven were tested "
              "(`data.test_tasks=[sts12,sts13,sts14,sts15,sts16,stsb,sickr]`, after `make data DATA_ARGS=--full`)."]
    if not any(r.preset in PAPER for r in runs):
        lines += ["No paper numbers: the preset that was run is not one of the paper's "
                  f"({', '.join(PAPER)})."]
    lines += ["", f"## Dev: `{metric}` (what model selection and sweeps maximise), best first", ""]
    lines += dev_table(runs)
    write_csv(runs, out / "runs.csv")
    lines += ["", "Every run's numbers, test scores and commit included: [runs.csv](runs.csv)."]
    curves = [{"label": r.name, "validations": r.validations, "loss": r.loss,
               "log_every": (r.config.get("trainer") or {}).get("log_every_n_steps"),
               "steps": ((r.results or {}).get("final") or {}).get("step")} for r in runs if r.validations]
    figures = []
    if curves:
        plots.curves_figure(curves, metric, out / "curves.png")
        figures.append(("Dev score and training loss over training", "curves.png"))
        if any("val/stsb_align" in m for c in curves for _, m in c["validations"]):
            plots.align_uniform_figure(curves, out / "align_uniform.png")
            figures.append(("Alignment vs uniformity per validation (the paper's Figure 2 view)", "align_uniform.png"))
    keys = [k for k in swept_keys(runs) if k != "seed"]
    if keys:
        rows = [{"params": r.params, "objective": r.objective,
                 "before": ((r.results or {}).get("before") or {}).get(r.metric)} for r in runs]
        baselines = [b["before"] for b in rows if is_number(b["before"])]
        plots.objective_figure(rows, keys, metric, out / "sweep.png",
                               baseline=statistics.median(baselines) if baselines else None)
        figures.append((f"Objective against the swept hyperparameters ({', '.join(keys)})", "sweep.png"))
    lines += [""]
    for caption, name in figures:
        lines += [f"## {caption}", "", f"![{caption}]({name})", ""]
    report = out / "report.md"
    report.write_text("\n".join(lines).rstrip() + "\n")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="simcse-report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path, metavar="RUN_OR_SWEEP_DIR")
    parser.add_argument("--out", type=Path, help="where to write (default: the one folder given, else ./report)")
    args = parser.parse_args(argv)
    out = args.out or (args.paths[0] if len(args.paths) == 1 else Path("report"))
    try:
        report = write_report(args.paths, out)
    except (FileNotFoundError, OSError, ValueError) as exc:
        print(f"simcse-report: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {report} and its figures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
