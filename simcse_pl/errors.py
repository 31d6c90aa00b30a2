"""The one-line report ``train.py`` gives for errors the user fixes in their input or config.

A bad data line, a missing model or an out-of-range setting is not a bug in the code, and a stack trace
hides the one line that matters. These are ``DataError``, ``ModelLoadError``, ``NonFiniteLossError`` and
any ``ValueError`` raised by simcse-pl's own checks (they name the config key); errors from elsewhere keep
their trace, and ``HYDRA_FULL_ERROR=1`` shows it for all.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.types import RunMode

from simcse_pl.encoder import ModelLoadError
from simcse_pl.guards import NonFiniteLossError
from simcse_pl.preemption import Preempted
from simcse_pl.sources import DataError

PACKAGE_DIR = Path(__file__).resolve().parent
USER_ERRORS = (DataError, ModelLoadError, NonFiniteLossError)


def user_error(exc: BaseException) -> BaseException | None:
    """The error to report in one line, or None when ``exc`` looks like a bug (it keeps its trace)."""
    while isinstance(exc, InstantiationException) and exc.__cause__ is not None:
        exc = exc.__cause__  # hydra.utils.instantiate wraps what a constructor raised
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
    return Path(tb.tb_frame.f_code.co_filename).resolve().parent == PACKAGE_DIR


def _in_sweep() -> bool:
    """In a multirun the sweeper records a failed job and goes on; exiting would end the whole sweep."""
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


@contextmanager
def user_errors_reported() -> Iterator[None]:
    """Around a Hydra task: a user error prints ``error: <message>`` on stderr and exits with status 2; a stop
    signal prints ``stopped by SIGTERM ...`` (what was saved, how to resume) and exits with 128 + the signal number, in a
    sweep too (a preempted sweep must stop, not start its next job)."""
    try:
        yield
    except Preempted as exc:
        print(exc, file=sys.stderr)
        sys.exit(exc.exit_status)
    except Exception as exc:
        reported = user_error(exc)
        if reported is None or os.environ.get("HYDRA_FULL_ERROR") == "1" or _in_sweep():
            raise
        print(f"error: {reported}", file=sys.stderr)
        sys.exit(2)
