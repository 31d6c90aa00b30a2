"""Small STS files in SentEval's layouts (STS12-16, STS-B, SICK-R): the real ones are not redistributable here."""

from __future__ import annotations

import random
from pathlib import Path

from simcse_pl.evaluation import SENTEVAL_STS, SICK_FILES

WORDS = "a the man woman dog cat plays runs eats sleeps guitar ball fish in on park house red blue big small".split()


def sentence(rng: random.Random) -> str:
    return " ".join(rng.choices(WORDS, k=rng.randint(3, 9)))


def write_sts_subset(folder: Path, subset: str, rows: list[tuple[str, str, str]]) -> None:
    """``rows`` of (sentence 1, sentence 2, gold line); an empty gold line marks an unscored pair."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"STS.input.{subset}.txt").write_text("".join(f"{a}\t{b}\n" for a, b, _ in rows), encoding="utf-8")
    (folder / f"STS.gs.{subset}.txt").write_text("".join(f"{g}\n" for _, _, g in rows), encoding="utf-8")


def random_rows(rng: random.Random, n: int, unscored: int = 1) -> list[tuple[str, str, str]]:
    rows = [(sentence(rng), sentence(rng), f"{rng.uniform(0, 5):.2f}") for _ in range(n)]
    for i in rng.sample(range(n), unscored):
        rows[i] = (rows[i][0], rows[i][1], "")
    return rows


def write_senteval_root(root: Path, pairs_per_file: int = 8, seed: int = 0) -> dict[str, dict[str, list]]:
    """All seven tasks under ``root``; returns the rows written, per task and subset (or split)."""
    rng = random.Random(seed)
    written: dict[str, dict[str, list]] = {}
    for name, (folder, subsets) in SENTEVAL_STS.items():
        written[name] = {}
        for subset in subsets:
            rows = random_rows(rng, pairs_per_file)
            write_sts_subset(root / folder, subset, rows)
            written[name][subset] = rows
    written["stsb"] = {}
    for split in ("train", "dev", "test"):
        rows = [(sentence(rng), sentence(rng), f"{rng.uniform(0, 5):.3f}") for _ in range(pairs_per_file * 2)]
        lines = [f"main-captions\tMSRvid\t2012test\t{i:04d}\t{g}\t{a}\t{b}" for i, (a, b, g) in enumerate(rows)]
        (root / "stsb").mkdir(parents=True, exist_ok=True)
        (root / "stsb" / f"sts-{split}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        written["stsb"][split] = rows
    written["sickr"] = {}
    for split, filename in SICK_FILES.items():
        rows = [(sentence(rng), sentence(rng), f"{rng.uniform(1, 5):.1f}") for _ in range(pairs_per_file * 2)]
        lines = ["pair_ID\tsentence_A\tsentence_B\trelatedness_score\tentailment_judgment"]
        lines += [f"{i}\t{a}\t{b}\t{g}\tNEUTRAL" for i, (a, b, g) in enumerate(rows, start=1)]
        (root / "sick").mkdir(parents=True, exist_ok=True)
        (root / "sick" / filename).write_text("\n".join(lines) + "\n", encoding="utf-8")
        written["sickr"][split] = rows
    return written
