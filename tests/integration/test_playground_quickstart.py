"""The README's screenshot: the playground in headless chromium on the quickstart's own run (all-MiniLM-L6-v2, the
real wiki sentences, ``python train.py experiment=quickstart``) served with ``--compare untrained`` over 2,000 of
those sentences. The page's score is ``SimCSE.similarity`` to 4 decimals, its top 3 are ``SimCSE.search``'s, both
models answer side by side and the run's scores show. The screenshot goes to the test's tmp folder, and to
``$SIMCSE_SCREENSHOT_DIR`` when set (``SIMCSE_SCREENSHOT_DIR=docs`` refreshes docs/playground.png)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from browser import playground, score_pair, search
from serve_process import free_port, start_server, stop
from simcse_pl.inference import SimCSE

# slow: a real quickstart run (~3 min on 2 cores), then 2 x 2,000 sentences encoded by the server
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PAIR = ("A man is playing a guitar.", "Someone plays music on a guitar.")
QUERY = "the band released its first album"


@pytest.fixture(scope="module")
def run_dir(real_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("quickstart") / "run"
    done = subprocess.run([sys.executable, str(REPO / "train.py"), "experiment=quickstart", f"paths.data_dir={real_data}",
                           f"hydra.run.dir={run}", "+trainer.enable_progress_bar=false"],
                          cwd=REPO, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    return run


@pytest.fixture(scope="module")
def corpus(real_data: Path, run_dir: Path) -> list[str]:
    lines = (real_data / "wiki" / "wiki1m_head11914.txt").read_text(encoding="utf-8").splitlines()[:2000]
    (run_dir.parent / "corpus.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [line.strip() for line in lines if line.strip()]  # the documents simcse-serve reads from the file


@pytest.fixture(scope="module")
def page(run_dir: Path, corpus: list[str]) -> Iterator[Any]:
    port = free_port()
    server = start_server([str(run_dir), "--compare", "untrained", "--corpus", str(run_dir.parent / "corpus.txt")],
                          port, timeout=600)
    try:
        with playground(f"http://127.0.0.1:{port}") as tab:
            yield tab
    finally:
        stop(server)


def test_the_quickstart_run_in_the_playground(page: Any, run_dir: Path, corpus: list[str], tmp_path: Path):
    trained = SimCSE.from_pretrained(run_dir / "model")
    assert score_pair(page, *PAIR) == f"{trained.similarity(*PAIR):.4f}"
    assert page.locator('#pair-out .column[data-model="untrained"] .pair-score').count() == 1

    shown = search(page, QUERY, 3)
    trained.build_index(corpus)
    assert shown == [hit.sentence for hit in trained.search(QUERY, top_k=3)]
    assert page.locator("#search-out .column").count() == 2

    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    assert f"{results['best'][results['metric']]:.2f}" in page.inner_text("#scores")
    shot = tmp_path / "playground.png"
    page.screenshot(path=str(shot), full_page=True)
    if os.environ.get("SIMCSE_SCREENSHOT_DIR"):
        shutil.copy(shot, Path(os.environ["SIMCSE_SCREENSHOT_DIR"]) / shot.name)
