"""One reader for files of sentence pairs with a gold score or label (STS-style data), in every layout they ship in.

Used to train on scored pairs (``simcse_pl.data.sources.scored_pairs.ScoredPairs``, ``data=pairs``) and meant for evaluation on
such files too, so it imports nothing from training: only the input checks of ``simcse_pl.data.sources``.

Layouts (``layout=``; ``auto`` tells them apart by the file's name and first non-blank line):

- ``header``: csv or tsv with a header row naming ``sentence1``, ``sentence2`` and ``score`` or ``label`` (``score``
  wins when both are there); other columns are ignored. The delimiter follows the extension: ``.tsv`` and ``.txt``
  are tab-separated and unquoted (a quote is a character, as in sentence-transformers' stsbenchmark.tsv), anything
  else is comma-separated with csv quoting (a quoted field may span lines).
- ``jsonl``: one JSON object per line with the same keys (``.jsonl`` / ``.ndjson``); the score may be a JSON number
  or a numeric string.
- ``senteval``: SentEval's STS Benchmark files (``stsb/sts-{train,dev,test}.csv``): tab-separated, no header, score in
  column 5, sentences in columns 6 and 7 (genre, file, year, id, score, sentence1, sentence2; extra trailing columns
  are allowed, as in some STS-B copies).
- ``headerless``: ``sentence1<TAB>sentence2<TAB>label``, no header: the layout Chinese STS sets ship in (text2vec's
  ATEC, BQ, LCQMC, PAWSX, STS-B; ``.txt`` / ``.tsv`` / ``.data`` / ``.csv``).

``auto``: ``.jsonl`` / ``.ndjson`` is jsonl; otherwise the first non-blank line decides: a header row naming
``sentence1`` or ``sentence2`` -> header; 7 or more tab-separated fields with a number in the 5th -> senteval;
exactly 3 tab-separated fields with a number in the 3rd -> headerless; anything else is an error asking for
``layout``.

Blank lines are skipped and counted. Fields are stripped of surrounding whitespace. Every bad row is a one-line
``DataError`` naming ``file:line`` (of the record's first line) and what is wrong with it.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from simcse_pl.data.files import bad_csv_record, check_file, csv_reader, decode_line
from simcse_pl.errors import DataError

Layout = Literal["auto", "header", "jsonl", "senteval", "headerless"]
LAYOUTS = ("auto", "header", "jsonl", "senteval", "headerless")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
TAB_SUFFIXES = (".tsv", ".txt")
SENTENCE_KEYS = ("sentence1", "sentence2")
SCORE_KEYS = ("score", "label")  # the first one present is the gold score
SENTEVAL_COLUMNS = (5, 6, 4)  # sentence1, sentence2, score (0-based), as SentEval reads STS-B
SENTEVAL_WIDTH = 7
HEADERLESS_WIDTH = 3
NEEDS = "sentence1, sentence2 and score or label"


@dataclass
class ScoredPairFile:
    """What ``read_pairs`` found: the pairs, their float scores and the line each pair starts on."""

    path: str
    layout: str  # the layout read (never "auto")
    pairs: list[tuple[str, str]] = field(default_factory=list, repr=False)
    scores: list[float] = field(default_factory=list, repr=False)
    lines: list[int] = field(default_factory=list, repr=False)
    blank_lines: int = 0

    def __len__(self) -> int:
        return len(self.pairs)


def parse_score(value: Any, where: str) -> float:
    """A gold score as a finite float; ``where`` (``file:line``) names it otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise DataError(f"{where}: score {value!r} is not a number")
    try:
        score = float(value)
    except ValueError:
        raise DataError(f"{where}: score {value!r} is not a number") from None
    if not math.isfinite(score):
        raise DataError(f"{where}: score {value!r} is not a finite number")
    return score


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _decoded_lines(path: str) -> Iterator[tuple[int, str]]:
    """``(line number, text without its line ending)`` of each line of a UTF-8 file."""
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            yield lineno, decode_line(raw, path, lineno).rstrip("\r\n")


def _delimiter(path: str) -> str:
    return "\t" if path.lower().endswith(TAB_SUFFIXES) else ","


