"""STS evaluation in the SimCSE protocol: cosine similarity of sentence vectors vs. human scores.

Scores are reported ×100 (Spearman is the headline, Pearson beside it), as in the paper's tables, and
mean the same thing in training logs, ``results.json``, ``simcse-eval`` and inference. Tasks own their data
and statistics; callers hand in embeddings of ``task.sentences`` (each distinct sentence once).

Data (SentEval's layout under the data root, as ``scripts/download_data.py`` places it):

- ``sts12`` … ``sts16``: ``STS1X-en-test/STS.input.<subset>.txt`` + ``STS.gs.<subset>.txt``; all subsets are
  pooled into one set of pairs (SimCSE's "all"). Test sets only: asking for ``dev`` is an error.
- ``stsb``: ``stsb/sts-{train,dev,test}.csv``.
- ``sickr``: ``sick/SICK_{train,trial,test_annotated}.txt`` (SentEval uses ``SICK_trial.txt`` as dev).
- A Hugging Face dataset id (``sentence-transformers/stsb``, ``mteb/sts12-sts`` …) or a local folder of
  data files with ``sentence1``/``sentence2``/``score`` columns, loaded with ``datasets``.
- Any file of scored pairs (``load_pair_file``), in the layouts ``simcse_pl.data.pair_files`` reads.

Alignment/uniformity need positives, which only STS-B's scale defines (score > 4 of 5): its loaders set
``align_threshold``; the suite runner computes them for any STS task that has one, when asked.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import pearsonr, spearmanr
from torch import Tensor

from simcse_pl.evaluation.base import DATA_KEY
from simcse_pl.errors import DataError
from simcse_pl.data.files import check_file, decode_line
from simcse_pl.evaluation.senteval_files import SENTEVAL_STS, SICK_FILES, senteval_files, sts_subset_files

log = logging.getLogger(__name__)

SICK_HEADER = "pair_ID"  # first field of the header row of SentEval's SICK files
# the scale of each task's gold scores (after HUB_TASKS' factor); a score outside it is warned about, not dropped
SCORE_RANGES = {**{name: (0.0, 5.0) for name in SENTEVAL_STS}, "stsb": (0.0, 5.0), "sickr": (1.0, 5.0)}
# hub datasets of the same tasks -> (task name, factor that puts scores on SentEval's 0-5 scale)
# (a hub copy of STS-B gets STS-B's align/uniform threshold too: ``ALIGN_TASKS``)
HUB_TASKS = {
    "sentence-transformers/stsb": ("stsb", 5.0),
    "mteb/stsbenchmark-sts": ("stsb", 1.0),
    **{f"mteb/sts{y}-sts": (f"sts{y}", 1.0) for y in range(12, 17)},
    "mteb/sickr-sts": ("sickr", 1.0),
}
ALIGN_THRESHOLD = 4.0  # Wang & Isola / SimCSE: STS-B pairs scored above 4 (of 5) are positives
ALIGN_TASKS = {"stsb": ALIGN_THRESHOLD}  # tasks whose scale defines positives, whatever file they come from


@dataclass(frozen=True)
class STSTask:
    """Sentence pairs with gold similarity scores; ``sentences`` lists each distinct sentence once.

    ``align_threshold``: pairs scored above it are positives for alignment/uniformity (the paper's analysis on
    STS-B: score > 4 of 5); None for tasks without such a scale, which then report no align/uniform."""

    name: str
    pairs: list[tuple[str, str]] = field(repr=False)
    scores: np.ndarray = field(repr=False)
    align_threshold: float | None = None
    kind: ClassVar[str] = "sts"

    @cached_property
    def sentences(self) -> list[str]:
        return list(dict.fromkeys(s for pair in self.pairs for s in pair))

    @cached_property
    def _pair_index(self) -> tuple[Tensor, Tensor]:
        position = {s: i for i, s in enumerate(self.sentences)}
        left = torch.tensor([position[a] for a, _ in self.pairs])
        right = torch.tensor([position[b] for _, b in self.pairs])
        return left, right

    def sizes(self) -> dict[str, int]:
        return {"pairs": len(self.pairs)}

    def evaluate(self, embeddings: Tensor) -> dict[str, float]:
        """Spearman and Pearson (×100) of pair cosine similarities, given embeddings of ``sentences``."""
        left, right = self._pair_index
        embeddings = embeddings.float().cpu()
        cosine = F.cosine_similarity(embeddings[left], embeddings[right], dim=-1).numpy()
        return correlations(cosine, self.scores)

    def align_uniform(self, embeddings: Tensor, threshold: float | None = None) -> dict[str, float]:
        """Alignment over pairs scored above ``threshold`` (default: the task's own) and uniformity over all
        sentences (lower is better); empty for a task without a threshold."""
        threshold = self.align_threshold if threshold is None else threshold
        if threshold is None:
            return {}
        left, right = self._pair_index
        positive = torch.from_numpy(self.scores > threshold)
        embeddings = embeddings.float().cpu()
        return {
            "align": alignment(embeddings[left[positive]], embeddings[right[positive]]),
            "uniform": uniformity(embeddings),
        }


def correlations(predicted: np.ndarray, gold: np.ndarray) -> dict[str, float]:
    return {
        "spearman": float(spearmanr(predicted, gold).statistic) * 100,
        "pearson": float(pearsonr(predicted, gold).statistic) * 100,
    }


def alignment(x: Tensor, y: Tensor, alpha: float = 2.0) -> float:
    """Wang & Isola's ℓ_align: E ‖f(x) − f(y)‖^α over positive pairs, on unit vectors."""
    return float((F.normalize(x, dim=-1) - F.normalize(y, dim=-1)).norm(dim=-1).pow(alpha).mean())


def uniformity(x: Tensor, t: float = 2.0) -> float:
    """Wang & Isola's ℓ_uniform: log E exp(−t‖f(x) − f(y)‖²) over all distinct pairs, on unit vectors."""
    return float(torch.pdist(F.normalize(x, dim=-1)).pow(2).mul(-t).exp().mean().log())


def _normalize(sentence: str) -> str:
    """SentEval splits on whitespace and joins with one space; do the same so inputs match the paper."""
    return " ".join(sentence.split())


def _lines(path: str) -> list[str]:
    """The lines of a UTF-8 file without their line endings (a final newline ends the last line)."""
    with open(path, "rb") as f:
        return [decode_line(raw, path, n).rstrip("\r\n") for n, raw in enumerate(f, start=1)]


def _score(value: Any, where: str) -> float:
    """A gold score as a float; ``where`` (``path:line``) names it when it is not a finite number, since one NaN
    would make every correlation of the task NaN."""
    try:
        score = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{where}: score {value!r} is not a number") from None
    if not math.isfinite(score):
        raise DataError(f"{where}: score {value!r} is not a finite number")
    return score


def _warn_out_of_range(task: str, where: str, scores: Sequence[float], positions: Sequence[int], unit: str) -> None:
    """One warning per file for scores off the task's scale (a wrong column, or a copy rescaled to 0-1): they are
    kept, as they still rank pairs, but ``align``'s threshold of 4 would no longer mean the same."""
    if task not in SCORE_RANGES:
        return
    low, high = SCORE_RANGES[task]
    outside = [p for p, score in zip(positions, scores, strict=True) if not low <= score <= high]
    if outside:
        log.warning(
            "%s: %d score%s outside the range %g-%g of %s (first at %s %d)",
            where, len(outside), "" if len(outside) == 1 else "s", low, high, task, unit, outside[0],
        )


def _read_tsv(
    path: str, task: str, columns: tuple[int, int, int], header: str | None = None
) -> tuple[list[tuple[str, str]], list[float]]:
    """Pairs and scores from tab-separated rows; ``columns`` are (sentence 1, sentence 2, score). With ``header``,
    line 1 must start with it and is skipped: a file without its header would otherwise lose its first pair."""
    a, b, s = columns
    lines = _lines(path)
    if header is not None and not (lines[0] if lines else "").startswith(header):
        found = lines[0][:60] if lines else ""
        raise DataError(f"{path}:1: expected the header row (starting with {header!r}) first, found {found!r}")
    pairs, scores, linenos = [], [], []
    for lineno, line in enumerate(lines, start=1):
        if (header is not None and lineno == 1) or not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) <= max(columns):
            raise DataError(
                f"{path}:{lineno}: expected at least {max(columns) + 1} tab-separated columns, found {len(cols)}"
            )
        scores.append(_score(cols[s], f"{path}:{lineno}"))
        pairs.append((_normalize(cols[a]), _normalize(cols[b])))
        linenos.append(lineno)
    _warn_out_of_range(task, path, scores, linenos, "line")
    return pairs, scores


