"""docs/guides/llm-lora.md: every train.py / benchmark command composes and passes the config checks as written (the
GPU ones too); its one runnable block, the CPU smoke run of a LoRA decoder, runs as written (tiny data in place of
the wiki sample)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from doc_blocks import blocks, commands, runnable

from simcse_pl.config import check_config, compose_config

REPO = Path(__file__).resolve().parents[2]


PAGE = "docs/guides/llm-lora.md"


def section_commands() -> list[str]:
    """Every shell command of the page, runnable or marked not-run."""
    return [c for block in blocks(PAGE) if block.lang == "bash" for c in commands(block)]


def overrides(command: str) -> list[str]:
    argv = shlex.split(command)
    assert argv[0] == "python" and argv[1] in ("train.py", "scripts/benchmark.py"), command
    if argv[1] == "train.py":
        return argv[2:]
    benchmark_keys = {"batch_size", "max_len", "steps", "warmup", "compile", "data_batches", "num_workers", "device"}
    own = [a for a in argv[2:] if a.split("=")[0] in benchmark_keys]
    precision = [f"trainer.precision={a.split('=', 1)[1]}" for a in argv[2:] if a.startswith("precision=")]
    return [a for a in argv[2:] if a not in own and not a.startswith("precision=")] + precision


def test_the_section_shows_the_documented_commands():
    commands = section_commands()
    assert "python train.py experiment=llm2vec_simcse" in commands
    assert any(c.startswith("python scripts/benchmark.py model=llama-1b-shape") for c in commands)


@pytest.mark.parametrize("command", section_commands())
def test_each_command_composes_and_passes_the_checks(command: str):
    cfg = compose_config(*overrides(command))
    check_config(cfg)


@pytest.mark.slow  # a decoder LoRA run (~17 s); tests/integration/test_decoder_lora.py trains decoders in the default suite
def test_the_cpu_lora_decoder_smoke_run_runs_as_written(real_data: Path, tmp_path: Path):
    [block] = runnable("docs/guides/llm-lora.md")
    [command] = commands(block)
    assert "model=tiny-llama" in command
    # the command as written, minus the untrained validation and the test pass (a minute of a busy CI machine)
    argv = [sys.executable, *shlex.split(command)[1:], f"paths.data_dir={real_data}", "logger=none",
            "validate_before=false", "test=false", f"hydra.run.dir={tmp_path}"]
    done = subprocess.run(argv, cwd=REPO, env={**os.environ, "HYDRA_FULL_ERROR": "1"}, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["final"]["step"] == 30 and (tmp_path / "model" / "adapter").is_dir()
