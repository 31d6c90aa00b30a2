"""How much one request may ask of the server: a public embedding endpoint without limits is a way to make it
encode a gigabyte. Counts over a limit answer 413 and too-long text 413, each with one line naming the limit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class TooLarge(ValueError):
    """A request over one of the ``Limits``; the message says which (answered 413)."""


@dataclass(frozen=True)
class Limits:
    """``max_texts``: texts in one request (``input``, ``candidates``); ``max_chars``: characters in one text;
    ``max_corpus``: documents in a search corpus (the ``--corpus`` file or pasted); ``max_top_k``: hits asked for."""

    max_texts: int = 256
    max_chars: int = 4000
    max_corpus: int = 10_000
    max_top_k: int = 100

    def check_texts(self, field: str, texts: Sequence[str], most: int | None = None) -> None:
        """Refuse more than ``most`` (default ``max_texts``) texts, or any text over ``max_chars``."""
        most = self.max_texts if most is None else most
        if len(texts) > most:
            raise TooLarge(f"{field}: {len(texts)} texts, more than the limit of {most}")
        for i, text in enumerate(texts):
            if len(text) > self.max_chars:
                raise TooLarge(f"{field}[{i}]: {len(text)} characters, more than the limit of {self.max_chars}")
