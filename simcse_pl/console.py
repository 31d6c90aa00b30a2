"""What a run prints: the lines a user needs, and none of the libraries' chatter.

Kept: a config summary, the data summary, one line per validation (``step 125: STS-B dev Spearman 83.17 (best
83.17 at step 125)``, simcse_pl/training/console_report.py), the test table and where everything was written.
This module imports neither torch nor Lightning, so the inference console scripts use it without loading them.

Silenced (``quiet_libraries``): Lightning's info lines (GPU/TPU available, the litlogger tip, "Loading
train_dataloader ...", "Trainer.fit stopped ..."), known-harmless warnings (a torch pytree deprecation inside
Lightning, the IterableDataset ``__len__`` note, "directory exists and is not empty" on a resume), the
weight-loading and shard-writing bars of transformers / huggingface_hub, sentence-transformers' info lines and
Optuna's alembic lines. Warnings that matter (truncation counts, NaN metrics, skipped rows) stay.
"""

from __future__ import annotations

import logging
import re
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

QUIET_LOGGERS = ("lightning.pytorch", "lightning.fabric", "sentence_transformers", "alembic", "httpx")
HARMLESS_WARNINGS = (
    r".*isinstance\(treespec, LeafSpec\)",
    r"Your `IterableDataset` has `__len__` defined",
    r"Experiment logs directory .* exists and is not empty",
    r"Checkpoint directory .* exists and is not empty",
    r"The number of training batches \(\d+\) is smaller than the logging interval",
    r"The '(train|val|test)_dataloader' does not have many workers",
)
TASK_TITLES = {"stsb": "STS-B", "sickr": "SICK-R", "avg": "average"}


def quiet_libraries() -> None:
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for pattern in HARMLESS_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    import huggingface_hub.utils
    import transformers.utils.logging

    transformers.utils.logging.disable_progress_bar()
    huggingface_hub.utils.disable_progress_bars()


class _DropMatching(logging.Filter):
    """Drops the records whose message matches one of ``patterns``."""

    def __init__(self, patterns: Sequence[str]) -> None:
        super().__init__()
        self.patterns = [re.compile(p) for p in patterns]

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(p.search(record.getMessage()) for p in self.patterns)


@contextmanager
def chatter_muted(loggers: Sequence[str] = (), warnings_matching: Sequence[str] = (),
                  records_matching: Sequence[str] = ()) -> Iterator[None]:
    """Inside the block only: ``loggers`` at ERROR, warnings whose message matches one of ``warnings_matching``
    ignored, and root-logger records matching ``records_matching`` dropped (for a library that calls
    ``logging.warning`` itself). Scoped to the one call that is known to chatter, so the same libraries' warnings
    elsewhere, which may matter, still show."""
    saved = {name: logging.getLogger(name).level for name in loggers}
    drop = _DropMatching(records_matching)
    root = logging.getLogger()
    with warnings.catch_warnings():
        for pattern in warnings_matching:
            warnings.filterwarnings("ignore", message=pattern)
        for name in loggers:
            logging.getLogger(name).setLevel(logging.ERROR)
        root.addFilter(drop)
        try:
            yield
        finally:
            root.removeFilter(drop)
            for name, level in saved.items():
                logging.getLogger(name).setLevel(level)


def random_model_label(random_init: dict[str, Any]) -> str:
    """``random llama {'hidden_size': 32, ...}``: the architecture a ``model.random_init`` builds (BERT unless it
    names a ``model_type``), then its settings."""
    settings = {k: v for k, v in random_init.items() if k != "model_type"}
    return f"random {random_init.get('model_type', 'bert')} {settings}"


def config_summary(cfg: Any) -> list[str]:
    """The run in four lines: model, objective, data, schedule (and where it goes)."""
    model, data, trainer = cfg.model, cfg.data, cfg.trainer
    name = model.name_or_path or random_model_label(dict(model.random_init or {}))
    head = " (MLP head in training only)" if model.pooler == "cls" and model.mlp_only_train else ""
    loss = cfg.loss
    arguments = ", ".join(f"{k}={loss[k]}" for k in loss if k != "_target_" and not isinstance(loss[k], dict))
    auxiliary = "".join(f" + {a.get('weight', 1)} x {n}" for n, a in (cfg.get("auxiliary") or {}).items())
    source = data.source.get("path", data.source.get("_target_", "?")) if data.source else "?"
    length = f"max_steps {trainer.max_steps}" if trainer.max_steps and trainer.max_steps > 0 else f"{trainer.max_epochs} epoch(s)"
    return [
        f"model: {name}, pooler {model.pooler}{head}",
        f"objective: {loss._target_.rsplit('.', 1)[-1]}({arguments}){auxiliary}",
        f"data: {source}" + (f" (first {data.max_samples})" if data.max_samples else "")
        + f", batch {data.batch_size}, max_len {data.max_len}; validation {', '.join(data.val_tasks) or 'none'}",
        f"training: {length}, lr {cfg.optim.lr:g}, precision {trainer.precision}; run folder {cfg.paths.output_dir}",
    ]


def interactive() -> bool:
    """A progress bar only helps on a terminal; elsewhere it is printed once, at the end."""
    return sys.stdout.isatty()


def metric_title(key: str) -> str:
    """``val/stsb_spearman`` -> ``STS-B dev Spearman``; other keys as they are."""
    match = re.fullmatch(r"(val|test)/(\w+?)_(spearman|pearson)", key)
    if not match:
        return key
    stage, task, statistic = match.groups()
    title = TASK_TITLES.get(task, task.upper() if re.fullmatch(r"sts\d\d", task) else task)
    return f"{title} {'dev' if stage == 'val' else 'test'} {statistic.capitalize()}"


def duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