def _header_fields(line: str, path: str, lineno: int) -> list[str]:
    try:
        return [h.strip() for h in next(csv_reader([line], delimiter=_delimiter(path)), [])]
    except csv.Error as exc:
        raise bad_csv_record(path, lineno, exc) from None


def detect_layout(path: str, key: str = "data.source") -> str:
    """The layout of ``path`` by its extension and first non-blank line (see the module docstring)."""
    if path.lower().endswith(JSONL_SUFFIXES):
        return "jsonl"
    for lineno, line in _decoded_lines(path):
        if not line.strip():
            continue
        if any(name in _header_fields(line, path, lineno) for name in SENTENCE_KEYS):
            return "header"
        fields = line.split("\t")
        if len(fields) >= SENTEVAL_WIDTH and _is_number(fields[SENTEVAL_COLUMNS[2]].strip()):
            return "senteval"
        if len(fields) == HEADERLESS_WIDTH and _is_number(fields[2].strip()):
            return "headerless"
        raise DataError(
            f"{path}:{lineno}: cannot tell the layout: this line is neither a header naming {NEEDS}, nor SentEval's "
            f"STS-B row (7 tab-separated columns, score in the 5th), nor sentence1<TAB>sentence2<TAB>label; set "
            f"{key}.layout=header|jsonl|senteval|headerless"
        )
    raise DataError(f"{path}: no sentence pairs (the file is empty or has only blank lines)")


def read_pairs(path: str, layout: str = "auto", max_pairs: int | None = None, key: str = "data.source") -> ScoredPairFile:
    """Every pair of ``path`` (the first ``max_pairs`` when given) with its score, in file order.

    ``key`` is the config node the path and layout come from, named in errors (``data.source.path`` ...)."""
    if layout not in LAYOUTS:
        raise DataError(f"{key}.layout={layout!r} is not one of {', '.join(LAYOUTS)}")
    path = check_file(str(path), f"{key}.path")
    resolved = detect_layout(path, key) if layout == "auto" else layout
    found = ScoredPairFile(path, resolved)
    reader = {"header": _read_header, "jsonl": _read_jsonl, "senteval": _read_senteval, "headerless": _read_headerless}
    for lineno, s1, s2, score in reader[resolved](path, found):
        if max_pairs is not None and len(found.pairs) >= max_pairs:
            break
        found.pairs.append((s1, s2))
        found.scores.append(score)
        found.lines.append(lineno)
    if not found.pairs:
        raise DataError(f"{path}: no sentence pairs (the file is empty or has only blank lines, or only a header)")
    return found


Row = tuple[int, str, str, float]


def _sentences(s1: str, s2: str, where: str) -> tuple[str, str]:
    s1, s2 = s1.strip(), s2.strip()
    empty = [name for name, s in zip(SENTENCE_KEYS, (s1, s2)) if not s]
    if empty:
        raise DataError(f"{where}: empty {', '.join(empty)}")
    return s1, s2


def _read_tab_rows(path: str, found: ScoredPairFile, width: int, exact: bool, columns: tuple[int, int, int],
                   what: str) -> Iterator[Row]:
    a, b, s = columns
    for lineno, line in _decoded_lines(path):
        if not line.strip():
            found.blank_lines += 1
            continue
        fields = line.split("\t")
        if len(fields) < width or (exact and len(fields) != width):
            need = f"{width}" if exact else f"at least {width}"
            raise DataError(f"{path}:{lineno}: expected {need} tab-separated fields ({what}), found {len(fields)}")
        where = f"{path}:{lineno}"
        s1, s2 = _sentences(fields[a], fields[b], where)
        yield lineno, s1, s2, parse_score(fields[s].strip(), where)


def _read_senteval(path: str, found: ScoredPairFile) -> Iterator[Row]:
    what = "SentEval STS-B: genre, file, year, id, score, sentence1, sentence2"
    return _read_tab_rows(path, found, SENTEVAL_WIDTH, False, SENTEVAL_COLUMNS, what)


