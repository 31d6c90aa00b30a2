"""Exact resume with ESimCSE's parts and with duplicate-free steps: a model=tiny train.py run is killed with SIGKILL
mid-epoch, resumed with ``ckpt_path=last``, and must end with the weights of a run never interrupted, the
momentum encoder and its queue included, having trained the same batches after the restart.

- ESimCSE: ``data/views=word_repetition`` + ``auxiliary=[momentum_queue]`` (queue of 48 with batch 32: it wraps
  within an epoch), 2 epochs of 8 steps, killed before step 14 (resumes from the checkpoint of step 12).
- ``data/sampler=no_duplicates`` on NLI triplets whose premises and hypotheses recur, 2 dataloader workers,
  2 epochs of 10 steps, killed before step 14 (resumes from step 12, two steps into the second epoch).

The four first runs go side by side, one thread each; the two resumes after them.
"""

from __future__ import annotations

import hashlib
import random
import sys
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from tests.run_control import finish, kill_when_frozen, start

REPO = Path(__file__).resolve().parents[2]
FAULTS = "tests.integration.faults"
HERE = "tests.integration.test_esimcse"
ESIMCSE = ["data/views=word_repetition", "auxiliary=[momentum_queue]", "auxiliary.momentum_queue.queue_size=48",
           "data.batch_size=32", "data.num_workers=0"]
NO_DUPLICATES = ["data=nli", "loss=infonce_hard_negatives", "data/sampler=no_duplicates", "data.batch_size=16",
                 "data.num_workers=2"]


class RecordBatches(Callback):
    """Appends ``<global step> <digest of the batch's token ids>`` to ``path`` for each training step."""

    def __init__(self, path: str) -> None:
        self.path = path

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        digest = hashlib.sha256(batch["input_ids"].numpy().tobytes()).hexdigest()[:16]
        with open(self.path, "a") as f:
            f.write(f"{trainer.global_step} {digest}\n")


def write_nli(root: Path, premises: int = 100) -> Path:
    """168 triplets: most premises in two or three rows, a few hypotheses in several rows and columns."""
    rng = random.Random(0)
    words = "a the man woman dog cat plays runs eats sleeps guitar ball fish in on park house red blue big".split()
    common = [" ".join(rng.choices(words, k=5)) for _ in range(4)]
    rows = []
    for p in range(premises):
        premise = " ".join(rng.choices(words, k=rng.randint(5, 10)))
        for _ in range(rng.choice([1, 2, 3])):
            entail = rng.choice(common) if rng.random() < 0.1 else " ".join(rng.choices(words, k=rng.randint(3, 8)))
            contra = rng.choice(common) if rng.random() < 0.1 else " ".join(rng.choices(words, k=rng.randint(3, 8)))
            rows.append(f"{premise},{entail},{contra}")
    rng.shuffle(rows)
    path = root / "nli" / "triplets.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("sent0,sent1,hard_neg\n" + "\n".join(rows[:168]) + "\n", encoding="utf-8")
    return path


def command(data: Path, source: Path, run_dir: Path, *overrides: str) -> list[str]:
    return [
        sys.executable, str(REPO / "train.py"),
        "model=tiny", "trainer=cpu", "trainer.deterministic=true", "trainer.max_epochs=2",
        "+trainer.enable_progress_bar=false", *overrides,
        f"paths.data_dir={data}", f"data.source.path={source}", f"hydra.run.dir={run_dir}",
        "callbacks.resume_checkpoint.every_n_train_steps=4", "validate_before=false", "export=false", "test=false",
        f"+callbacks.batches._target_={HERE}.RecordBatches", f"+callbacks.batches.path={run_dir / 'batches.txt'}",
    ]


CASES = {"esimcse": ESIMCSE, "no_duplicates": NO_DUPLICATES}


@pytest.fixture(scope="module")
def runs(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Path]]:
    sources = {"esimcse": tiny_data / "wiki" / "wiki.txt", "no_duplicates": write_nli(tmp_path_factory.mktemp("nli"))}
    dirs = {case: {kind: tmp_path_factory.mktemp(f"{case}_{kind}") for kind in ("uninterrupted", "killed")}
            for case in CASES}
    reference = {case: start(command(tiny_data, sources[case], dirs[case]["uninterrupted"], *overrides))
                 for case, overrides in CASES.items()}
    killed = {case: start(command(tiny_data, sources[case], dirs[case]["killed"], *overrides,
                                  f"+callbacks.fault._target_={FAULTS}.FreezeAtStep", "+callbacks.fault.step=14",
                                  f"+callbacks.fault.marker={dirs[case]['killed'] / 'frozen'}"))
              for case, overrides in CASES.items()}
    for case, proc in killed.items():
        kill_when_frozen(proc, dirs[case]["killed"] / "frozen")
        (dirs[case]["killed"] / "batches.txt").rename(dirs[case]["killed"] / "batches_before_kill.txt")
    resumed = [start(command(tiny_data, sources[case], dirs[case]["killed"], *CASES[case], "ckpt_path=last"))
               for case in CASES]
    for proc in (*reference.values(), *resumed):
        finish(proc)
    return dirs


def last_state(run_dir: Path) -> dict[str, Any]:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)


def batches(path: Path) -> dict[int, str]:
    return {int(step): digest for step, digest in (line.split() for line in path.read_text().splitlines())}


def assert_resumed_like_uninterrupted(dirs: dict[str, Path], steps: int) -> dict[str, torch.Tensor]:
    resumed, reference = last_state(dirs["killed"]), last_state(dirs["uninterrupted"])
    assert resumed["global_step"] == reference["global_step"] == steps
    assert resumed["state_dict"].keys() == reference["state_dict"].keys()
    worst = max((resumed["state_dict"][k].double() - reference["state_dict"][k].double()).abs().max().item()
                for k in reference["state_dict"])
    assert worst <= 1e-6, f"resumed state differs from the uninterrupted run by up to {worst:g}"
    after = batches(dirs["killed"] / "batches.txt")
    assert sorted(after) == list(range(12, steps))  # restarted from the checkpoint of step 12
    assert after == {k: v for k, v in batches(dirs["uninterrupted"] / "batches.txt").items() if k >= 12}
    return reference["state_dict"]


def test_esimcse_resumes_exactly_with_its_momentum_encoder_and_queue(runs):
    state = assert_resumed_like_uninterrupted(runs["esimcse"], 16)
    prefix = "auxiliaries.momentum_queue."
    assert int(state[prefix + "filled"]) == 48 and int(state[prefix + "updated_at"]) == 15
    momentum = {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix + "encoder.")}
    assert momentum and all(torch.isfinite(v).all() for v in momentum.values())
    # the EMA trails the trained encoder: different, but close after 16 updates at 0.995
    gap = max((v - state[k]).abs().max().item() for k, v in momentum.items() if v.is_floating_point())
    assert 0 < gap


def test_duplicate_free_steps_resume_exactly_and_replay_the_same_batches(runs):
    assert_resumed_like_uninterrupted(runs["no_duplicates"], 20)
    before = batches(runs["no_duplicates"]["killed"] / "batches_before_kill.txt")
    reference = batches(runs["no_duplicates"]["uninterrupted"] / "batches.txt")
    assert set(range(14)) <= set(before)  # 2 workers: the same stream up to the kill
    assert before == {k: v for k, v in reference.items() if k in before}
