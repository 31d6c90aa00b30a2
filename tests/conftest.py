"""Shared fixtures: a tiny synthetic data root (so tests run on any fresh clone) and the real data root."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
WORDS = "a the man woman dog cat plays runs eats sleeps guitar ball fish in on park house red blue big small".split()


def write_stsb(path: Path, n: int, seed: int) -> None:
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        s1 = " ".join(rng.choices(WORDS, k=rng.randint(3, 9)))
        s2 = " ".join(rng.choices(WORDS, k=rng.randint(3, 9)))
        lines.append(f"main-captions\tMSRvid\t2012test\t{i:04d}\t{rng.uniform(0, 5):.3f}\t{s1}\t{s2}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root in the project's layout: 256 wiki-like lines and small STS-B dev/test files."""
    root = tmp_path_factory.mktemp("data")
    rng = random.Random(0)
    (root / "wiki").mkdir()
    sentences = [" ".join(rng.choices(WORDS, k=rng.randint(4, 14))) for _ in range(256)]
    (root / "wiki" / "wiki.txt").write_text("\n".join(sentences) + "\n", encoding="utf-8")
    write_stsb(root / "stsb" / "sts-dev.csv", 40, seed=1)
    write_stsb(root / "stsb" / "sts-test.csv", 40, seed=2)
    return root


@pytest.fixture(scope="session")
def real_data() -> Path:
    """``SIMCSE_DATA_DIR`` (or ../shared/data); skips when absent, fails in CI (SIMCSE_REQUIRE_DATA=1)."""
    root = Path(os.environ.get("SIMCSE_DATA_DIR", REPO.parent / "shared" / "data"))
    if not (root / "stsb" / "sts-dev.csv").exists():
        if os.environ.get("SIMCSE_REQUIRE_DATA"):
            pytest.fail(f"real data required but missing in {root}")
        pytest.skip(f"real data not found in {root} (set SIMCSE_DATA_DIR)")
    return root
