"""Stopping on request without losing work.

``docker stop``, Kubernetes and SLURM preemption send SIGTERM; SLURM sends SIGUSR1 ahead of a time limit when
asked to (``#SBATCH --signal=USR1@120``, what Lightning's ``SLURMEnvironment(auto_requeue=True)`` listens for);
Ctrl-C in a terminal sends SIGINT to the whole foreground process group. All three take one path:

- Inside ``trainer.fit`` Lightning's own SIGTERM handler lets the current step finish and raises
  ``SIGTERMException`` at the batch boundary; ``ResumeCheckpoint`` then writes ``last.ckpt`` (atomically, with
  the RNG streams and data position) and ``run()`` turns the exception into ``Preempted``, which reports the
  checkpoint and the command that resumes it and exits with ``128 + signal`` (143 for SIGTERM, 130 for SIGINT),
  never 0.
- Outside the trainer's loops (loading the model, exporting) there is no training state to save, so the handler
  here raises ``Preempted`` at once. One that arrives before (importing torch, composing the config) is recorded
  by the entry point and raised as ``Preempted`` as soon as the run installs its handlers
  (``stop_signals_deferred``).
- SIGUSR1 and SIGINT are re-sent as SIGTERM, so Lightning's handler (which also forwards it to the DDP ranks it
  launched) sees it; the exit status still names the signal that arrived. SIGINT is not left to Python's
  ``KeyboardInterrupt``: Lightning catches that anywhere inside a step (possibly mid optimizer update), runs
  ``on_exception`` with it and then calls ``sys.exit(1)``, so the run would end with status 1 and no resumable
  state.
- Once a stop has begun, further stop signals (an impatient second Ctrl-C, SLURM's SIGTERM after its SIGUSR1)
  change nothing: the save under way completes (and is atomic anyway: simcse_pl/checkpointing.py). A stuck
  job is ended with SIGKILL, which leaves the previous ``last.ckpt`` whole.
- Dataloader workers leave all of them to the main process: when a whole process group is signalled, a worker
  ignores SIGINT and SIGUSR1 and its first SIGTERM (the main process decides, then shuts the workers down),
  instead of dying with a stack trace of its own; a second SIGTERM, which is how the main process ends a worker
  that does not stop by itself, ends it.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType
from typing import Any
from simcse_pl.errors import Preempted

STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1, signal.SIGINT)
RANK_VARIABLES = ("RANK", "LOCAL_RANK", "SLURM_PROCID")  # what Lightning reads for rank_zero_only.rank


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


def nothing_saved(signum: int) -> str:
    """The report of a stop before training started or after it ended: there is no training state to keep."""
    return f"stopped by {signal_name(signum)} (outside training: nothing to save)"


class _Deferred:
    """A stop signal that arrived while the entry point was starting (importing torch, composing the config): Hydra
    and some libraries turn a ``KeyboardInterrupt`` raised inside an import into an error of their own (exit 1, a
    stack trace), so the signal is only recorded then and acted on where it is safe: the run's ``StopSignals``."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum

    def take(self) -> int | None:
        signum, self.signum = self.signum, None
        return signum


_DEFERRED = _Deferred()


@contextmanager
def stop_signals_deferred() -> Iterator[None]:
    """Around the whole entry point: a stop signal before a run has installed ``StopSignals`` (or after it, as the
    process ends) is one line and ``128 + signal`` like one during the run (130 for Ctrl-C), never a stack trace."""
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {signum: signal.signal(signum, _DEFERRED) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    signum = _DEFERRED.take()
    if signum is not None:
        print(nothing_saved(signum), file=sys.stderr)
        sys.exit(128 + signum)


def _rank_zero() -> bool:
    return all(os.environ.get(name, "0") == "0" for name in RANK_VARIABLES)


def _notice(text: str) -> None:
    """One line on stderr from a signal handler (``os.write``: the handler may interrupt a ``print`` under way);
    rank 0 only, so a DDP job says it once."""
    if _rank_zero():
        os.write(2, f"{text}\n".encode())


class StopSignals:
    """``with StopSignals() as stop:`` handles SIGTERM, SIGUSR1 and SIGINT for the block; ``stop.received`` is the
    first signal that arrived (None if none). Handlers can only be set from the main thread; elsewhere it does
    nothing. A process forked inside the block (a dataloader worker) inherits the handler and leaves the signal to
    the process that installed it."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._handler = self._handle  # one bound-method object, so it can be recognised when installed
        self._previous: dict[int, Any] = {}
        self._forwarding = False  # a SIGUSR1 / SIGINT re-sent as SIGTERM, not yet handled as such
        self._pid = os.getpid()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if os.getpid() != self._pid:
            return
        if self.received is not None and not self._forwarding:
            _notice(f"{signal_name(signum)}: already stopping (after {signal_name(self.received)}); the stop and its "
                    f"save go on. kill -9 {os.getpid()} ends the job at once, keeping the previous last.ckpt")
            return
        if self.received is None:
            self.received = signum
        if signum != signal.SIGTERM:
            self._forwarding = True
            os.kill(os.getpid(), signal.SIGTERM)
            return
        self._forwarding = False
        # while a trainer runs, Lightning has installed its handler (which calls this one too) and stops the loop
        # at the next step boundary; only when this handler is the installed one is nobody else going to stop
        if signal.getsignal(signal.SIGTERM) is self._handler:
            raise Preempted(self.received, nothing_saved(self.received))
        _notice(f"{signal_name(self.received)}: stopping once the step under way is done (and saving the training "
                "state); another signal changes nothing")

    def __enter__(self) -> StopSignals:  # noqa: PYI034 - typing.Self needs Python 3.11
        """Raises ``Preempted`` at once for a signal that arrived while the process was starting."""
        self._pid = os.getpid()
        pending = _DEFERRED.take()
        if pending is not None:
            self.received = pending
            raise Preempted(pending, nothing_saved(pending))
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
    """``worker_init_fn`` of training dataloaders: workers leave SIGTERM/SIGUSR1/SIGINT to the main process. Keeps
    Lightning's per-worker seeding (``seed_everything(workers=True)``), which a custom init function replaces."""
    signal.signal(signal.SIGTERM, _worker_sigterm)
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if os.environ.get("PL_SEED_WORKERS") == "1":
        from lightning.fabric.utilities.seed import pl_worker_init_function

        pl_worker_init_function(worker_id)
