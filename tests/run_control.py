"""Driving a train.py subprocess in kill-and-resume tests: start it as a user would, wait for it to finish, or
SIGKILL it once its fault hook has frozen it (no handler, no cleanup: what a crash or an OOM kill leaves behind)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def start(cmd: list[str], new_session: bool = False, **env: str) -> subprocess.Popen:
    """``cmd`` in the background, as a user runs it (one-line errors: no ``HYDRA_FULL_ERROR``), with one BLAS
    thread (several runs share the cores) and wandb off; stderr captured. ``new_session``: its own process group,
    as a container's or a SLURM job's (a signal to the group reaches its dataloader workers too)."""
    base = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    return subprocess.Popen(cmd, cwd=REPO, env={**base, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled", **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=new_session)


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
