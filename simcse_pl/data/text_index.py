"""``TextIndex``: a corpus (or a query file) read once and then by position, never held as Python strings.

BEIR's ``corpus.jsonl`` (``{"_id", "title", "text"}`` a line) and ``queries.jsonl`` (``{"_id", "text"}``), a jsonl of
``{"text"}`` objects, or a plain text file (one document a line). One scan checks every line (UTF-8, JSON, the
keys, an empty text, a repeated id) and keeps the byte offset of each (8 bytes a document) and its id; a text is
then read by seeking, as ``TextLines`` reads sentences. A document's text is its title and text joined by a space,
as sentence-transformers' BEIR evaluation (and ``evaluation/retrieval.py``) joins them.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from simcse_pl.data.files import UTF8_BOM, OffsetReader, check_file, decode_line
from simcse_pl.errors import DataError


def document_text(row: dict[str, Any]) -> str:
    """``title + " " + text`` (either may be missing or empty)."""
    title = str(row.get("title") or "").strip()
    return " ".join(p for p in (title, str(row.get("text") or "").strip()) if p)


def parse_json_line(line: str, path: str, lineno: int, need_id: bool) -> dict[str, Any]:
    """One jsonl line as an object with ``text`` (and ``_id`` when ``need_id``), or a one-line ``DataError``."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{lineno}: invalid JSON ({exc.msg} at column {exc.colno})") from None
    wanted = ("_id", "text") if need_id else ("text",)
    if not isinstance(row, dict) or any(k not in row for k in wanted):
        found = ", ".join(map(repr, row)) if isinstance(row, dict) else type(row).__name__
        raise DataError(f"{path}:{lineno}: not a BEIR line: expected a JSON object with {', '.join(map(repr, wanted))} "
                        f"(found {found})")
    return row


class TextIndex:
    """Texts of a jsonl (``_id`` + ``text`` [+ ``title``]) or plain text file by id and by position.

    ``need_id``: every jsonl line must carry ``_id`` (BEIR); otherwise a line without one is named by its line
    number. A plain text file (any other extension) has one text a line, its id the line number."""

    def __init__(self, path: str, key: str, need_id: bool = True) -> None:
        self.path = str(path)
        self.key = key
        self.need_id = need_id
        self.jsonl = self.path.endswith(".jsonl")
        self.offsets = np.zeros(0, dtype=np.int64)
        self.ids: list[str] = []
        self.position: dict[str, int] = {}
        self._file = OffsetReader(self.path)

    def index(self) -> TextIndex:
        """Scan the file once; a bad line is a ``DataError`` naming ``file:line``."""
        check_file(self.path, self.key)
        offsets: list[int] = []
        lines: dict[str, int] = {}
        with open(self.path, "rb") as f:
            position = 0
            for lineno, raw in enumerate(f, start=1):
                start, position = position, position + len(raw)
                line = decode_line(raw, self.path, lineno)
                if not line.strip():
                    continue
                if self.jsonl:
                    row = parse_json_line(line, self.path, lineno, self.need_id)
                    text, doc_id = document_text(row), str(row.get("_id", lineno))
                else:
                    text, doc_id = line.strip(), str(lineno)
                if not text:
                    raise DataError(f"{self.path}:{lineno}: empty text (id {doc_id!r})")
                if doc_id in lines:
                    raise DataError(f"{self.path}:{lineno}: duplicate id {doc_id!r} (first at line {lines[doc_id]})")
                lines[doc_id] = lineno
                bom = len(UTF8_BOM) if lineno == 1 and raw.startswith(UTF8_BOM) else 0
                offsets.append(start + bom)
        if not offsets:
            raise DataError(f"{self.path}: empty ({self.key}): no documents")
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.ids = list(lines)
        self.position = {doc_id: i for i, doc_id in enumerate(self.ids)}
        return self

    def __len__(self) -> int:
        return len(self.offsets)

    def __getitem__(self, i: int) -> str:
        line = self._file.readline(int(self.offsets[i])).decode("utf-8")
        return document_text(json.loads(line)) if self.jsonl else line.strip()

    def text(self, doc_id: str) -> str:
        return self[self.position[doc_id]]

