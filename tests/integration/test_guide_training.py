"""The training guides' commands: every ``python train.py`` command of these pages (those marked not-run too, GPU and
cluster ones included) composes and passes the typed checks, in the default suite; every runnable block runs as
written in a scratch folder (train.py with the tiny model and a few steps appended), in the slow suite, since each
page starts several trainings."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from doc_blocks import blocks, commands, runnable
from guide_commands import (
    QUICKSTART_RUN,
    assert_composes,
    run_block,
    scratch,
    shell_env,
    training_overrides,
)

PAGES = {
    "docs/guides/unsupervised.md": runnable("docs/guides/unsupervised.md"),
    "docs/guides/supervised.md": runnable("docs/guides/supervised.md"),
    "docs/guides/scored-pairs.md": runnable("docs/guides/scored-pairs.md"),
    "docs/guides/successors.md": runnable("docs/guides/successors.md"),
    "docs/guides/sweeps-tracking.md": runnable("docs/guides/sweeps-tracking.md"),
    "docs/guides/scaling.md": runnable("docs/guides/scaling.md"),
    "docs/guides/resuming.md": runnable("docs/guides/resuming.md"),
    "docs/guides/from-sentence-transformers.md": runnable("docs/guides/from-sentence-transformers.md"),
}
TRAINING = [(block.where, command) for page in PAGES for block in blocks(page) if block.lang == "bash"
            for command in commands(block) if training_overrides(command) is not None]


def test_the_pages_show_their_commands():
    assert len(TRAINING) >= 20
    shown = {command for _, command in TRAINING}
    for preset in ("quickstart", "quickstart_sup", "quickstart_cosent", "quickstart_esimcse", "quickstart_promptbert",
                   "quickstart_cosent_matryoshka", "unsup_bert_base", "sup_bert_base"):
        assert any(f"experiment={preset}" in c.split() for c in shown), preset


@pytest.mark.parametrize(("where", "command"), TRAINING, ids=[where for where, _ in TRAINING])
def test_each_training_command_composes_and_passes_the_checks(where: str, command: str, tiny_data: Path):
    assert_composes(command, tiny_data)


@pytest.mark.slow  # several tiny trainings a page (a minute or more each on a busy 2-core machine)
@pytest.mark.parametrize("page", list(PAGES))
def test_the_pages_blocks_run_as_written(page: str, tmp_path: Path):
    work = scratch(tmp_path)
    env = shell_env(work)
    for block in PAGES[page]:
        runs = sorted((work / "outputs" / "quickstart").glob("*")) if (work / "outputs").exists() else []
        run_block(block, work, env, {QUICKSTART_RUN: str(runs[-1].relative_to(work))} if runs else {})
    results = sorted(work.glob("outputs/**/results.json")) + sorted(work.glob("multirun/**/results.json"))
    assert results, "no run wrote results.json"
    for path in results:
        assert "test/stsb_spearman" in json.loads(path.read_text())["test"], path
    if page.endswith("resuming.md"):
        info = json.loads((work / "outputs" / "resumable" / "run_info.json").read_text())
        assert len(info["resumed"]) == 1  # the second command continued the first run's folder
    if page.endswith("sweeps-tracking.md"):
        assert len(results) == 2 + 4 and (work / "multirun" / "tau_lr" / "report.md").is_file()
        with (work / "multirun" / "tau_lr" / "runs.csv").open() as f:
            assert len(list(csv.DictReader(f))) == 4  # one row per job
        assert list((work / "outputs" / "quickstart").glob("*/tensorboard"))
