"""Config files written for the flat layout name classes by their old paths (``simcse_pl.sources.TextLines``):
``check_config`` reads them as today's (``simcse_pl.config.MOVED_TARGETS``), so those files keep working."""

from __future__ import annotations

import logging

import pytest
from hydra.utils import get_object
from omegaconf import OmegaConf

from simcse_pl.config import MOVED_TARGETS, check_config, compose_config


@pytest.mark.parametrize("old", sorted(MOVED_TARGETS))
def test_every_moved_class_is_found_at_its_new_path(old: str):
    new = get_object(MOVED_TARGETS[old])
    assert new.__name__ == old.rsplit(".", 1)[1]


def test_old_paths_in_a_composed_config_are_read_as_the_new_ones(caplog: pytest.LogCaptureFixture):
    cfg = compose_config("model=tiny", "data/sampler=no_duplicates", "data/views=word_repetition")
    OmegaConf.set_struct(cfg, False)
    cfg.data._target_ = "simcse_pl.datamodule.SimCSEDataModule"
    cfg.data.source._target_ = "simcse_pl.sources.TextLines"
    cfg.data.sampler._target_ = "simcse_pl.no_duplicates.NoDuplicates"
    cfg.data.views._target_ = "simcse_pl.word_repetition.WordRepetition"
    cfg.callbacks.resume_guard._target_ = "simcse_pl.resume.ResumeGuard"
    cfg.trainer.plugins[0]._target_ = "simcse_pl.checkpointing.AtomicCheckpointIO"
    with caplog.at_level(logging.WARNING, logger="simcse_pl.config"):
        check_config(cfg)
    assert cfg.data._target_ == "simcse_pl.training.datamodule.SimCSEDataModule"
    assert cfg.data.source._target_ == "simcse_pl.data.sources.text_lines.TextLines"
    assert cfg.data.sampler._target_ == "simcse_pl.data.samplers.no_duplicates.NoDuplicates"
    assert cfg.data.views._target_ == "simcse_pl.data.views.word_repetition.WordRepetition"
    assert cfg.callbacks.resume_guard._target_ == "simcse_pl.training.resume.ResumeGuard"
    assert cfg.trainer.plugins[0]._target_ == "simcse_pl.training.checkpointing.AtomicCheckpointIO"
    assert len(caplog.records) == 1 and "simcse_pl.sources.TextLines" in caplog.text and "moved" in caplog.text


def test_todays_paths_pass_unchanged(caplog: pytest.LogCaptureFixture):
    cfg = compose_config("model=tiny")
    before = OmegaConf.to_yaml(cfg)
    with caplog.at_level(logging.WARNING, logger="simcse_pl.config"):
        check_config(cfg)
    assert OmegaConf.to_yaml(cfg) == before and not caplog.records
