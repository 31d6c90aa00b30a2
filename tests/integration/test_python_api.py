"""Issue 24 item 13: ``simcse_pl.train(...)`` runs the command line's job from Python: the packaged config composed
with overrides (or a config edited in Python), the same run folder (``.hydra/``, ``train.log``, ``results.json``,
``model/``), a result naming the folder, the metric, its best value and the export; twice in one process. And
``import simcse_pl`` still loads no Lightning."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import simcse_pl
from simcse_pl.config import compose_config

TINY = ["debug=fast", "trainer.max_steps=2", "trainer.val_check_interval=2", "test=false", "logger=none"]


def test_train_twice_in_one_process_from_overrides_and_from_a_config(tiny_data: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch):
    data = [f"paths.data_dir={tiny_data}", f"data.source.path={tiny_data}/wiki/wiki.txt"]
    first = simcse_pl.train([*TINY, *data, "loss.tau=0.1", f"hydra.run.dir={tmp_path / 'first'}"])
    assert first.run_dir == tmp_path / "first"
    results = json.loads((first.run_dir / "results.json").read_text())
    assert (first.metric, first.best) == ("val/stsb_spearman", results["best"]["val/stsb_spearman"])
    assert first.export_dir == first.run_dir / "model" and (first.export_dir / "config.json").is_file()
    # the run folder the command line writes: simcse-report and a resume read it the same way
    assert "loss.tau=0.1" in yaml.safe_load((first.run_dir / ".hydra" / "overrides.yaml").read_text())
    assert "after training: val/stsb_spearman" in (first.run_dir / "train.log").read_text()

    cfg = compose_config(*TINY, *data, "export=false")
    cfg.loss.tau = 0.2
    monkeypatch.chdir(tmp_path)  # the packaged run folder, outputs/<task_name>/<time>, is relative to it
    second = simcse_pl.train(cfg, configure_logging=False)
    assert second.run_dir.parent == tmp_path / "outputs" / "train"
    assert json.loads((second.run_dir / "run_info.json").read_text())["config"]["loss"]["tau"] == 0.2
    assert second.export_dir is None and second.best is not None


def test_importing_the_package_loads_no_lightning():
    code = ("import sys, simcse_pl, simcse_pl.training; assert callable(simcse_pl.training.__getattr__); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('lightning', 'pytorch_lightning', 'torch')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]"
