"""The package as a user installs it: ``python -m build`` makes the sdist and, from it, the wheel; the wheel goes into
a fresh virtual environment outside the checkout, and from an empty folder ``simcse-train model=tiny`` trains and
``simcse-eval`` scores the export; then "Use simcse-pl in your own project" (docs/getting-started/install.md) runs
as written, in a project folder holding only that section's config file.

The fresh environment borrows .venv's installed dependencies through a ``.pth`` line (installing them would take
minutes) but imports simcse_pl from the wheel: a plain path line runs none of the ``.pth`` files in that folder, so
.venv's editable finder for the checkout never loads (checked: ``simcse_pl.__file__`` lies in the fresh env)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

from doc_blocks import runnable

# slow: builds the sdist and wheel and trains from a fresh environment (~50 s)
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
# a tiny run: the 2-layer random model, two steps, the fixture's wiki lines, no loggers
TINY_RUN = ["model=tiny", "trainer.max_steps=2", "trainer.val_check_interval=2", "data.batch_size=16",
            "data.num_workers=0", "logger=none", "data.source.path=${paths.data_dir}/wiki/wiki.txt"]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel ``python -m build`` makes (the wheel is built from the unpacked sdist)."""
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(REPO)], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


def only(folder: Path, pattern: str) -> Path:
    [path] = folder.glob(pattern)
    return path


@pytest.fixture(scope="module")
def venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment outside the checkout with the wheel installed and .venv's packages visible."""
    root = tmp_path_factory.mktemp("venv")
    assert not root.is_relative_to(REPO)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120)
    python = root / "bin" / "python"
    # installed before the dependencies are visible, so pip sees no other simcse-pl in this environment
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index",
                    str(only(dist, "*.whl"))], check=True, capture_output=True, timeout=300)
    site_packages = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                   check=True, capture_output=True, text=True).stdout.strip()
    Path(site_packages, "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return root


def user_env(venv: Path) -> dict[str, str]:
    """A shell with the fresh environment activated; nothing points at the checkout or at a data root."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HYDRA_FULL_ERROR", "SIMCSE_DATA_DIR")}
    return {**env, "VIRTUAL_ENV": str(venv), "PATH": f"{venv / 'bin'}{os.pathsep}{env['PATH']}"}


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{shlex.join(argv)}\n{done.stderr[-3000:]}"
    return done


def test_the_wheel_and_the_sdist_hold_every_module_config_and_page(dist: Path):
    modules = {p.relative_to(REPO).as_posix() for p in (REPO / "simcse_pl").rglob("*.py")}
    configs = {p.relative_to(REPO).as_posix() for p in (REPO / "conf").rglob("*.yaml")}
    page = {p.relative_to(REPO).as_posix() for p in (REPO / "simcse_pl" / "serving" / "static").iterdir()}
    with zipfile.ZipFile(only(dist, "*.whl")) as wheel_file:
        wheel = set(wheel_file.namelist())
    assert modules | page <= wheel and {f"simcse_pl/{c}" for c in configs} <= wheel
    with tarfile.open(only(dist, "*.tar.gz")) as sdist:
        inside = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert modules | configs | page | {"pyproject.toml", "README.md"} <= inside


def test_the_installed_wheel_trains_and_evaluates_from_an_empty_folder(
    dist: Path, venv: Path, tiny_data: Path, tmp_path: Path
):
    env = {**user_env(venv), "SIMCSE_DATA_DIR": str(tiny_data)}
    where = run(["python", "-c", "import simcse_pl.config as c; print(c.__file__); print(c.CONF_DIR)"], tmp_path, env)
    assert all(Path(line).is_relative_to(venv) for line in where.stdout.split())

    assert "experiment: " in run(["simcse-train", "--help"], tmp_path, env).stdout
    run(["simcse-train", *TINY_RUN], tmp_path, env)
    version = only(dist, "*.whl").name.split("-")[1]
    [run_dir] = (tmp_path / "outputs" / "train").iterdir()
    assert json.loads((run_dir / "results.json").read_text())["final"]["step"] == 2
    assert (run_dir / "train.log").is_file()
    assert json.loads((run_dir / "run_info.json").read_text())["versions"]["simcse_pl"] == version

    scored = run(["simcse-eval", str(run_dir / "model"), "--tasks", "stsb", "--output", "eval.json"], tmp_path, env)
    assert "STS-B" in scored.stdout and (tmp_path / "eval.json").is_file()


PAGE = "docs/getting-started/install.md"


def readme_section() -> str:
    """The install page's section (its only block a test runs: the others install from the network)."""
    [block] = runnable("docs/getting-started/install.md")
    page = (REPO / PAGE).read_text()
    section = re.search(r"\n## Use simcse-pl in your own project\n(.*?)\n## ", page, re.S).group(1)
    assert block.heading == "Use simcse-pl in your own project" and block.code in section
    return section


def readme_files(section: str) -> dict[str, str]:
    """The section's YAML blocks, each under the path named just before it (``...`conf/x.yaml`:``)."""
    return dict(re.findall(r"`(conf/\S+\.yaml)`:\n\n```yaml\n(.*?)```", section, re.S))


def readme_commands(section: str) -> list[str]:
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user's project folder: only the section's config files."""
    root = tmp_path_factory.mktemp("my-project")
    files = readme_files(readme_section())
    assert files, "the section shows no config file"
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


def test_the_readme_commands_for_your_own_project(venv: Path, tiny_data: Path, project: Path):
    env = user_env(venv)
    commands = readme_commands(readme_section())
    assert commands[0].startswith("pip install ")  # done by the venv fixture, with the wheel
    for command in commands[1:]:
        argv = shlex.split(command)
        if argv[0] == "export":
            assert argv[1].startswith("SIMCSE_DATA_DIR=")
            env["SIMCSE_DATA_DIR"] = str(tiny_data)
            continue
        if argv[0] == "simcse-train":
            argv += TINY_RUN
        run(argv, project, env)
    results = json.loads((project / "outputs" / "my_exp" / "results.json").read_text())
    assert results["final"]["step"] == 2
    config = json.loads((project / "outputs" / "my_exp" / "run_info.json").read_text())["config"]
    assert config["task_name"] == "my_exp" and config["loss"]["tau"] == 0.1  # the project's file over the preset's


def test_hydra_searchpath_adds_the_project_configs_as_config_dir_does(venv: Path, project: Path):
    override = re.search(r"`(hydra\.searchpath=\S+)` in place of `--config-dir conf`", readme_section()).group(1)
    out = run(["simcse-train", override, "experiment=my_exp", "--cfg", "job"], project, user_env(venv)).stdout
    assert "task_name: my_exp" in out


def test_a_project_config_named_as_a_packaged_one_is_refused(venv: Path, tmp_path: Path):
    """The install page's warning: the packaged configs come first in Hydra's search path, so a project's config of the same name would be
    silently ignored: it is refused in one line naming both files (issue 24 item 8), from the installed wheel too."""
    (tmp_path / "conf" / "experiment").mkdir(parents=True)
    (tmp_path / "conf" / "experiment" / "quickstart.yaml").write_text("# @package _global_\ntask_name: mine\n")
    argv = ["simcse-train", "--config-dir", "conf", "experiment=quickstart"]
    done = subprocess.run(argv, cwd=tmp_path, env=user_env(venv), capture_output=True, text=True, timeout=600)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: conf/experiment/quickstart.yaml (added by --config-dir) has the name of the packaged ")
    assert f"{venv}" in line and "rename yours (e.g. experiment/my_quickstart.yaml" in line
