"""Stop signals outside the trainer's loops, and how a stop is reported (the train.py runs that a signal stops
mid-training and that resume exactly: tests/integration/test_preemption.py)."""

from __future__ import annotations

import os
import signal

import pytest

from simcse_pl.cli.reporting import user_errors_reported
from simcse_pl.errors import Preempted
from simcse_pl.training.preemption import StopSignals, ignore_stop_signals_in_worker


@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 143), (signal.SIGUSR1, 138)])
def test_a_stop_signal_outside_training_raises_preempted_at_once(signum: int, status: int):
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Preempted) as exc, StopSignals() as stop:
        os.kill(os.getpid(), signum)
        for _ in range(1000):  # the handler runs between bytecodes of this loop
            pass
    assert stop.received == signum
    assert exc.value.exit_status == status
    assert str(exc.value) == f"stopped by {signal.Signals(signum).name} (outside training: nothing to save)"
    assert signal.getsignal(signal.SIGTERM) is before  # restored


def test_inside_a_trainer_call_the_signal_is_left_to_lightning():
    """Lightning installs its handler (which also calls the one it found) while a trainer runs: ours then only
    records the signal, and Lightning stops the loop at the next step boundary."""
    with StopSignals() as stop:
        ours = signal.getsignal(signal.SIGTERM)
        lightning_calls = []

        def lightning(signum, frame):
            lightning_calls.append(signum)
            ours(signum, frame)

        signal.signal(signal.SIGTERM, lightning)
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):
            pass
        signal.signal(signal.SIGTERM, ours)
    assert lightning_calls == [signal.SIGTERM] and stop.received == signal.SIGTERM


def test_preempted_prints_its_message_and_exits_with_128_plus_the_signal(capsys):
    with pytest.raises(SystemExit) as exit_info, user_errors_reported():
        raise Preempted(signal.SIGTERM, "stopped by SIGTERM at step 9; the training state is in x/last.ckpt")
    assert exit_info.value.code == 143
    assert capsys.readouterr().err == "stopped by SIGTERM at step 9; the training state is in x/last.ckpt\n"


def test_a_worker_leaves_the_first_sigterm_to_the_main_process_and_ends_on_the_second():
    pid = os.fork()
    if pid == 0:  # the "worker"
        ignore_stop_signals_in_worker(0)
        os.kill(os.getpid(), signal.SIGUSR1)  # ignored
        os.kill(os.getpid(), signal.SIGTERM)  # the process group's: ignored
        for _ in range(100):  # let the first handler run before the second signal
            pass
        os.kill(os.getpid(), signal.SIGTERM)  # the main process's terminate(): ends it
        os._exit(0)  # not reached
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM
