"""Every option of every config group composes, and values reach the parts they configure."""

from pathlib import Path

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from simcse_pl.config import check_config, compose_config
from simcse_pl.losses import Auxiliary, Objective

CONF = Path(__file__).resolve().parents[2] / "conf"
GROUPS = ["model", "data", "loss", "optim", "trainer", "logger", "callbacks", "paths", "experiment"]
OPTIONS = [(g, p.stem) for g in GROUPS for p in sorted((CONF / g).glob("*.yaml"))]


@pytest.mark.parametrize("group, option", OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_every_group_option_composes_and_passes_the_checks(group, option):
    cfg = compose_config(f"{group}={option}", "paths.output_dir=out")
    check_config(cfg)  # types of the pluggable parts, every declared range
    for key in ("model", "data", "loss", "optim", "trainer"):
        OmegaConf.to_container(cfg[key], resolve=True)
    assert isinstance(instantiate(cfg.loss), Objective)


AUXILIARIES = sorted(p.stem for p in (CONF / "auxiliary").glob("*.yaml"))
DATA_PARTS = [(g, p.stem) for g in ("views", "sampler") for p in sorted((CONF / "data" / g).glob("*.yaml"))]


@pytest.mark.parametrize("option", AUXILIARIES)
def test_every_auxiliary_objective_composes(option):
    cfg = compose_config(f"auxiliary=[{option}]", "paths.output_dir=out")
    check_config(cfg)
    (name, node), = cfg.auxiliary.items()
    assert isinstance(instantiate(node), Auxiliary)


@pytest.mark.parametrize("group, option", DATA_PARTS, ids=[f"data/{g}={o}" for g, o in DATA_PARTS])
def test_every_view_and_sampler_composes(group, option):
    cfg = compose_config(f"data/{group}={option}", "paths.output_dir=out")
    check_config(cfg)
    node = cfg.data[group]
    assert not node or instantiate(node) is not None


def test_command_line_reaches_the_part():
    cfg = compose_config("model=roberta-base", "loss.tau=0.1", "optim.lr=1e-5", "data.batch_size=128")
    assert cfg.model.name_or_path == "roberta-base"
    assert (cfg.loss.tau, cfg.optim.lr, cfg.data.batch_size) == (0.1, 1e-5, 128)


def test_quickstart_is_the_papers_unsupervised_recipe():
    cfg = compose_config("experiment=quickstart")
    assert cfg.model.name_or_path == "sentence-transformers/all-MiniLM-L6-v2"
    assert (cfg.model.pooler, cfg.model.mlp_only_train) == ("cls", True)
    assert (cfg.data.batch_size, cfg.data.max_len, cfg.data.max_samples) == (64, 32, 2048)
    assert (cfg.optim.lr, cfg.loss.tau, cfg.trainer.accelerator) == (3e-5, 0.05, "cpu")


def test_the_data_root_is_the_env_var_then_the_one_make_used_then_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SIMCSE_DATA_DIR", raising=False)
    assert compose_config().paths.data_dir == "./data"
    (tmp_path / ".data-root").write_text("/srv/simcse-data\n")  # written by `make train` / `make data`
    assert compose_config().paths.data_dir == "/srv/simcse-data"
    monkeypatch.setenv("SIMCSE_DATA_DIR", "/elsewhere")
    assert compose_config().paths.data_dir == "/elsewhere"
