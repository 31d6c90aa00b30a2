"""Driving a train.py subprocess in kill-and-resume tests: wait for it to finish, or SIGKILL it once its fault
hook has frozen it (no handler, no cleanup: what a crash or an OOM kill leaves behind)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path


def finish(proc: subprocess.Popen, timeout: float = 600) -> None:
    _, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]


def kill_when_frozen(proc: subprocess.Popen, marker: Path, deadline_s: float = 400) -> None:
    """Wait until ``marker`` exists (the run's fault hook wrote it and froze), then SIGKILL the run."""
    try:
        deadline = time.monotonic() + deadline_s
        while not marker.exists():
            assert proc.poll() is None, f"run ended before the fault: {proc.stderr.read()[-3000:]}"
            assert time.monotonic() < deadline, "the fault hook never fired"
            time.sleep(0.2)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -9
