"""`python train.py --help` is a short custom help (groups and options, examples, where outputs go) that answers
quickly because composing a config imports neither torch nor Lightning."""

from __future__ import annotations

import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROBE = """
import runpy, sys
sys.argv = ["train.py", "--help"]
try:
    runpy.run_path("train.py", run_name="__main__")
except SystemExit:
    pass
print("heavy:", sorted(m for m in ("torch", "lightning", "transformers") if m in sys.modules))
"""


def test_help_lists_groups_and_examples_without_loading_torch():
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=120)
    seconds = time.perf_counter() - start
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("simcse-pl: train sentence encoders")
    assert "loss: align_uniform, angle, cosent, infonce" in out and "model: bert-base" in out
    assert "python train.py experiment=quickstart" in out and "Outputs: outputs/" in out
    assert out.strip().endswith("heavy: []")
    assert seconds < 10, f"--help took {seconds:.1f} s"  # ~1.5 s on 2 cores; the import check above is the real test


CLI_PROBE = """
import sys
from {module} import {function}
try:
    {function}(["--help"])
except SystemExit:
    pass
print("heavy:", sorted(m for m in ("torch", "lightning", "transformers") if m in sys.modules))
"""


# the console scripts as pyproject.toml installs them; simcse-train's help is Hydra's (the test above)
SCRIPTS = {name: target for name, target in
           tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"].items() if name != "simcse-train"}


@pytest.mark.parametrize("prog", sorted(SCRIPTS))
def test_every_entry_points_help_loads_no_torch(prog: str):
    """--help of each console script answers without importing torch, Lightning or transformers (~1 s)."""
    module, function = SCRIPTS[prog].split(":")
    probe = CLI_PROBE.format(module=module, function=function)
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: {prog}") and done.stdout.strip().endswith("heavy: []")
