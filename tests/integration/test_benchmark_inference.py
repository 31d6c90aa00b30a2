"""scripts/benchmark_inference.py runs end to end on a tiny export: it writes the ONNX files, names the STS sets it
found and ends with one row per backend (a smoke test: no speed is asserted)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from onnx_fixtures import export_tiny
from scripts_module import load_script
from simcse_pl.export.layout import INT8_FILE, ONNX_FILE

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


@pytest.mark.slow  # exports ONNX and times every backend (~8 s)
def test_benchmark_prints_every_backend(tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    model = export_tiny(tmp_path / "model", pooler="avg")
    assert load_script("benchmark_inference").main([str(model), "--data-dir", str(tiny_data), "--threads", "1", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert (model / ONNX_FILE).exists() and (model / INT8_FILE).exists()
    assert re.search(r"^STS test sets: STS-B \(\d+ distinct sentences\); not under .*: STS12, .*SICK-R$", out, re.M)
    for backend in ("torch fp32", "ONNX fp32", "ONNX int8"):
        assert re.search(rf"^{backend} +\d+\.\d +\d+\.\d\dx +-?\d+\.\d\d$", out, re.M), out
    assert re.search(r"^torch fp32 .* 1\.00x ", out, re.M)


def test_missing_stsb_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert load_script("benchmark_inference").main([str(tmp_path), "--data-dir", str(tmp_path)]) == 2
    assert "stsb" in capsys.readouterr().err
