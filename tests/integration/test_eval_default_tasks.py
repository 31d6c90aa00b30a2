"""Issue 24, frictions 5 and 7: ``simcse-eval MODEL`` with no --tasks runs the default tasks whose files are
present and names the others; a task named with --tasks that is missing stays an error; and a missing task file is
reported before any task is read or the model is loaded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from onnx_fixtures import export_tiny
from simcse_pl.cli import evaluate
from simcse_pl.evaluation import registry
from sts_fixtures import write_senteval_root


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_tiny(tmp_path_factory.mktemp("defaults_model") / "model", pooler="avg")


@pytest.fixture(scope="module")
def full_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("defaults_root")
    write_senteval_root(root, pairs_per_file=6)
    return root


@pytest.fixture
def stsb_only(full_root: Path, tmp_path: Path) -> Path:
    """What `make data` gives: STS-B, not STS12-16 or SICK-R."""
    shutil.copytree(full_root / "stsb", tmp_path / "data" / "stsb")
    return tmp_path / "data"


def test_default_tasks_run_those_present_and_name_the_rest(model: Path, stsb_only: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture):
    assert evaluate.eval_main([str(model), "--data-dir", str(stsb_only), "--output", str(tmp_path / "r.json")]) == 0
    assert list(json.loads((tmp_path / "r.json").read_text())["tasks"]) == ["stsb"]
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("simcse-eval:")]
    assert len(err) == 1, err
    assert err[0].startswith(f"simcse-eval: skipping sts12, sts13, sts14, sts15, sts16, sickr: their files are not "
                             f"under the data root {stsb_only} (from --data-dir)")
    assert err[0].endswith(f"`make data DATA_ARGS=--full` (python scripts/download_data.py --data-dir {stsb_only} "
                           "--full) downloads them")


def test_dev_defaults_too(model: Path, stsb_only: Path, capsys: pytest.CaptureFixture):
    assert evaluate.eval_main([str(model), "--data-dir", str(stsb_only), "--split", "dev"]) == 0
    assert "simcse-eval: skipping sickr:" in capsys.readouterr().err


def test_no_default_task_present_is_one_error_line(model: Path, tmp_path: Path, capsys: pytest.CaptureFixture):
    assert evaluate.eval_main([str(model), "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert err.startswith(f"simcse-eval: error: no default task (sts12, sts13, sts14, sts15, sts16, stsb, sickr) has "
                          f"its files under the data root {tmp_path} (from --data-dir)")
    assert "`make data` (python scripts/download_data.py" in err and "or name tasks with --tasks" in err


def test_a_named_missing_task_stays_an_error(model: Path, stsb_only: Path, capsys: pytest.CaptureFixture):
    assert evaluate.eval_main([str(model), "--data-dir", str(stsb_only), "--tasks", "stsb", "sickr"]) == 2
    assert f"{stsb_only}/sick/SICK_test_annotated.txt: no such file (--data-dir)" in capsys.readouterr().err


def test_a_missing_file_is_reported_before_any_task_or_the_model_loads(model: Path, full_root: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture):
    """The last file of the last task is missing: nothing is read or loaded before the error."""
    shutil.copytree(full_root, tmp_path / "data")
    (tmp_path / "data" / "sick" / "SICK_test_annotated.txt").unlink()
    loaded: list[str] = []
    monkeypatch.setattr(evaluate, "_load_model", lambda args: loaded.append("model"))
    real_load_task = registry.load_task
    monkeypatch.setattr(registry, "load_task", lambda name, *a, **k: loaded.append(name) or real_load_task(name, *a, **k))
    assert evaluate.eval_main([str(model), "--data-dir", str(tmp_path / "data"),
                               "--tasks", "stsb", "sts12", "sickr"]) == 2
    assert "SICK_test_annotated.txt: no such file" in capsys.readouterr().err
    assert loaded == []


def test_a_task_with_some_of_its_files_is_a_damaged_download(model: Path, full_root: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture):
    """Skipped are the tasks with no file at all; one file missing of a task's several is named as an error."""
    shutil.copytree(full_root, tmp_path / "data")
    (tmp_path / "data" / "STS15-en-test" / "STS.gs.belief.txt").unlink()
    assert evaluate.eval_main([str(model), "--data-dir", str(tmp_path / "data")]) == 2
    assert f"{tmp_path}/data/STS15-en-test/STS.gs.belief.txt: no such file (--data-dir)" in capsys.readouterr().err
