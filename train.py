"""Train a sentence encoder: `python train.py model=bert-base loss.tau=0.05` (configs in conf/)."""

import hydra
from omegaconf import DictConfig

from simcse_pl.errors import run_reported
from simcse_pl.run import run


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    return run_reported(run, cfg)


if __name__ == "__main__":
    main()
