"""``simcse-train`` and ``python train.py``: Hydra over the configs the package finds (``simcse_pl.config.CONF_DIR``:
the wheel's ``simcse_pl/conf/`` or the checkout's ``conf/``). Only the config schema loads here, so ``--help`` and
``--cfg`` answer without importing torch; the job itself (``simcse_pl.training.run``) loads once a run starts."""

import logging

import hydra
from omegaconf import DictConfig

from simcse_pl.config import CONF_DIR
from simcse_pl.training.preemption import STOP_STATUSES, exit_at_once, stop_signals_deferred

log = logging.getLogger(__name__)


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="train")
def _job(cfg: DictConfig) -> float | None:
    """Hydra names the job after this file: its log is ``<run dir>/train.log`` whichever door started it. Importing
    torch, Lightning and transformers is the first wait (half a minute on a loaded machine): it is announced."""
    log.info("loading torch, Lightning and the training code")
    from simcse_pl.cli.reporting import run_reported
    from simcse_pl.training.run import run

    return run_reported(run, cfg)


def main() -> None:
    """The entry point. A Ctrl-C (or SIGTERM) before the run installs its stop handlers, while torch loads and Hydra
    composes the config, ends it at once: one line, 128 + the signal (simcse_pl/training/preemption.py). A stop,
    once reported (checkpoint written, loggers finished), exits at once too, skipping the interpreter's shutdown
    (minutes of garbage collection after a full-size run)."""
    try:
        with stop_signals_deferred(exit_while_starting=True):
            _job()
    except SystemExit as exc:
        if exc.code in STOP_STATUSES:
            exit_at_once(int(exc.code))  # type: ignore[arg-type]
        raise
