"""scripts/benchmark_serve.py starting its own servers, batched and unbatched, on a tiny export with a small count,
two rounds: a row per mode, client count and round with no errors, each round's ratio and their median, and the
in-process ceiling (a smoke test: no speed is asserted; the README quotes full runs). Slow: four server starts
(tests/integration/test_serve.py runs the script on its running server in the default suite)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from onnx_fixtures import export_tiny
from scripts_module import load_script

pytest.importorskip("fastapi")


@pytest.mark.slow
def test_benchmark_serve_prints_a_row_per_mode_and_client_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    model = export_tiny(tmp_path / "model")
    argv = [str(model), "--requests", "30", "--clients", "1", "4", "--rounds", "2"]
    assert load_script("benchmark_serve").main(argv) == 0
    out = capsys.readouterr().out
    for mode in ("batched", "unbatched"):
        for clients in (1, 4):
            row = rf"^{mode} +{clients} +30 +0 +(\d+\.\d +){{3}}\d+\.\d +\d+\.\d +\d+\.\d\d$"
            assert len(re.findall(row, out, re.M)) == 2, out  # one a round
    ratios = r"^at 4 clients, batched / unbatched throughput: \d+\.\d\dx \d+\.\d\dx \(median \d+\.\d\dx of 2 rounds\)$"
    assert re.search(ratios, out, re.M), out
    ceiling = r"^ceiling, in this process without HTTP \(30 requests, \d+ threads\): one call per request \d+\.\d req/s, "
    assert re.search(ceiling + r"batches of up to 256 texts in passes of 32 \d+\.\d req/s: \d+\.\d\dx$", out, re.M), out


@pytest.mark.slow
def test_a_model_that_does_not_load_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert load_script("benchmark_serve").main([str(tmp_path / "missing"), "--requests", "1", "--clients", "1"]) == 2
    assert "simcse-serve exited with 2" in capsys.readouterr().err


def test_model_or_port_is_one_line(capsys: pytest.CaptureFixture[str]):
    assert load_script("benchmark_serve").main([]) == 2
    assert capsys.readouterr().err.startswith("benchmark_serve: error: give MODEL or --port")
