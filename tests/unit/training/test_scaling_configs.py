"""The scaling switches compose: gather / GradCache in the step, compile in every model, multi-node DDP, SLURM."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from simcse_pl.config import ConfigError, check_config

CONF = Path(__file__).resolve().parents[3] / "conf"


def config(*overrides: str, hydra: bool = False):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("train", overrides=list(overrides), return_hydra_config=hydra)


def test_gather_is_on_and_gradcache_off_by_default_for_every_objective():
    assert (config().step.gather, config().step.mini_batch_size) == (True, None)
    step = config("step.gather=false", "step.mini_batch_size=16").step
    assert (step.gather, step.mini_batch_size) == (False, 16)


def test_bad_mini_batch_size_names_the_key():
    with pytest.raises(ConfigError, match=r"^step.mini_batch_size=0: must be null or >= 1$"):
        check_config(config("step.mini_batch_size=0", "paths.output_dir=x"))


@pytest.mark.parametrize("model", sorted(p.stem for p in (CONF / "model").glob("*.yaml")))
def test_every_model_has_compile_off(model: str):
    assert config(f"model={model}").model.compile is False


def test_ddp_multinode():
    trainer = config("trainer=ddp_multinode", "trainer.num_nodes=4").trainer
    assert (trainer.strategy, trainer.accelerator, trainer.num_nodes) == ("ddp", "gpu", 4)
    assert trainer.use_distributed_sampler is False  # the stream shards itself over ranks


def test_submitit_slurm_launcher():
    launcher = config("hydra/launcher=submitit_slurm", "hydra.launcher.nodes=2", hydra=True).hydra.launcher
    assert launcher._target_ == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    assert launcher.nodes == 2 and launcher.submitit_folder.endswith(".submitit/%j")
