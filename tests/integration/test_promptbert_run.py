"""Issue 23 item 7: a PromptBERT run's last line says what its export is. It used to claim "Hugging Face +
sentence-transformers" right after the export warned that it wrote Hugging Face files only."""

from __future__ import annotations

import re
from pathlib import Path

from train_runs import run_train

TEMPLATE = 'This sentence : "[X]" means [MASK] .'


def test_a_promptbert_runs_last_line_says_hugging_face_only(tiny_data: Path, tmp_path: Path):
    done = run_train(tmp_path / "run", "model.pooler=mask", f"+model.prompt.template='{TEMPLATE}'",
                     "trainer.max_steps=2", "validate_before=false", "test=false", "logger=none",
                     data_dir=tiny_data, full_error=False)
    console = done.stdout + done.stderr
    assert "exported in Hugging Face format only" in console
    line = re.search(r"written to .*: results\.json, model/ \((.*)\), checkpoints/", console)
    assert line, console[-2000:]
    assert line.group(1).startswith("Hugging Face only: pooler 'mask'") and "sentence-transformers)" not in line.group(0)
