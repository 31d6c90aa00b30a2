"""What the framework sends to loggers beyond Lightning's metrics: the test table, the exported model as a
wandb artifact, and closing the wandb run at the end of each job."""

from __future__ import annotations

import csv
import logging
import os
import sys
from typing import Any

from lightning.pytorch.loggers import CSVLogger as _LightningCSVLogger
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers import WandbLogger as _LightningWandbLogger
from lightning.pytorch.loggers.logger import rank_zero_experiment
from lightning.pytorch.utilities import rank_zero_only

log = logging.getLogger(__name__)


class _KeepingWriter(ExperimentWriter):
    """Lightning's CSV writer, except that an existing ``metrics.csv`` is continued, not deleted."""

    def _check_log_dir_exists(self) -> None:
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as f:
                self.metrics_keys = list(csv.DictReader(f).fieldnames or [])


class CSVLogger(_LightningCSVLogger):
    """Lightning's CSVLogger for runs that resume: a resumed run appends to ``metrics.csv``, so the file holds the
    whole history; rows the killed segment logged after the checkpoint it resumes from are dropped first
    (``keep_until``), so no step appears twice."""

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _KeepingWriter(log_dir=self.log_dir)
        return self._experiment

    @rank_zero_only
    def keep_until(self, step: int) -> None:
        """Keep the rows of the ``step`` steps a checkpoint holds (logged at steps ``0 … step-1``, validations
        included: they run before the step counter moves), drop what the killed segment logged after it."""
        path = os.path.join(self.log_dir, ExperimentWriter.NAME_METRICS_FILE)
        if not os.path.isfile(path):
            return
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            fields, rows = reader.fieldnames or [], [r for r in reader if not r.get("step") or int(r["step"]) < step]
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)


class WandbLogger(_LightningWandbLogger):
    """Lightning's WandbLogger plus ``log_export``: upload the exported model folder (Hugging Face +
    sentence-transformers, what users load) as a ``model`` artifact; ``log_model`` still uploads checkpoints."""

    def __init__(self, *args: Any, log_export: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.log_export = log_export

    @rank_zero_only
    def log_exported_model(self, path: str) -> None:
        import wandb

        if not self.log_export:
            return
        artifact = wandb.Artifact(name=f"model-{self.experiment.id}", type="model")
        artifact.add_dir(path)
        self.experiment.log_artifact(artifact, aliases=["latest"])


def tabulate_test_metrics(metrics: dict[str, float]) -> tuple[list[str], list[list[Any]]]:
    """``{"test/stsb_spearman": .., "test/stsb_pearson": ..}`` -> columns ``[task, pearson, spearman]`` and one row
    per task. Keys are read by the known metric names (``simcse_pl.evaluation.suite.unflatten``), so a task name
    with underscores (``stsb_zh``) stays whole."""
    from simcse_pl.evaluation.base import unflatten

    by_task = unflatten(metrics)
    names = sorted({m for row in by_task.values() for m in row})
    return ["task", *names], [[task, *(row.get(m) for m in names)] for task, row in sorted(by_task.items())]


def log_test_table(loggers: list[Any], metrics: dict[str, float]) -> None:
    """The end-of-run test results as one table: a wandb Table, a TensorBoard text panel, and the job log."""
    if not metrics:
        return
    columns, rows = tabulate_test_metrics(metrics)
    markdown = "\n".join(
        ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        + ["| " + " | ".join(v if isinstance(v, str) else "" if v is None else f"{v:.2f}" for v in row) + " |" for row in rows]
    )
    log.info("test table:\n%s", markdown)
    for logger in loggers:
        if isinstance(logger, _LightningWandbLogger):
            logger.log_table("test/table", columns=columns, data=rows)
        elif isinstance(logger, TensorBoardLogger):
            logger.experiment.add_text("test/table", markdown)


def log_exported_model(loggers: list[Any], path: str) -> None:
    for logger in loggers:
        if isinstance(logger, WandbLogger):
            logger.log_exported_model(path)


def metrics_destinations(loggers: list[Any], out_dir: str) -> str:
    """Where the run's metrics went, for its closing line: each logger's folder in the run folder (``csv/``,
    ``tensorboard/``), ``wandb``, or that no logger took them (``logger=none``: results.json has the scores)."""
    places = []
    for logger in loggers:
        if isinstance(logger, _LightningWandbLogger):
            places.append("wandb")
        elif getattr(logger, "log_dir", None):
            places.append(os.path.relpath(logger.log_dir, out_dir).rstrip("/") + "/")
        else:
            places.append(type(logger).__name__)
    return f"metrics in {' and '.join(places)}" if places else "no metrics logger (logger=none)"


def finish_wandb(failed: bool) -> None:
    """Close the active wandb run, if any: Lightning leaves it open and the next multirun job in this process
    would otherwise log into it instead of starting its own run."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and wandb.run is not None:
        wandb.finish(exit_code=1 if failed else 0)
