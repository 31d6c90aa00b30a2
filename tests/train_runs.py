"""train.py run the way the integration tests run it: a subprocess with ``debug=fast`` (conf/debug/fast.yaml: the
tiny random BERT on the CPU, no dataloader workers, batches of 16), on a data root's wiki file, in a given run (or
sweep) folder.

Each test file used to spell out this command line, its environment and its timeout for itself; they live here
once, so a test shows only the overrides that make it what it is, and a change to the common command is one edit.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run_train(
    run_dir: Path, *overrides: str, data_dir: Path, source: str | Path | None = None, multirun: bool = False,
    check: bool = True, full_error: bool = True, timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """``python train.py [-m] debug=fast ... *overrides``, output captured.

    ``source``: ``data.source.path`` (``<data_dir>/wiki/wiki.txt`` if None). ``multirun``: ``-m``, with
    ``run_dir`` as ``hydra.sweep.dir``. ``overrides`` come last, so one can replace a base value.
    ``check``: assert the run succeeded, showing the end of its stderr. ``full_error``: ``HYDRA_FULL_ERROR=1``, so
    a failure shows its whole traceback; False runs it as a user does (one-line errors, no variable inherited).
    """
    args = [
        sys.executable, str(REPO / "train.py"), *(["-m"] if multirun else []),
        "debug=fast",
        f"paths.data_dir={data_dir}", f"data.source.path={source or f'{data_dir}/wiki/wiki.txt'}",
        f"hydra.{'sweep' if multirun else 'run'}.dir={run_dir}", *overrides,
    ]
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    if full_error:
        env["HYDRA_FULL_ERROR"] = "1"
    done = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    if check:
        assert done.returncode == 0, done.stderr[-3000:]
    return done
