"""``simcse-serve``'s command line: what it loads (a second model beside the first, even the same one, under its
own name), the one line it ends with when MODEL or ``--corpus`` cannot be used (exit 2, no server started), and
torch's OpenMP threads told to sleep rather than spin while idle."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from serve_fixtures import tiny_run
from simcse_pl.cli.serve import build_server, main, parser

pytest.importorskip("fastapi")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_run(tmp_path_factory.mktemp("cli") / "run")


def test_compare_loads_a_second_model_under_its_own_name(run_dir: Path, tmp_path: Path):
    corpus = tmp_path / "docs.txt"
    corpus.write_text("one\n\ntwo\n")
    args = parser().parse_args([str(run_dir), "--compare", str(run_dir / "model"), "--corpus", str(corpus),
                                "--no-batching", "--max-texts", "3"])
    server = build_server(args)
    assert list(server.models) == ["run", "run (compare)"] and server.corpus == ["one", "two"]
    assert not server.batching.enabled and server.limits.max_texts == 3


@pytest.mark.parametrize(("extra", "error"), [
    (["--corpus", "missing.txt"], "missing.txt: no such file (--corpus)"),
    (["--max-corpus", "1", "--corpus", "CORPUS"], "2 texts, more than the limit of 1"),
    (["--compare", "EMPTY"], "empty"),
])
def test_what_cannot_be_served_is_one_line(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           extra: list[str], error: str):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("one\ntwo\n")
    (tmp_path / "empty").mkdir()
    paths = {"CORPUS": str(corpus), "EMPTY": str(tmp_path / "empty")}
    assert main([str(run_dir), *[paths.get(a, a) for a in extra]]) == 2
    err = capsys.readouterr().err
    assert err.startswith("simcse-serve: error: ") and error in err and err.count("\n") == 1, err


def test_openmp_threads_sleep_when_idle_unless_told_otherwise(run_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """OMP_WAIT_POLICY=PASSIVE before torch loads (importing the command does not load it); a value given wins."""
    monkeypatch.setenv("OMP_WAIT_POLICY", "")  # so that the test's end restores the variable's absence
    monkeypatch.delenv("OMP_WAIT_POLICY")
    assert main([str(run_dir), "--corpus", "missing.txt"]) == 2
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert main([str(run_dir), "--corpus", "missing.txt"]) == 2
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
    loaded = subprocess.run([sys.executable, "-c", "import sys, simcse_pl.cli.serve; print('torch' in sys.modules)"],
                            capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "False"
