"""The objectives table of docs/guides/successors.md ("Every objective"): each row's config override and each preset
it names compose and pass the typed checks, and each preset's objective is the row's (so the table cannot point at a
renamed or missing file)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from simcse_pl.config import check_config, compose_config

REPO = Path(__file__).resolve().parents[3]


def table_rows() -> list[list[str]]:
    lines = (REPO / "docs" / "guides" / "successors.md").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| objective | config | formula / paper |"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


ROWS = table_rows()
PRESETS = [(row[0], name) for row in ROWS for name in re.findall(r"`([a-z0-9_]+)`", row[4])]


def test_the_table_names_a_preset_for_the_objectives_users_train():
    named = {objective for objective, _ in PRESETS}
    assert {"InfoNCE (SimCSE)", "CoSENT", "AnglE", "Matryoshka", "momentum queue (auxiliary)"} <= named


@pytest.mark.parametrize(("objective", "preset"), PRESETS, ids=[p for _, p in PRESETS])
def test_each_named_preset_composes_with_the_rows_objective(objective: str, preset: str):
    config = re.search(r"`(loss=\w+|auxiliary=\[\w+\])`", next(r for r in ROWS if r[0] == objective)[1]).group(1)
    cfg = compose_config(f"experiment={preset}")
    check_config(cfg)
    if config.startswith("loss="):
        expected = compose_config(config).loss._target_
        assert cfg.loss._target_ == expected, f"{preset}: {cfg.loss._target_} is not {config}"
    else:
        name = config.removeprefix("auxiliary=[").removesuffix("]")
        assert name in (cfg.get("auxiliary") or {}), f"{preset}: no auxiliary {name}"
