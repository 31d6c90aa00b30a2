"""The one-line report ``train.py`` gives for errors the user fixes in their input or config.

A bad data line, a missing model or an out-of-range setting is not a bug in the code, and a stack trace
hides the one line that matters. These are ``DataError``, ``ModelLoadError``, ``NonFiniteLossError`` and
any ``ValueError`` raised by simcse-pl's own checks (they name the config key); errors from elsewhere keep
their trace, and ``HYDRA_FULL_ERROR=1`` shows it for all.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.experimental.callback import Callback
from omegaconf import DictConfig
from hydra.types import RunMode

from simcse_pl.errors import ModelLoadError
from simcse_pl.errors import NonFiniteLossError
from simcse_pl.errors import Preempted
from simcse_pl.errors import DataError
from simcse_pl.errors import ConfigError, RunFolderInUse

log = logging.getLogger(__name__)
PACKAGE_DIR = Path(__file__).resolve().parents[1]  # simcse_pl/
USER_ERRORS = (DataError, ModelLoadError, NonFiniteLossError, ConfigError, RunFolderInUse)


def unwrapped(exc: BaseException) -> BaseException:
    """What a constructor raised, without the ``InstantiationException`` hydra.utils.instantiate wraps it in."""
    while isinstance(exc, InstantiationException) and exc.__cause__ is not None:
        exc = exc.__cause__
    return exc


def user_error(exc: BaseException) -> BaseException | None:
    """The error to report in one line, or None when ``exc`` looks like a bug (it keeps its trace)."""
    exc = unwrapped(exc)
    if isinstance(exc, USER_ERRORS):
        return exc
    if isinstance(exc, ValueError) and _raised_in_package(exc):
        return exc
    return None


def _raised_in_package(exc: BaseException) -> bool:
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    return PACKAGE_DIR in Path(tb.tb_frame.f_code.co_filename).resolve().parents


def _in_sweep() -> bool:
    """In a multirun the sweeper records a failed job and goes on; exiting would end the whole sweep."""
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


@contextmanager
def user_errors_reported() -> Iterator[None]:
    """Around a Hydra task: a user error prints ``error: <message>`` on stderr and exits with status 2; a stop
    signal prints ``stopped by SIGTERM ...`` (what was saved, how to resume) and exits with 128 + the signal
    number, in a sweep too (a preempted sweep must stop, not start its next job). In a sweep a user error is
    logged to the job's train.log and the task returns NaN, so the sweeper records the job as failed and goes on;
    ``SweepErrors`` then reports every failed job in one line each and exits with status 2."""
    try:
        yield
    except Exception as exc:
        stop = unwrapped(exc)  # a stop signal can arrive while Hydra instantiates a part (the logger, the model)
        if isinstance(stop, Preempted):
            print(stop, file=sys.stderr)
            sys.exit(stop.exit_status)
        reported = user_error(exc)
        if reported is not None and _in_sweep():
            log.error("error: %s", reported)
            raise SweepJobFailed(str(reported)) from None
        if reported is None or os.environ.get("HYDRA_FULL_ERROR") == "1":
            if _in_sweep():
                log.exception("error: %s", exc)
            raise
        print(f"error: {reported}", file=sys.stderr)
        sys.exit(2)


class SweepJobFailed(Exception):
    """A sweep job stopped on a user error (already in its train.log); ``run_reported`` turns it into NaN."""


def run_reported(task: Callable[[DictConfig], float | None], cfg: DictConfig) -> float | None:
    """``task(cfg)`` under ``user_errors_reported``; a sweep job that failed on a user error returns NaN (Optuna
    records such a trial as failed; the basic sweeper just goes on)."""
    try:
        with user_errors_reported():
            return task(cfg)
    except SweepJobFailed:
        return float("nan")


ERROR_LINE = re.compile(r"\]\[ERROR\] - error: (.*)$")


class SweepErrors(Callback):
    """Hydra callback: after a multirun, one ``error: job N: <message>`` line per job that failed on a user error
    (read from its train.log), and exit status 2 when there was any, as a single run does."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        failed = []
        for log_file in sorted(Path(config.hydra.sweep.dir).glob("*/*.log")):
            lines = [m.group(1) for line in log_file.read_text(errors="replace").splitlines() if (m := ERROR_LINE.search(line))]
            if lines:
                failed.append(f"error: job {log_file.parent.name}: {lines[-1]}")
        if failed:
            print("\n".join(failed), file=sys.stderr)
            sys.exit(2)