def load_stsb(data_dir: str, split: str = "test", key: str = DATA_KEY) -> STSTask:
    """STS Benchmark in SentEval's layout: ``stsb/sts-{split}.csv``, tab-separated, score in column 5."""
    path = check_file(senteval_files("stsb", data_dir, split)[0], key)
    pairs, scores = _read_tsv(path, "stsb", (5, 6, 4))
    return STSTask("stsb", pairs, np.asarray(scores), ALIGN_THRESHOLD)


def load_sickr(data_dir: str, split: str = "test", key: str = DATA_KEY) -> STSTask:
    """SICK relatedness as SentEval reads it: header row, then pair_ID, sentence_A, sentence_B, score, …"""
    if split not in SICK_FILES:
        raise DataError(f"sickr: no {split!r} split (known: {', '.join(SICK_FILES)})")
    path = check_file(senteval_files("sickr", data_dir, split)[0], key)
    pairs, scores = _read_tsv(path, "sickr", (1, 2, 3), header=SICK_HEADER)
    return STSTask("sickr", pairs, np.asarray(scores))


def _read_sts_subset(task: str, folder: str, subset: str, key: str) -> tuple[list[tuple[str, str]], list[float]]:
    """One SentEval STS subset. As SentEval does, a pair whose gold line is empty is unscored and skipped."""
    input_path, gold_path = (check_file(path, key) for path in sts_subset_files(folder, subset))
    inputs, gold = _lines(input_path), _lines(gold_path)
    if len(gold) != len(inputs):
        raise DataError(
            f"{gold_path}:{min(len(gold), len(inputs)) + 1}: {len(gold)} gold lines for the {len(inputs)} "
            f"sentence pairs of {input_path}; the files must match line for line"
        )
    pairs, scores, linenos = [], [], []
    for lineno, (line, score) in enumerate(zip(inputs, gold, strict=True), start=1):
        if not score.strip():
            continue
        cols = line.split("\t")
        if len(cols) != 2:
            raise DataError(f"{input_path}:{lineno}: expected 2 tab-separated sentences, found {len(cols)} columns")
        scores.append(_score(score, f"{gold_path}:{lineno}"))
        pairs.append((_normalize(cols[0]), _normalize(cols[1])))
        linenos.append(lineno)
    _warn_out_of_range(task, gold_path, scores, linenos, "line")
    return pairs, scores


