"""Stop signals outside the trainer's loops, and how a stop is reported (the train.py runs that a signal stops
mid-training and that resume exactly: tests/integration/test_preemption.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hydra.utils import instantiate

from simcse_pl.cli.reporting import user_errors_reported
from simcse_pl.errors import Preempted
from simcse_pl.training.preemption import StopSignals, ignore_stop_signals_in_worker
from simcse_pl.training.preemption import not_started, stop_signals_deferred

REPO = Path(__file__).resolve().parents[3]


def spin() -> None:
    """Python runs signal handlers between bytecodes: give them some."""
    for _ in range(1000):
        pass


@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 143), (signal.SIGUSR1, 138), (signal.SIGINT, 130)])
def test_a_stop_signal_outside_training_raises_preempted_at_once(signum: int, status: int):
    before, ctrl_c = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with pytest.raises(Preempted) as exc, StopSignals() as stop:
        stop.training_started = True  # after training: export, test
        os.kill(os.getpid(), signum)
        spin()
    assert stop.received == signum
    assert exc.value.exit_status == status
    assert str(exc.value) == f"stopped by {signal.Signals(signum).name} (outside training: nothing to save)"
    assert signal.getsignal(signal.SIGTERM) is before  # restored
    # Ctrl-C is what it was again: KeyboardInterrupt, or ignored in a job started in the background
    assert signal.getsignal(signal.SIGINT) is ctrl_c


@pytest.mark.parametrize("first", [signal.SIGINT, signal.SIGTERM])
def test_once_stopping_a_second_signal_changes_nothing(first: int, capfd):
    """A second Ctrl-C while the first one's save is written (or while the stop is reported) neither interrupts
    the save nor replaces the report of what was saved."""
    with StopSignals() as stop:
        ours = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, lambda signum, frame: ours(signum, frame))  # Lightning's, during fit
        os.kill(os.getpid(), first)
        spin()
        os.kill(os.getpid(), signal.SIGINT)  # during the save
        spin()
        signal.signal(signal.SIGTERM, ours)  # fit is over: the stop is being reported
        os.kill(os.getpid(), signal.SIGINT)
        spin()
    assert stop.received == first
    notices = capfd.readouterr().err.splitlines()
    assert notices[0] == (
        f"{signal.Signals(first).name}: stopping once the step under way is done (and saving the training state); "
        "another signal changes nothing"
    )
    again = (
        f"SIGINT: already stopping (after {signal.Signals(first).name}); the stop and its save go on. "
        f"kill -9 {os.getpid()} ends the job at once, keeping the previous last.ckpt"
    )
    assert notices[1:] == [again, again]


def test_ctrl_c_while_starting_is_raised_once_the_run_can_stop(capsys):
    """At the entry point a signal is recorded, not raised inside an import; the run's StopSignals raises it."""
    ctrl_c = signal.getsignal(signal.SIGINT)
    with pytest.raises(SystemExit) as exit_info, stop_signals_deferred(), user_errors_reported():
        os.kill(os.getpid(), signal.SIGINT)
        spin()  # no KeyboardInterrupt here
        with StopSignals():
            pytest.fail("the run started although Ctrl-C was pressed")
    assert exit_info.value.code == 130
    assert capsys.readouterr().err == "stopped before training started; nothing to resume (SIGINT)\n"  # once
    assert signal.getsignal(signal.SIGINT) is ctrl_c


def test_ctrl_c_after_the_run_is_one_line_and_status_130(capsys):
    with pytest.raises(SystemExit) as exit_info, stop_signals_deferred():
        os.kill(os.getpid(), signal.SIGINT)
        spin()
    assert exit_info.value.code == 130
    assert capsys.readouterr().err == "stopped by SIGINT (outside training: nothing to save)\n"


