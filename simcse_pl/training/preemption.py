"""Stopping on request without losing work.

``docker stop``, Kubernetes and SLURM preemption send SIGTERM; SLURM sends SIGUSR1 ahead of a time limit when
asked to (``#SBATCH --signal=USR1@120``, what Lightning's ``SLURMEnvironment(auto_requeue=True)`` listens for).
Both take one path:

- Inside ``trainer.fit`` Lightning's own SIGTERM handler lets the current step finish and raises
  ``SIGTERMException`` at the batch boundary; ``ResumeCheckpoint`` then writes ``last.ckpt`` (atomically, with
  the RNG streams and data position) and ``run()`` turns the exception into ``Preempted``, which reports the
  checkpoint and the command that resumes it and exits with ``128 + signal`` (143 for SIGTERM), never 0.
- Outside the trainer's loops (loading the model, exporting) there is no training state to save, so the handler
  here raises ``Preempted`` at once.
- SIGUSR1 is re-sent as SIGTERM, so Lightning's handler (which also forwards it to the DDP ranks it launched)
  sees it; the exit status still names SIGUSR1.
- Dataloader workers leave both to the main process: when a whole process group is signalled, a worker ignores
  its first SIGTERM (the main process decides, then shuts the workers down), instead of dying with a stack trace
  of its own; a second SIGTERM, which is how the main process ends a worker that does not stop by itself, ends it.
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType, TracebackType
from typing import Any
from simcse_pl.errors import Preempted

STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


class StopSignals:
    """``with StopSignals() as stop:`` handles SIGTERM and SIGUSR1 for the block; ``stop.received`` is the first
    signal that arrived (None if none). Handlers can only be set from the main thread; elsewhere it does nothing."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._handler = self._handle  # one bound-method object, so it can be recognised when installed
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signum
        if signum != signal.SIGTERM:
            os.kill(os.getpid(), signal.SIGTERM)
            return
        # while a trainer runs, Lightning has installed its handler (which calls this one too) and stops the loop
        # at the next step boundary; only when this handler is the installed one is nobody else going to stop
        if signal.getsignal(signal.SIGTERM) is self._handler:
            raise Preempted(self.received, f"stopped by {signal_name(self.received)} (outside training: nothing to save)")

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handler)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()


def _worker_sigterm(signum: int, frame: FrameType | None) -> None:
    """In a dataloader worker: the first SIGTERM is the process group's, left to the main process; the next one
    is the main process ending this worker (``Process.terminate``), so it takes its default effect."""
    signal.signal(signum, signal.SIG_DFL)


def ignore_stop_signals_in_worker(worker_id: int) -> None:
    """``worker_init_fn`` of training dataloaders: workers leave SIGTERM/SIGUSR1 to the main process. Keeps
    Lightning's per-worker seeding (``seed_everything(workers=True)``), which a custom init function replaces."""
    signal.signal(signal.SIGTERM, _worker_sigterm)
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    if os.environ.get("PL_SEED_WORKERS") == "1":
        from lightning.fabric.utilities.seed import pl_worker_init_function

        pl_worker_init_function(worker_id)