def load_senteval_sts(name: str, data_dir: str, split: str = "test", key: str = DATA_KEY) -> STSTask:
    """STS12-16 with all subsets pooled, as SimCSE reports them ("all")."""
    folder, subsets = SENTEVAL_STS[name]
    if split != "test":
        raise DataError(
            f"{name}: SentEval's STS12-16 are test sets only, there is no {split!r} split (use stsb or sickr)"
        )
    pairs: list[tuple[str, str]] = []
    scores: list[float] = []
    for subset in subsets:
        p, s = _read_sts_subset(name, os.path.join(data_dir, folder), subset, key)
        pairs += p
        scores += s
    return STSTask(name, pairs, np.asarray(scores))


def load_hub_task(dataset: str, split: str = "test") -> STSTask:
    """An STS dataset through ``datasets``: a hub id or a local folder of data files (``dev`` -> ``validation``).

    Known hub ids get the SentEval task name (so ``mteb/sts12-sts`` is logged and tabled as ``sts12``) and
    scores on the 0-5 scale; others are named after their last path component."""
    import datasets

    name, scale = HUB_TASKS.get(dataset, (os.path.basename(dataset.rstrip("/")), 1.0))
    hf_split = {"dev": "validation"}.get(split, split)
    try:
        rows = datasets.load_dataset(dataset, split=hf_split)
    except (OSError, ValueError) as exc:
        raise DataError(f"{dataset} (split {hf_split!r}): cannot load it ({exc.__class__.__name__}: {exc})") from None
    missing = {"sentence1", "sentence2", "score"} - set(rows.column_names)
    if missing:
        raise DataError(f"{dataset}: no column(s) {', '.join(sorted(missing))} (has {', '.join(rows.column_names)})")
    pairs = [(_normalize(a), _normalize(b)) for a, b in zip(rows["sentence1"], rows["sentence2"], strict=True)]
    where = f"{dataset} (split {hf_split!r})"
    scores = [_score(value, f"{where} row {i}") * scale for i, value in enumerate(rows["score"])]
    _warn_out_of_range(name, where, scores, range(len(scores)), "row")
    return STSTask(name, pairs, np.asarray(scores), ALIGN_TASKS.get(name))


