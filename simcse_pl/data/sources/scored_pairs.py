"""``ScoredPairs``: labelled sentence pairs (STS-style scores or classes) for CoSENT, AnglE and Matryoshka, in any
layout ``data/pair_files.py`` reads."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

import numpy as np

from simcse_pl.data.pair_files import describe, read_pairs
from simcse_pl.data.sources.base import Labeled
from simcse_pl.errors import DataError

log = logging.getLogger(__name__)


MIXED_RUN = 50  # consecutive rows within [0, 1], in a file whose scores go past MIXED_HIGH elsewhere
MIXED_HIGH = 1.5


def unit_scale_run(scores: np.ndarray) -> tuple[int, int] | None:
    """``(first, last)`` row of the longest stretch of consecutive scores within [0, 1], when it is at least
    ``MIXED_RUN`` rows long and the file's scores go past ``MIXED_HIGH``: the mark of a 0-1 file joined to a
    0-5 one. Scores interleaved across scales cannot be told from low scores. A file sorted by score has such a
    stretch at its low end and is left alone; in a shuffled STS-B (about 15% of scores at most 1) 50 in a row
    never happen by chance."""
    steps = np.diff(scores)
    if len(scores) < MIXED_RUN or scores.max() <= MIXED_HIGH or (steps >= 0).all() or (steps <= 0).all():
        return None
    inside = np.concatenate([[0], ((scores >= 0) & (scores <= 1)).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(inside))
    starts, ends = edges[::2], edges[1::2]  # a run covers rows start .. end - 1
    longest = int(np.argmax(ends - starts)) if len(starts) else None
    if longest is None or ends[longest] - starts[longest] < MIXED_RUN:
        return None
    return int(starts[longest]), int(ends[longest]) - 1


class ScoredPairs:
    """Sentence pairs with a gold score or label (STS-style data) for objectives that learn from scores (CoSENT,
    AnglE): each item is ``Labeled((sentence1, sentence2), score)``, which the Collator turns into
    ``batch["labels"]``.

    ``path`` is read by ``simcse_pl.data.pair_files.read_pairs`` in any of its layouts (``layout``: ``auto`` | ``header``
    (csv/tsv with a ``sentence1,sentence2,score|label`` header) | ``jsonl`` | ``senteval`` (STS-B's
    ``sts-*.csv``) | ``headerless`` (``s1<TAB>s2<TAB>label``, Chinese STS sets)); a bad row is a ``DataError``
    naming ``file:line``. Pair files are small (STS-B train: 5,749 pairs), so the pairs are held in memory.

    Scores:
      - ``score_range`` ``[low, high]``: the scale the scores are on (STS-B: ``[0, 5]``); a score outside it is a
        ``DataError`` naming its line (a wrong column, or a file on another scale).
        Without ``score_range``, a long stretch of rows all within [0, 1] in a file that goes up to 5 is warned
        about (``unit_scale_run``): two scales in one file.
      - ``normalize``: ``null`` (default) keeps the raw scores; ``minmax`` maps ``score_range`` (default: the
        file's lowest and highest score) linearly onto ``[0, 1]``. CoSENT and AnglE's ranking terms see only the
        order of the scores, which any increasing map keeps, so for them this changes nothing; it matters where
        a score is read as a value: AnglE's in-batch term takes pairs scored ``>= positive_threshold`` as
        positives, and a regression objective would want scores on its similarity's scale. Prefer an explicit
        ``score_range``: the file's own min and max differ between splits and subsets.
    """

    columns = ("sentence1", "sentence2")


    labelled = True  # yields Labeled examples: objectives that need scores can train on it
    def __init__(
        self,
        path: str,
        layout: Literal["auto", "header", "jsonl", "senteval", "headerless"] = "auto",
        normalize: Literal["minmax"] | None = None,
        score_range: Sequence[float] | None = None,
    ) -> None:
        if layout not in ("auto", "header", "jsonl", "senteval", "headerless"):
            raise DataError(f"data.source.layout={layout!r} is not one of auto, header, jsonl, senteval, headerless")
        if normalize not in (None, "minmax"):
            raise DataError(f"data.source.normalize={normalize!r} is not one of null, minmax")
        if score_range is not None:
            score_range = [float(x) for x in score_range]
            if len(score_range) != 2 or not all(np.isfinite(score_range)) or score_range[0] >= score_range[1]:
                raise DataError(f"data.source.score_range={score_range!r}: must be [low, high] with low < high")
        self.path = str(path)
        self.layout = layout
        self.normalize = normalize
        self.score_range = None if score_range is None else tuple(score_range)
        self.pairs: list[tuple[str, str]] = []
        self.scores = np.zeros(0, dtype=np.float64)
        self.blank_lines = 0
        self.read_layout: str | None = None

    def index(self, max_samples: int | None = None) -> None:
        """Read and check the file (its first ``max_samples`` pairs), and normalise the scores."""
        found = read_pairs(self.path, self.layout, max_samples)
        scores = np.asarray(found.scores, dtype=np.float64)
        if self.score_range is not None:
            low, high = self.score_range
            outside = np.flatnonzero((scores < low) | (scores > high))
            if len(outside):
                i = int(outside[0])
                raise DataError(
                    f"{found.path}:{found.lines[i]}: score {found.scores[i]:g} is outside data.source.score_range "
                    f"[{low:g}, {high:g}] ({len(outside)} such rows; a wrong column, or another scale?)"
                )
        if self.score_range is None and (run := unit_scale_run(scores)) is not None:
            first, last = found.lines[run[0]], found.lines[run[1]]
            log.warning(
                "%s: lines %d-%d hold %d scores in a row all within [0, 1], and the file's scores go up to %g: two "
                "scales in one file (a 0-1 file joined to a 0-5 one)? Scores are used as they are; set "
                "data.source.score_range to have a row off the scale refused", found.path, first, last,
                run[1] - run[0] + 1, float(scores.max()),
            )
        if self.normalize == "minmax":
            low, high = self.score_range or (float(scores.min()), float(scores.max()))
            if high <= low:
                raise DataError(
                    f"{found.path}: every score is {low:g}, so normalize=minmax has no range to map; "
                    "set data.source.score_range or normalize=null"
                )
            scores = (scores - low) / (high - low)
        self.pairs, self.scores, self.blank_lines, self.read_layout = found.pairs, scores, found.blank_lines, found.layout
        log.info("%s", describe(found))

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> Labeled:
        return Labeled(self.pairs[i], float(self.scores[i]))
