"""The ONNX path from the command line: simcse-export --onnx writes the files, simcse-eval --backend onnx scores
the export as the torch backend does (int8 close), and misuse is one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simcse_pl.cli.evaluate import eval_main
from simcse_pl.cli.export import main as export_main
from sts_fixtures import write_senteval_root
from train_runs import run_train

# slow: a train.py run and a torch.onnx export (~20 s); tests/unit/export/test_onnx.py covers the export
pytestmark = pytest.mark.slow

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def run_dir(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("onnx_run")
    run_train(run, "model.pooler=avg", "logger=none", "trainer.max_steps=2", "trainer.val_check_interval=2",
              "validate_before=false", "test=false", data_dir=tiny_data)
    assert export_main([str(run), "--onnx"]) == 0
    return run


def test_simcse_export_onnx_writes_fp32_and_int8(run_dir: Path):
    assert (run_dir / "model" / "onnx" / "model.onnx").is_file()
    assert (run_dir / "model" / "onnx" / "model_quint8_avx2.onnx").is_file()


def test_simcse_eval_backend_onnx_scores_as_torch(run_dir: Path, tmp_path: Path):
    write_senteval_root(tmp_path / "data", pairs_per_file=12)
    scores = {}
    for name, extra in {"torch": [], "onnx": ["--backend", "onnx"],
                        "int8": ["--backend", "onnx", "--onnx-file", "onnx/model_quint8_avx2.onnx"]}.items():
        out = tmp_path / f"{name}.json"
        assert eval_main([str(run_dir / "model"), "--tasks", "stsb", "--device", "cpu", "--data-dir",
                          str(tmp_path / "data"), "--output", str(out), *extra]) == 0
        scores[name] = json.loads(out.read_text())["tasks"]["stsb"]["spearman"]
    assert scores["onnx"] == pytest.approx(scores["torch"], abs=1e-3)
    assert scores["int8"] == pytest.approx(scores["torch"], abs=10.0)  # 12 pairs: a rank swap moves ~3 points


def test_onnx_file_without_the_onnx_backend_is_one_line(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture):
    write_senteval_root(tmp_path / "data", pairs_per_file=4)
    assert eval_main([str(run_dir / "model"), "--tasks", "stsb", "--data-dir", str(tmp_path / "data"),
                      "--onnx-file", "onnx/model.onnx"]) == 2
    assert capsys.readouterr().err.strip() == \
        "simcse-eval: error: --onnx-file onnx/model.onnx: applies to --backend onnx"
