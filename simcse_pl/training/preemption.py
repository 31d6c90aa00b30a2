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
  here raises ``Preempted`` at once. One that arrives while the entry point starts (importing torch, composing
  the config: up to a minute on a loaded machine) ends the process at once, with one line
  (``stopped before training started; nothing to resume``) and ``128 + signal``: nothing is written yet, and
  waiting for the imports to finish could outlast a scheduler's grace period. ``train.py`` installs that
  handler on its first line, before Python imports Hydra and the package (``stop_signals_deferred``).
- Once the stop is reported (the checkpoint written, the loggers finalised, wandb finished), the entry point
  leaves with ``exit_at_once``: the interpreter's own shutdown (a garbage collection over everything a
  full-size run allocated) took minutes, past the ~30 s a scheduler waits before SIGKILL.
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

import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType
from typing import Any, NoReturn
from simcse_pl.errors import Preempted

STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1, signal.SIGINT)
RANK_VARIABLES = ("RANK", "LOCAL_RANK", "SLURM_PROCID")  # what Lightning reads for rank_zero_only.rank


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


def nothing_saved(signum: int) -> str:
    """The report of a stop after training ended (exporting, testing): there is no training state to keep."""
    return f"stopped by {signal_name(signum)} (outside training: nothing to save)"


def not_started(signum: int) -> str:
    """The report of a stop before the first training step: no checkpoint, so the same command starts over.
    train.py's first lines print the same words (it cannot import this module that early)."""
    return f"stopped before training started; nothing to resume ({signal_name(signum)})"


STOP_STATUSES = frozenset(128 + s for s in STOP_SIGNALS)


def exit_at_once(status: int) -> NoReturn:
    """End the process with ``status`` now that a stop has been reported: stdout, stderr and every logging handler
    (the run's train.log) are flushed and closed, then ``os._exit`` skips the interpreter's shutdown, whose
    garbage collection over a full-size run's objects took minutes. Only once the checkpoint is written and the
    loggers are finished (Lightning finalises them on the stop; ``run`` finishes wandb)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, RuntimeError):  # closed, or a print under way (called from a handler)
            pass
    try:
        logging.shutdown()
    except (OSError, ValueError, RuntimeError):
        pass
    os._exit(status)


class _Deferred:
    """A stop signal outside a run's ``StopSignals``: Hydra and some libraries turn a ``KeyboardInterrupt`` raised
    inside an import into an error of their own (exit 1, a stack trace), so no exception is raised here. While the
    entry point is starting (``starting``: no run has begun, nothing is written) the process ends at once with one
    line; otherwise (between sweep jobs, after a run) the signal is recorded and acted on where it is safe: the
    next run's ``StopSignals``, or the end of ``stop_signals_deferred``."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.starting = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.starting:
            _notice(not_started(signum))
            exit_at_once(128 + signum)
        if self.signum is None:
            self.signum = signum

    def take(self) -> int | None:
        signum, self.signum = self.signum, None
        return signum


_DEFERRED = _Deferred()


@contextmanager
def stop_signals_deferred(exit_while_starting: bool = False) -> Iterator[None]:
    """Around the whole entry point: a stop signal before a run has installed ``StopSignals`` (or after it, as the
    process ends) is one line and ``128 + signal`` like one during the run (130 for Ctrl-C), never a stack trace.
    ``exit_while_starting``: until the first run installs ``StopSignals``, a stop signal ends the process at once
    (the entry point's imports can take a minute)."""
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {signum: signal.signal(signum, _DEFERRED) for signum in STOP_SIGNALS}
    _DEFERRED.starting = exit_while_starting and bool(previous)
    try:
        yield
    finally:
        _DEFERRED.starting = False
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
        # set by the run as training begins: a stop before it has nothing to resume
        self.training_started = False
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
            raise Preempted(self.received, self.outside_training(self.received))
        _notice(f"{signal_name(self.received)}: stopping once the step under way is done (and saving the training "
                "state); another signal changes nothing")

    def outside_training(self, signum: int) -> str:
        """The report of a stop with no training state to save: before training began, or after it ended."""
        return nothing_saved(signum) if self.training_started else not_started(signum)

    def __enter__(self) -> StopSignals:  # noqa: PYI034 - typing.Self needs Python 3.11
        """Raises ``Preempted`` at once for a signal that arrived while the process was starting."""
        self._pid = os.getpid()
        _DEFERRED.starting = False  # from here on a stop is reported by the run
        pending = _DEFERRED.take()
        if pending is not None:
            self.received = pending
            raise Preempted(pending, not_started(pending))
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
