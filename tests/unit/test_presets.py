"""The paper presets (conf/experiment/{unsup,sup}_*.yaml) compose and carry the SimCSE paper's hyperparameters.

PAPER is Table A.1 of the SimCSE paper (= the official README's hyperparameter table): batch size and
learning rate per setting, 1 epoch unsupervised / 3 supervised, max length 32, τ 0.05, [CLS] with the MLP
head (training only when unsupervised); and the average STS each released model reports.
"""

from pathlib import Path

import pytest
import yaml

from simcse_pl.config import compose_config

CONF = Path(__file__).resolve().parents[2] / "conf"

# preset: (model, batch, lr, epochs, reported avg STS)
PAPER = {
    "unsup_bert_base": ("bert-base-uncased", 64, 3e-5, 1, "76.25"),
    "unsup_bert_large": ("bert-large-uncased", 64, 1e-5, 1, "78.41"),
    "unsup_roberta_base": ("roberta-base", 512, 1e-5, 1, "76.57"),
    "unsup_roberta_large": ("roberta-large", 512, 3e-5, 1, "78.90"),
    "sup_bert_base": ("bert-base-uncased", 512, 5e-5, 3, "81.57"),
    "sup_bert_large": ("bert-large-uncased", 512, 1e-5, 3, "82.21"),
    "sup_roberta_base": ("roberta-base", 512, 5e-5, 3, "82.52"),
    "sup_roberta_large": ("roberta-large", 512, 1e-5, 3, "83.76"),
}


@pytest.mark.parametrize("preset", sorted(PAPER))
def test_preset_matches_the_paper(preset):
    model, batch, lr, epochs, sts_avg = PAPER[preset]
    supervised = preset.startswith("sup_")
    cfg = compose_config(f"experiment={preset}")
    assert cfg.model.name_or_path == model
    assert (cfg.data.batch_size, cfg.optim.lr, cfg.trainer.max_epochs) == (batch, lr, epochs)
    assert (cfg.data.max_len, cfg.loss.tau, cfg.model.pooler) == (32, 0.05, "cls")
    assert cfg.model.mlp_only_train is not supervised
    if supervised:
        assert cfg.data.source._target_ == "simcse_pl.data.sources.nli.NLITriplets"
        assert cfg.data.source.path.endswith("nli/nli_for_simcse.csv")
        assert cfg.loss.hard_negative_weight == 0.0  # log α, α = 1
    else:
        assert cfg.data.source._target_ == "simcse_pl.data.sources.text_lines.TextLines"
        assert cfg.data.source.path.endswith("wiki/wiki1m_for_simcse.txt")
    assert f"avg STS {sts_avg}" in (CONF / "experiment" / f"{preset}.yaml").read_text()


def test_every_paper_preset_is_in_the_table():
    files = {p.stem for p in (CONF / "experiment").glob("*sup_*.yaml")} - {"quickstart_sup", "_sup_paper", "_unsup_paper"}
    assert files == set(PAPER)


@pytest.mark.parametrize("preset", sorted(PAPER))
def test_a_paper_preset_is_a_delta_of_its_recipe(preset: str):
    """The paper's recipe lives once per objective (experiment/_unsup_paper.yaml, _sup_paper.yaml); a preset adds
    only its model, batch and lr, and restates nothing the recipe or the schema already say."""
    settings = yaml.safe_load((CONF / "experiment" / f"{preset}.yaml").read_text())
    base = "_unsup_paper" if preset.startswith("unsup") else "_sup_paper"
    assert settings["defaults"][0] == base
    restated = {"model": {"pooler", "mlp_only_train"}, "data": {"max_len"}, "loss": {"tau"}, "trainer": {"max_epochs"}}
    assert not [f"{group}.{k}" for group, keys in restated.items() for k in settings.get(group) or {} if k in keys]
    assert set(settings) <= {"defaults", "task_name", "data", "optim"}


def test_supervised_is_a_config_choice():
    cfg = compose_config("data=nli", "loss=infonce_hard_negatives")
    assert cfg.data.source._target_ == "simcse_pl.data.sources.nli.NLITriplets"
    assert cfg.data.source.on_bad_row == "error"
    assert cfg.loss.hard_negative_weight == 0.0


def test_quickstart_sup_is_the_papers_supervised_recipe_on_minilm():
    cfg = compose_config("experiment=quickstart_sup")
    assert cfg.model.name_or_path == "sentence-transformers/all-MiniLM-L6-v2"
    assert (cfg.model.pooler, cfg.model.mlp_only_train) == ("cls", False)
    assert cfg.data.source.path.endswith("nli/snli_dev_triplets.csv")
    assert (cfg.data.batch_size, cfg.optim.lr, cfg.loss.tau, cfg.trainer.max_epochs) == (64, 3e-5, 0.05, 1)
    assert cfg.trainer.accelerator == "cpu"


@pytest.mark.parametrize("devices, per_device", [(1, 512), (2, 256), (4, 128), (8, 64)])
def test_a_presets_batch_is_the_papers_global_batch_on_any_number_of_gpus(devices: int, per_device: int):
    cfg = compose_config("experiment=sup_bert_base", "trainer=ddp", f"trainer.devices={devices}")
    assert cfg.data.batch_size == per_device


def test_a_global_batch_that_does_not_split_is_named():
    from simcse_pl.config import ConfigError, check_config

    cfg = compose_config("experiment=sup_bert_base", "trainer=ddp", "trainer.devices=3", "paths.output_dir=x")
    with pytest.raises(ConfigError, match=r"^data.batch_size: the preset's global batch 512 does not split evenly over 3"):
        check_config(cfg)


def test_the_command_line_batch_is_per_process():
    assert compose_config("experiment=sup_bert_base", "trainer=ddp", "trainer.devices=2", "data.batch_size=128").data.batch_size == 128
