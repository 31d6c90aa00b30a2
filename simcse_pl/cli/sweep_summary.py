"""After a multirun, one line naming its best job: ``best: job 0 (loss.tau=0.03) STS-B dev Spearman 81.70
(multirun/train/<date>/0)`` (issue 24, item 4).

A sweep used to end on the last job's log, leaving the user to open every ``results.json``; the line reads them
the way ``simcse-report`` does (``simcse_pl.cli.report``), so the job it names is the report's best row.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from simcse_pl.cli.plots import is_number
from simcse_pl.cli.report import Run, best_first, find_runs
from simcse_pl.console import metric_title


def best_line(runs: list[Run]) -> str | None:
    """``best: job N (<swept overrides>) <metric title> <value> (<job folder>)``; None when no job has a score."""
    ranked = best_first(runs)  # jobs without a finite objective (failed, running, NaN) last
    if not ranked or not is_number(ranked[0].objective):
        return None
    best = ranked[0]
    swept = ", ".join(f"{k}={v}" for k, v in best.name_parts())
    label = f"job {best.label}" + (f" ({swept})" if swept else "")
    return f"best: {label} {metric_title(best.metric)} {best.objective:.2f} ({_shown(best.path)})"


def _shown(path: Path) -> str:
    """The job's folder as the user would type it: relative to the current folder when inside it."""
    return os.path.relpath(path) if Path.cwd() in path.resolve().parents else str(path)


class SweepSummary(Callback):
    """Hydra callback: at the end of a multirun, the best job's line (nothing when no job finished; the failed
    jobs are ``SweepErrors``' to report, after this line)."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        line = best_line(find_runs([sweep_dir])) if sweep_dir.is_dir() else None
        if line is not None:
            print(line, flush=True)
