"""Train a sentence encoder: `python train.py model=bert-base loss.tau=0.05` (configs in conf/, `--help` for more).
The same entry as the console script `simcse-train` (simcse_pl/cli/train.py)."""

import os
import signal


def _stopped_while_importing(signum: int, frame: object) -> None:
    """A stop signal while Python imports Hydra and the package, before simcse_pl can answer it, ended the process
    silently (status 143, no line); the same words as simcse_pl.training.preemption.not_started."""
    os.write(2, f"stopped before training started; nothing to resume ({signal.Signals(signum).name})\n".encode())
    os._exit(128 + signum)


if __name__ == "__main__":
    for _signum in (signal.SIGTERM, signal.SIGUSR1, signal.SIGINT):
        signal.signal(_signum, _stopped_while_importing)

from simcse_pl.cli.train import main  # noqa: E402 - after the handler above

if __name__ == "__main__":
    main()
