"""Train a sentence encoder: `python train.py model=bert-base loss.tau=0.05` (configs in conf/, `--help` for more).
The same entry as the console script `simcse-train` (simcse_pl/train.py)."""

from simcse_pl.cli.train import main

if __name__ == "__main__":
    main()
