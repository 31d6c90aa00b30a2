"""scripts/benchmark.py runs end to end and ends with its ratio line (a smoke test: no timing is asserted)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]


def test_benchmark_prints_the_table_and_ratio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    (tmp_path / "wiki").mkdir()
    lines = [f"sentence number {i} of a small wiki sample ." for i in range(200)]
    (tmp_path / "wiki" / "wiki1m_head11914.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setenv("SIMCSE_DATA_DIR", str(tmp_path))
    spec = importlib.util.spec_from_file_location("benchmark", REPO / "scripts" / "benchmark.py")
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a busy machine makes multi-threaded tiny steps slow; speed is not tested here
    try:
        benchmark.main(["model=tiny", "batch_size=16", "steps=3", "warmup=1", "data_batches=4", "num_workers=1"])
    finally:
        torch.set_num_threads(threads)

    out = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(r"ratio: \d+\.\d\d", out[-1])
    table = "\n".join(out)
    for row in ("simcse-pl (Trainer)", "plain PyTorch loop", "dataloader alone"):
        assert re.search(rf"^{re.escape(row)} .*\d", table, re.M), table
