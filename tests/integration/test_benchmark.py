"""scripts/benchmark.py runs end to end and ends with its ratio line (a smoke test: no timing is asserted)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_benchmark_prints_the_table_and_ratio(tmp_path: Path):
    (tmp_path / "wiki").mkdir()
    lines = [f"sentence number {i} of a small wiki sample ." for i in range(200)]
    (tmp_path / "wiki" / "wiki1m_head11914.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    args = ["model=tiny", "batch_size=16", "steps=3", "warmup=1", "data_batches=4", "num_workers=1"]
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "benchmark.py"), *args],
        cwd=REPO, env={**os.environ, "SIMCSE_DATA_DIR": str(tmp_path)}, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout.strip().splitlines()
    assert re.fullmatch(r"ratio: \d+\.\d\d", out[-1])
    table = "\n".join(out)
    for row in ("simcse-pl (Trainer)", "plain PyTorch loop", "dataloader alone"):
        assert re.search(rf"^{re.escape(row)} .*\d", table, re.M), table
