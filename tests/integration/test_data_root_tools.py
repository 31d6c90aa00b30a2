"""Issue 24, friction 1: after `make`, every tool reads the data root `make` recorded (``.data-root`` in the
current folder), not only train.py. In a scratch folder holding only ``.data-root``, with no --data-dir and no
SIMCSE_DATA_DIR, each tool finds the files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from onnx_fixtures import export_tiny
from scripts_module import load_script
from simcse_pl.cli.evaluate import eval_main
from simcse_pl.cli.mine import locate
from simcse_pl.cli.mine import main as mine_main
from simcse_pl.data.downloads import DATA_FILES, QUICKSTART
from simcse_pl.data_root import data_root
from simcse_pl.errors import DataError
from sts_fixtures import write_senteval_root


@pytest.fixture(scope="module")
def made_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root elsewhere, as `make data` leaves it: the quickstart's files (STS-B real-format, the others
    placeholders) and a BEIR folder."""
    root = tmp_path_factory.mktemp("made_root")
    write_senteval_root(root, pairs_per_file=6)
    for entry in DATA_FILES:
        if entry.group == QUICKSTART and not (root / entry.path).exists():
            (root / entry.path).parent.mkdir(parents=True, exist_ok=True)
            (root / entry.path).write_text("placeholder\n", encoding="utf-8")
    (root / "scifact").mkdir()
    return root


@pytest.fixture
def scratch(made_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder holding only ``.data-root`` (as `make data-root` writes it), the current one; no SIMCSE_DATA_DIR."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    (folder / ".data-root").write_text(f"{made_root}\n")
    monkeypatch.chdir(folder)
    monkeypatch.delenv("SIMCSE_DATA_DIR", raising=False)
    return folder


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_tiny(tmp_path_factory.mktemp("root_model") / "model", pooler="avg")


def test_simcse_eval_reads_the_recorded_root(scratch: Path, model: Path, capsys: pytest.CaptureFixture):
    assert eval_main([str(model), "--tasks", "stsb", "--output", "out.json"]) == 0, capsys.readouterr().err
    assert json.loads((scratch / "out.json").read_text())["tasks"]["stsb"]["pairs"] == 12


def test_an_error_names_the_recorded_root(scratch: Path, model: Path, made_root: Path, capsys: pytest.CaptureFixture):
    (scratch / ".data-root").write_text(f"{scratch}/nowhere\n")
    assert eval_main([str(model), "--tasks", "stsb"]) == 2
    err = capsys.readouterr().err
    assert f"{scratch}/nowhere/stsb/sts-test.csv: no such file (--data-dir not given: data root from " \
           f"{scratch}/.data-root)" in err


def test_download_data_checks_the_recorded_root(scratch: Path, made_root: Path, capsys: pytest.CaptureFixture):
    assert load_script("download_data").main([]) == 0
    assert capsys.readouterr().out.strip() == \
        f"data present in {made_root} (from {scratch}/.data-root): nothing to download"


def test_benchmark_inference_finds_the_recorded_roots_tasks(scratch: Path):
    tasks, missing = load_script("benchmark_inference").sts_tasks(data_root())
    assert [t.name for t in tasks] == ["sts12", "sts13", "sts14", "sts15", "sts16", "stsb", "sickr"] and not missing


def test_simcse_mine_looks_for_data_under_the_root(scratch: Path, made_root: Path, capsys: pytest.CaptureFixture):
    assert locate("scifact", data_root()) == f"{made_root}/scifact"
    (scratch / "scifact").mkdir()
    assert locate("scifact", data_root()) == "scifact"  # a path that is there wins
    with pytest.raises(DataError, match=f"DATA nosuch: no such file or folder, here or under the data root "
                                        f"{made_root} \\(from {scratch}/.data-root\\)"):
        locate("nosuch", data_root())
    assert mine_main(["MODEL", "nosuch", "--output", "rows.jsonl"]) == 2
    assert "under the data root" in capsys.readouterr().err
