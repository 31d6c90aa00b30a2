"""What the framework sends to loggers beyond Lightning's metrics: the test table, the exported model as a
wandb artifact, and closing the wandb run at the end of each job."""

from __future__ import annotations

import logging
import sys
from typing import Any

from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.loggers import WandbLogger as _LightningWandbLogger
from lightning.pytorch.utilities import rank_zero_only

log = logging.getLogger(__name__)


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
    """``{"test/stsb_spearman": .., "test/stsb_pearson": ..}`` -> columns ``[task, pearson, spearman]`` and
    one row per task."""
    by_task: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        task, _, metric = key.split("/", 1)[-1].rpartition("_")
        by_task.setdefault(task or key, {})[metric] = value
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


def finish_wandb(failed: bool) -> None:
    """Close the active wandb run, if any: Lightning leaves it open and the next multirun job in this process
    would otherwise log into it instead of starting its own run."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and wandb.run is not None:
        wandb.finish(exit_code=1 if failed else 0)
