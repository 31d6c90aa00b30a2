"""Issue 24 item 8: a user's config named as a packaged one (``--config-dir conf`` or ``hydra.searchpath`` with a
``conf/experiment/quickstart.yaml``) was silently ignored for the packaged preset; it is now refused, in one line
naming both files, before anything loads. A folder that is the packaged one, or configs with their own names, pass."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from simcse_pl.cli.config_clash import clashes
from simcse_pl.config import CONF_DIR

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A user's project whose conf/ holds its own copy of the quickstart preset and one config of its own."""
    (tmp_path / "conf" / "experiment").mkdir(parents=True)
    (tmp_path / "conf" / "experiment" / "quickstart.yaml").write_text("# @package _global_\ntask_name: mine\n")
    (tmp_path / "conf" / "experiment" / "my_exp.yaml").write_text("# @package _global_\ntask_name: my_exp\n")
    return tmp_path


def train(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**{k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, str(REPO / "train.py"), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


@pytest.mark.parametrize("added", [["--config-dir", "conf"], ["hydra.searchpath=[file://{root}/conf]"]],
                         ids=["config-dir", "searchpath"])
def test_a_project_config_named_as_a_packaged_one_is_refused_in_one_line(project: Path, added: list[str]):
    done = train(project, *(a.format(root=project) for a in added), "experiment=quickstart")
    assert done.returncode == 2, done.stderr[-2000:]
    by = "--config-dir" if added[0] == "--config-dir" else "hydra.searchpath"
    assert done.stderr.strip().splitlines() == [(
        f"error: conf/experiment/quickstart.yaml (added by {by}) has the name of the packaged "
        f"{CONF_DIR / 'experiment' / 'quickstart.yaml'}, which Hydra reads first, so yours would be silently "
        "ignored: rename yours (e.g. experiment/my_quickstart.yaml, chosen with experiment=my_quickstart)")]
    assert not (project / "outputs").exists()  # refused before the run folder is made


def sources(*user: Path) -> list[dict[str, str]]:
    """A search path as Hydra records it (``hydra.runtime.config_sources``)."""
    return [{"path": "pkg://hydra.conf", "provider": "hydra", "schema": "pkg"},
            {"path": str(CONF_DIR), "provider": "main", "schema": "file"},
            *({"path": f"file://{u}", "provider": "command-line", "schema": "file"} for u in user),
            {"path": "", "provider": "schema", "schema": "structured"}]


def test_only_configs_named_as_packaged_ones_clash(project: Path):
    found = list(clashes(sources(project / "conf")))
    assert [(name, user) for name, user, _, _ in found] == [
        ("experiment/quickstart.yaml", project / "conf" / "experiment" / "quickstart.yaml")]
    (project / "conf" / "experiment" / "quickstart.yaml").unlink()
    assert not list(clashes(sources(project / "conf")))


def test_the_packaged_folder_itself_hides_nothing():
    """``--config-dir conf`` in the checkout adds the packaged folder again: every name matches, none is hidden."""
    assert not list(clashes(sources(CONF_DIR)))
