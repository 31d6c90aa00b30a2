"""Train a sentence encoder: `python train.py model=bert-base loss.tau=0.05` (configs in conf/, `--help` for more)."""

import hydra
from omegaconf import DictConfig

import simcse_pl.config  # noqa: F401 - the config schema; torch and Lightning load only once a run starts


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    from simcse_pl.errors import run_reported
    from simcse_pl.run import run

    return run_reported(run, cfg)


if __name__ == "__main__":
    main()