def test_ctrl_c_while_train_py_starts_is_one_line_and_status_130(tiny_data: Path, tmp_path: Path):
    """SIGINT as soon as Hydra has made the run folder, while torch and the model load: nothing is trained yet, so
    nothing is saved; one line, no stack trace (a KeyboardInterrupt inside those imports gave Hydra's error)."""
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "train.py"), "model=tiny", "trainer=cpu", f"paths.data_dir={tiny_data}",
         f"data.source.path={tiny_data}/wiki/wiki.txt", f"hydra.run.dir={tmp_path}"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"},
    )
    deadline = time.monotonic() + 60
    while not (tmp_path / ".hydra" / "config.yaml").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-3000:]
    assert err.strip().splitlines()[-1] == "stopped before training started; nothing to resume (SIGINT)", err[-3000:]
    assert "Traceback" not in err
    assert not (tmp_path / "checkpoints").exists()


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
        spin()
        signal.signal(signal.SIGTERM, ours)
    assert lightning_calls == [signal.SIGTERM] and stop.received == signal.SIGTERM


def test_preempted_prints_its_message_and_exits_with_128_plus_the_signal(capsys):
    with pytest.raises(SystemExit) as exit_info, user_errors_reported():
        raise Preempted(signal.SIGTERM, "stopped by SIGTERM at step 9; the training state is in x/last.ckpt")
    assert exit_info.value.code == 143
    assert capsys.readouterr().err == "stopped by SIGTERM at step 9; the training state is in x/last.ckpt\n"


def _stopped_while_built() -> None:
    raise Preempted(signal.SIGINT, "stopped before training started; nothing to resume (SIGINT)")


def test_a_stop_inside_a_hydra_instantiate_is_reported_as_a_stop(capsys):
    """The signal can arrive while Hydra builds a part (the logger, in CI): Hydra wraps what the constructor
    raised in its InstantiationException, and the stop must still be one line and status 130, not a user error."""
    with pytest.raises(SystemExit) as exit_info, user_errors_reported():
        instantiate({"_target_": f"{__name__}.{_stopped_while_built.__name__}"})
    assert exit_info.value.code == 130
    assert capsys.readouterr().err == "stopped before training started; nothing to resume (SIGINT)\n"


def test_a_worker_leaves_the_first_sigterm_to_the_main_process_and_ends_on_the_second():
    pid = os.fork()
    if pid == 0:  # the "worker"
        ignore_stop_signals_in_worker(0)
        os.kill(os.getpid(), signal.SIGUSR1)  # ignored
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C to the process group: ignored
        os.kill(os.getpid(), signal.SIGTERM)  # the process group's: ignored
        for _ in range(100):  # let the first handler run before the second signal
            pass
        os.kill(os.getpid(), signal.SIGTERM)  # the main process's terminate(): ends it
        os._exit(0)  # not reached
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM


def test_a_stop_signal_before_training_started_says_there_is_nothing_to_resume():
    with pytest.raises(Preempted) as exc, StopSignals():  # loading the model, reading the data
        os.kill(os.getpid(), signal.SIGTERM)
        spin()
    assert (exc.value.exit_status, str(exc.value)) == (143, "stopped before training started; nothing to resume (SIGTERM)")
    assert str(exc.value) == not_started(signal.SIGTERM)


def catches(pid: int, signum: int) -> bool:
    """Whether process ``pid`` has a handler for ``signum`` (Linux: the SigCgt mask in /proc/<pid>/status)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    mask = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), 16)
    return bool(mask >> (signum - 1) & 1)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads handlers from /proc")
def test_sigterm_while_train_py_imports_is_one_line_143_at_once(tmp_path: Path):
    """SIGTERM as soon as train.py can catch it, while Python imports Hydra, the package and torch: before, the
    process either died of it silently (no handler yet) or waited for the imports (up to a minute on a loaded
    machine) to say it; now one line, status 143, within seconds."""
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "train.py"), "debug=fast", f"hydra.run.dir={tmp_path}"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"},
    )
    deadline = time.monotonic() + 60
    while not catches(proc.pid, signal.SIGTERM) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    waited = time.monotonic() - sent
    assert proc.returncode == 143, err[-3000:]
    assert err.strip().splitlines() == ["stopped before training started; nothing to resume (SIGTERM)"], err[-3000:]
    assert waited < 10, f"exited {waited:.1f} s after SIGTERM"
    assert not (tmp_path / "checkpoints").exists()
