"""The scaling switches compose: gather / GradCache in the loss, compile in every model, multi-node DDP, SLURM."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

CONF = Path(__file__).resolve().parents[2] / "conf"


def config(*overrides: str, hydra: bool = False):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("train", overrides=list(overrides), return_hydra_config=hydra)


def test_gather_is_on_and_gradcache_off_by_default():
    loss = instantiate(config().loss)
    assert loss.gather is True and loss.mini_batch_size is None
    loss = instantiate(config("loss.gather=false", "loss.mini_batch_size=16").loss)
    assert loss.gather is False and loss.mini_batch_size == 16


def test_bad_mini_batch_size_names_the_key():
    with pytest.raises(Exception, match="loss.mini_batch_size must be >= 1"):  # Hydra wraps the ValueError
        instantiate(config("loss.mini_batch_size=0").loss)


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
