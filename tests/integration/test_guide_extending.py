"""docs/guides/extending.md's claim, "one file and one YAML, nothing else changes": every Python and YAML block of
the page is written, as shown, at the path named just above it in a copy of the package and its configs, and one
train.py run of that copy uses the new pooler, sampler, view and source with the page's objective."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

from doc_blocks import REPO, Block, blocks, runnable
from sts_fixtures import WORDS

PAGE = "docs/guides/extending.md"
PATH = re.compile(r"`((?:simcse_pl|conf)/[\w/.-]+\.(?:py|yaml))`")


def target(block: Block) -> str:
    """The file a block is shown as: the last ``simcse_pl/…`` or ``conf/…`` path on the nearest text line above."""
    lines = (REPO / PAGE).read_text(encoding="utf-8").splitlines()[: block.line - 1]
    above = next(line for line in reversed(lines) if line.strip())
    found = PATH.findall(above)
    assert found, f"{block.where}: no file path on the line above the block ({above!r})"
    return found[-1]


def test_every_new_part_is_one_file_and_trains(tiny_data: Path, tmp_path: Path):
    shown = [b for b in blocks(PAGE) if b.lang in ("python", "yaml")]
    assert {b.where for b in runnable("docs/guides/extending.md")} <= {b.where for b in shown}
    copy = tmp_path / "checkout"
    ignore = shutil.ignore_patterns("__pycache__")
    for name in ("simcse_pl", "conf"):
        shutil.copytree(REPO / name, copy / name, ignore=ignore)
    shutil.copy(REPO / "train.py", copy)
    written = {}
    for block in shown:
        path = copy / target(block)
        assert path.parent.is_dir(), f"{block.where}: {target(block)} is not in an existing folder"
        path.write_text(block.code, encoding="utf-8")
        written[target(block)] = path
    assert {"simcse_pl/encoders/poolers/max.py", "simcse_pl/data/samplers/shortest_first.py",
            "simcse_pl/data/views/word_dropout.py", "simcse_pl/data/sources/jsonl_texts.py",
            "conf/data/jsonl.yaml"} <= set(written)
    rng = random.Random(0)
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"text": " ".join(rng.choices(WORDS, k=rng.randint(3, 12)))}) + "\n"
                              for _ in range(64)), encoding="utf-8")
    run = tmp_path / "run"
    argv = [sys.executable, "train.py", "debug=fast", "data=jsonl", f"data.source.path={corpus}",
            "data/views=word_dropout", "data/sampler=shortest_first", "model.pooler=max", "loss=align_uniform",
            "trainer.max_steps=2", f"paths.data_dir={tiny_data}", f"hydra.run.dir={run}", "logger=none",
            "validate_before=false", "test=false"]
    env = {**os.environ, "PYTHONPATH": str(copy), "HYDRA_FULL_ERROR": "1"}
    done = subprocess.run(argv, cwd=copy, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "training data: 64 sentences" in done.stderr + done.stdout
    pooling = json.loads((run / "model" / "1_Pooling" / "config.json").read_text())
    assert pooling["pooling_mode"] == "max"  # the new pooler, exported as sentence-transformers' max pooling
    assert json.loads((run / "results.json").read_text())["final"]["step"] == 2