def _read_headerless(path: str, found: ScoredPairFile) -> Iterator[Row]:
    return _read_tab_rows(path, found, HEADERLESS_WIDTH, True, (0, 1, 2), "sentence1, sentence2, label")


def _csv_records(path: str) -> Iterator[tuple[int, list[str]]]:
    """``(first line, fields)`` of each csv record; a quoted field may span lines (not in .tsv/.txt: unquoted)."""
    lineno = [0]

    def lines() -> Iterator[str]:
        with open(path, "rb") as f:
            for raw in f:
                lineno[0] += 1
                yield decode_line(raw, path, lineno[0])

    delimiter = _delimiter(path)
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv_reader(lines(), delimiter=delimiter, quoting=quoting, strict=True)
    while True:
        first = lineno[0] + 1
        try:
            row = next(reader, None)
        except csv.Error as exc:
            raise bad_csv_record(path, first, exc) from None
        if row is None:
            return
        yield first, row


def _read_header(path: str, found: ScoredPairFile) -> Iterator[Row]:
    records = _csv_records(path)
    header: list[str] | None = None
    picks: list[int] = []
    for lineno, row in records:
        if not row or (len(row) == 1 and not row[0].strip()):
            found.blank_lines += 1
            continue
        if header is None:
            header = [h.strip() for h in row]
            picks = _header_picks(header, path, lineno)
            continue
        where = f"{path}:{lineno}"
        if len(row) != len(header):
            raise DataError(f"{where}: expected {len(header)} fields (as the header {','.join(header)!r}), found {len(row)}")
        s1, s2 = _sentences(row[picks[0]], row[picks[1]], where)
        yield lineno, s1, s2, parse_score(row[picks[2]].strip(), where)


def _header_picks(header: list[str], path: str, lineno: int) -> list[int]:
    """Positions of sentence1, sentence2 and the score column in ``header``."""
    shown = ",".join(header)
    duplicate = next((h for i, h in enumerate(header) if h in header[:i] and h in (*SENTENCE_KEYS, *SCORE_KEYS)), None)
    if duplicate is not None:
        raise DataError(f"{path}:{lineno}: duplicate column {duplicate!r} in the header {shown!r} (rename one)")
    missing = [k for k in SENTENCE_KEYS if k not in header]
    if not any(k in header for k in SCORE_KEYS):
        missing.append("score or label")
    if missing:
        raise DataError(
            f"{path}:{lineno}: the header {shown!r} has no column {', '.join(map(repr, missing))} "
            f"(a header row naming {NEEDS} is required for this layout)"
        )
    score_key = next(k for k in SCORE_KEYS if k in header)
    return [header.index("sentence1"), header.index("sentence2"), header.index(score_key)]


def _read_jsonl(path: str, found: ScoredPairFile) -> Iterator[Row]:
    for lineno, line in _decoded_lines(path):
        if not line.strip():
            found.blank_lines += 1
            continue
        where = f"{path}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(obj, dict):
            raise DataError(f"{where}: expected a JSON object with {NEEDS}, found {type(obj).__name__}")
        missing = [k for k in SENTENCE_KEYS if k not in obj]
        if not any(k in obj for k in SCORE_KEYS):
            missing.append("score or label")
        if missing:
            raise DataError(f"{where}: no key {', '.join(map(repr, missing))} (each line needs {NEEDS})")
        wrong = [k for k in SENTENCE_KEYS if not isinstance(obj[k], str)]
        if wrong:
            raise DataError(f"{where}: {wrong[0]} is {type(obj[wrong[0]]).__name__}, not a string")
        s1, s2 = _sentences(obj["sentence1"], obj["sentence2"], where)
        yield lineno, s1, s2, parse_score(obj[next(k for k in SCORE_KEYS if k in obj)], where)


def describe(found: ScoredPairFile) -> str:
    """One line for logs: how many pairs of which layout, the score range, blank lines skipped."""
    low, high = min(found.scores), max(found.scores)
    name = os.path.basename(found.path)
    return f"{name}: {len(found)} pairs ({found.layout} layout), scores {low:g}..{high:g}, {found.blank_lines} blank lines skipped"
