"""Acceptance 1: a tiny Llama-shaped and a tiny Qwen2-shaped decoder train with unsupervised SimCSE + LoRA through
train.py on the wiki sample (the loss decreases over 30 steps); only LoRA weights are checkpointed; a run killed
with SIGKILL and resumed with ``ckpt_path=last`` ends with the adapters of a run never interrupted.

Four runs of 30 steps (batch 16 of the real wiki sample's first 480 sentences, LoRA r 8, lr 1e-3, one thread each):
Llama (bidirectional, mean pooling, left padding), Qwen2 (last-token pooling, right padding) uninterrupted and
killed before step 24 (checkpoints every 10 steps), then the resume from step 20.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest
import torch

from tests.run_control import finish, kill_when_frozen, start

REPO = Path(__file__).resolve().parents[2]
FAULTS = "tests.integration.faults"
RUNS = {
    "llama": ["model=tiny-llama", "model.bidirectional=true"],
    "qwen2": ["model=tiny-qwen2"],
}


def command(data: Path, run_dir: Path, *overrides: str) -> list[str]:
    return [
        sys.executable, str(REPO / "train.py"), "trainer=cpu", "trainer.deterministic=true", "trainer.max_steps=30",
        "+trainer.enable_progress_bar=false", "data.num_workers=0", "data.batch_size=16", "data.max_samples=480",
        f"paths.data_dir={data}", f"data.source.path={data}/wiki/wiki1m_head11914.txt", f"hydra.run.dir={run_dir}",
        "model.lora.r=8", "optim.lr=1e-3", "callbacks.resume_checkpoint.every_n_train_steps=10",
        "trainer.log_every_n_steps=1", "trainer.val_check_interval=30", "validate_before=false", "test=false",
        *overrides,
    ]


@pytest.fixture(scope="module")
def runs(real_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    dirs = {name: tmp_path_factory.mktemp(name) for name in (*RUNS, "qwen2_killed")}
    procs = {name: start(command(real_data, dirs[name], *overrides)) for name, overrides in RUNS.items()}
    marker = dirs["qwen2_killed"] / "frozen"
    killed = start(command(real_data, dirs["qwen2_killed"], *RUNS["qwen2"], f"+callbacks.fault._target_={FAULTS}.FreezeAtStep",
                           "+callbacks.fault.step=24", f"+callbacks.fault.marker={marker}"))
    kill_when_frozen(killed, marker)
    resumed = start(command(real_data, dirs["qwen2_killed"], *RUNS["qwen2"], "ckpt_path=last"))
    for proc in (*procs.values(), resumed):
        finish(proc)
    return dirs


def losses(run_dir: Path) -> list[float]:
    with open(run_dir / "csv" / "metrics.csv") as f:
        return [float(row["train/loss"]) for row in csv.DictReader(f) if row.get("train/loss")]


def state(run_dir: Path) -> dict:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)


@pytest.mark.parametrize("name", sorted(RUNS))
def test_the_loss_decreases_over_30_steps(runs: dict[str, Path], name: str):
    values = losses(runs[name])
    assert len(values) == 30
    first, last = sum(values[:5]) / 5, sum(values[-5:]) / 5
    assert last < 0.5 * first, f"loss {first:.4f} over the first 5 steps, {last:.4f} over the last 5"


@pytest.mark.parametrize("name", sorted(RUNS))
def test_only_lora_weights_are_checkpointed(runs: dict[str, Path], name: str):
    saved = state(runs[name])
    assert saved["global_step"] == 30
    assert saved["state_dict"] and all("lora_" in k for k in saved["state_dict"])
    assert saved["hyper_parameters"]["model"]["lora"]["r"] == 8


def test_resume_is_exact_with_adapters_only(runs: dict[str, Path]):
    resumed, reference = state(runs["qwen2_killed"]), state(runs["qwen2"])
    assert resumed["global_step"] == reference["global_step"] == 30
    assert resumed["state_dict"].keys() == reference["state_dict"].keys()
    worst = max((resumed["state_dict"][k] - reference["state_dict"][k]).abs().max().item() for k in reference["state_dict"])
    assert worst <= 1e-6, f"resumed adapters differ from the uninterrupted run's by up to {worst:g}"
    assert losses(runs["qwen2_killed"])[-6:] == pytest.approx(losses(runs["qwen2"])[-6:], abs=1e-6)


def test_the_export_is_merged_and_loads_in_sentence_transformers(runs: dict[str, Path]):
    from sentence_transformers import SentenceTransformer

    from simcse_pl.inference import SimCSE

    model_dir = runs["llama"] / "model"
    assert json.loads((model_dir / "config.json").read_text())["is_causal"] is False
    assert (model_dir / "adapter" / "adapter_model.safetensors").exists()
    sentences = ["a man plays the guitar", "the cat sleeps"]
    ours = SimCSE.from_pretrained(model_dir, device="cpu").encode(sentences, convert_to_tensor=True)
    theirs = torch.from_numpy(SentenceTransformer(str(model_dir), device="cpu").encode(sentences))
    torch.testing.assert_close(theirs, ours, atol=1e-5, rtol=1e-5)
