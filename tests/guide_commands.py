"""The guides' shell and Python blocks (docs/guides/*.md), run as a reader pastes them: in a scratch folder holding
``train.py``, ``conf/`` and ``scripts/`` (outputs land there), with this venv's ``python`` and console scripts first
on the PATH and a data root of small files at the paths the guides name.

What a test may change (tests/doc_blocks.py): a ``train.py`` command gets ``debug=fast`` (the tiny random model on
the CPU, batches of 16; left out when the command picks its own ``model=``), a few steps and, for a preset that
needs it, a size the tiny model has appended (``TINY_MODEL_FIXES``), and a placeholder (``outputs/quickstart/<date>_<time>``, ``MODEL``) is replaced by the scratch run it stands for.
"""

from __future__ import annotations

import os
import random
import shlex
import subprocess
import sys
from pathlib import Path

from doc_blocks import Block, commands
from sts_fixtures import WORDS, write_senteval_root

from simcse_pl.config import check_config, compose_config

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# appended to a train.py command: a few steps, validated at the end (the schedule's length stays the command's)
FEW_STEPS = ["trainer.max_steps=4", "trainer.val_check_interval=2", "trainer.log_every_n_steps=1"]
QUICKSTART_RUN = "outputs/quickstart/<date>_<time>"
# what a preset needs besides on the tiny model: Matryoshka's sizes within its 32 dimensions
TINY_MODEL_FIXES = {"experiment=quickstart_cosent_matryoshka": ["loss.dims=[32,16,8]"]}


def write_guide_data(root: Path) -> Path:
    """A data root with every file the guides' CPU commands read: the seven SentEval tasks (STS-B train/dev/test
    among them), the wiki sample and SNLI dev triplets, in the project's layout, with small random text."""
    write_senteval_root(root, pairs_per_file=12)
    rng = random.Random(0)
    (root / "wiki").mkdir()
    lines = [" ".join(rng.choices(WORDS, k=rng.randint(4, 14))) for _ in range(96)]
    (root / "wiki" / "wiki1m_head11914.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "nli").mkdir()
    rows = [",".join(" ".join(rng.choices(WORDS, k=rng.randint(3, 9))) for _ in range(3)) for _ in range(64)]
    (root / "nli" / "snli_dev_triplets.csv").write_text("sent0,sent1,hard_neg\n" + "\n".join(rows) + "\n",
                                                        encoding="utf-8")
    return root


def scratch(work: Path) -> Path:
    """``work`` laid out as a checkout for the commands: train.py, conf/ and scripts/ linked, a data root in data/."""
    for name in ("train.py", "conf", "scripts"):
        (work / name).symlink_to(REPO / name)
    write_guide_data(work / "data")
    return work


def shell_env(work: Path) -> dict[str, str]:
    """The reader's environment: this venv first on the PATH, the scratch data root, offline, no wandb upload."""
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR" and not k.startswith("HF_")}
    env.update(PATH=f"{BIN}{os.pathsep}{env['PATH']}", SIMCSE_DATA_DIR=str(work / "data"), WANDB_MODE="disabled",
               HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HOME=str(work / "hf_home"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    return env


def is_training(command: str) -> bool:
    return "train.py" in shlex.split(command)[:3]


def with_tiny_model(command: str, *extra: str) -> str:
    """A train.py command as a test runs it: the tiny model (unless it names one), a few steps and what a preset
    needs on the tiny model appended."""
    if not is_training(command):
        return command
    argv = shlex.split(command)
    fast = [] if any(a.startswith("model=") for a in argv) else ["debug=fast"]
    fixes = [fix for arg in argv for fix in TINY_MODEL_FIXES.get(arg, [])]
    return shlex.join([*argv, *fast, *FEW_STEPS, *fixes, *extra])


def fill(command: str, substitutions: dict[str, str]) -> str:
    for placeholder, value in substitutions.items():
        command = command.replace(placeholder, value)
    return command


def run_shell(command: str, work: Path, env: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess:
    """One command through bash in ``work``; it must succeed."""
    done = subprocess.run(["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


def run_block(block: Block, work: Path, env: dict[str, str], substitutions: dict[str, str] | None = None,
              extra: tuple[str, ...] = ()) -> list[subprocess.CompletedProcess]:
    """Every command of a shell block (train.py with the tiny model), or a Python block as one script; in order."""
    subs = substitutions or {}
    if block.lang in ("python", "py"):
        return [run_shell(shlex.join([sys.executable, "-c", fill(block.code, subs)]), work, env)]
    return [run_shell(with_tiny_model(fill(c, subs), *extra), work, env) for c in commands(block)]


def training_overrides(command: str) -> list[str] | None:
    """The Hydra overrides of a single-run ``python train.py`` command (None for other commands and sweeps)."""
    argv = shlex.split(command)
    if "train.py" not in argv or "-m" in argv:
        return None
    return [a for a in argv[argv.index("train.py") + 1:] if "=" in a and not a.startswith("hydra.")]


def assert_composes(command: str, data: Path) -> None:
    """A train.py command's config composes and passes the typed checks (what runs before anything loads)."""
    overrides = training_overrides(command)
    assert overrides is not None, command
    check_config(compose_config(*overrides, f"paths.data_dir={data}"))