# --- any file of scored pairs as an STS task ---------------------------------------------------------------------

PAIR_SUFFIXES = (".csv", ".tsv", ".txt", ".jsonl", ".ndjson", ".data")
GENERIC_STEMS = {"train", "dev", "valid", "validation", "test"}
LAYOUT_HINT = "; set {key}.layout="  # how pair_files ends an undetectable-layout error (meant for data.source)


def pair_file_name(path: str) -> str:
    """The task name of a pair file: its name without the extension (``my_dev.tsv`` -> ``my_dev``); a bare split
    name is prefixed with its folder (``atec/test.tsv`` -> ``atec-test``), so two splits do not collide."""
    stem = os.path.splitext(os.path.basename(path))[0]
    if stem.lower() in GENERIC_STEMS:
        folder = os.path.basename(os.path.dirname(os.path.abspath(path)))
        return f"{folder}-{stem}" if folder else stem
    return stem


def load_pair_file(path: str, key: str = "data.val_tasks", name: str | None = None) -> STSTask:
    """Any file of sentence pairs with a gold score or label, in the layouts ``simcse_pl.data.pair_files`` reads (csv /
    tsv with a header naming ``sentence1``, ``sentence2`` and ``score`` or ``label``; jsonl with those keys;
    SentEval's STS-B rows; headerless ``s1<TAB>s2<TAB>label``), scored as STS: Spearman of cosine vs the gold
    value, as in the Chinese STS literature for 0/1 labels. ``key`` (``data.val_tasks``, ``--tasks``) is named in
    errors; a bad row is ``file:line``."""
    from simcse_pl.data.pair_files import read_pairs

    path = check_file(path, key)
    try:
        found = read_pairs(path, "auto", key=key)
    except DataError as exc:
        message = str(exc)
        hint = LAYOUT_HINT.format(key=key)
        if hint in message:  # no layout option for evaluation files: say what the file needs instead
            message = message[: message.index(hint)] + "; give the file a header row naming sentence1, sentence2 and score or label"
        raise DataError(message) from None
    check_gold_varies(found.scores, path)
    task = name or pair_file_name(path)
    return STSTask(task, found.pairs, np.asarray(found.scores, dtype=float))


def check_gold_varies(scores: Sequence[float], where: str) -> None:
    """Refuse gold scores that cannot be correlated with: a single pair, or every pair with the same score. Spearman
    and Pearson against a constant are undefined, and scipy answers NaN with a warning that the evaluation's
    output buries; a file of labels copied from one column, or of positives only, would score ``nan`` silently."""
    if len(scores) < 2:
        raise DataError(f"{where}: only {len(scores)} scored pair; a correlation needs at least 2 with different scores")
    if min(scores) == max(scores):
        raise DataError(f"{where}: every one of its {len(scores)} pairs has the score {scores[0]:g}; Spearman and "
                        "Pearson against a constant are undefined (a wrong score column, or positives only?)")


def looks_like_pair_file(name: str) -> bool:
    """A task given as a path to a file (rather than a task name, a hub id or a dataset folder)."""
    return os.path.isfile(name) or (name.lower().endswith(PAIR_SUFFIXES) and not os.path.isdir(name))
