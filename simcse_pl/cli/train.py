"""``simcse-train`` and ``python train.py``: Hydra over the configs the package finds (``simcse_pl.config.CONF_DIR``:
the wheel's ``simcse_pl/conf/`` or the checkout's ``conf/``). Only the config schema loads here, so ``--help`` and
``--cfg`` answer without importing torch; the job itself (``simcse_pl.training.run``) loads once a run starts."""

import hydra
from omegaconf import DictConfig

from simcse_pl.config import CONF_DIR
from simcse_pl.training.preemption import stop_signals_deferred


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="train")
def _job(cfg: DictConfig) -> float | None:
    """Hydra names the job after this file: its log is ``<run dir>/train.log`` whichever door started it."""
    from simcse_pl.cli.reporting import run_reported
    from simcse_pl.training.run import run

    return run_reported(run, cfg)


def main() -> None:
    """The entry point. A Ctrl-C (or SIGTERM) before the run installs its stop handlers, while torch loads and Hydra
    composes the config, ends it as one later does: one line, 128 + the signal (simcse_pl/preemption.py)."""
    with stop_signals_deferred():
        _job()
