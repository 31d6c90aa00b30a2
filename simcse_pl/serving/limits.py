"""How much one request may ask of the server: a public embedding endpoint without limits is a way to make it
encode a gigabyte. Counts over a limit answer 413 and too-long text 413, each with one line naming the limit.

The body itself is capped too (``max_body_bytes``, enforced by ``body_limit.py`` before any JSON is parsed)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

ESCAPED_CHAR_BYTES = 6  # a character as JSON's \uXXXX escape: the most bytes a BMP character takes in a body
BODY_OVERHEAD_BYTES = 64 * 1024  # the JSON around the texts (keys, quotes, commas, the other fields)


class TooLarge(ValueError):
    """A request over one of the ``Limits``; the message says which (answered 413)."""


def body_bytes_for(max_texts: int, max_chars: int) -> int:
    """The body cap that still admits the largest request the text limits allow: ``max_texts`` texts of
    ``max_chars`` characters, every character escaped."""
    return max_texts * max_chars * ESCAPED_CHAR_BYTES + BODY_OVERHEAD_BYTES


@dataclass(frozen=True)
class Limits:
    """``max_texts``: texts in one request (``input``, ``candidates``); ``max_chars``: characters in one text;
    ``max_corpus``: documents in a search corpus (the ``--corpus`` file or pasted); ``max_top_k``: hits asked for;
    ``max_body_bytes``: bytes in one request body (default ``body_bytes_for(max_texts, max_chars)``; pasted
    search documents share it, so a long pasted corpus belongs in a ``--corpus`` file)."""

    max_texts: int = 256
    max_chars: int = 4000
    max_corpus: int = 10_000
    max_top_k: int = 100
    max_body_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.max_body_bytes is None:
            object.__setattr__(self, "max_body_bytes", body_bytes_for(self.max_texts, self.max_chars))

    def check_texts(self, field: str, texts: Sequence[str], most: int | None = None) -> None:
        """Refuse more than ``most`` (default ``max_texts``) texts, or any text over ``max_chars``."""
        most = self.max_texts if most is None else most
        if len(texts) > most:
            raise TooLarge(f"{field}: {len(texts)} texts, more than the limit of {most}")
        for i, text in enumerate(texts):
            if len(text) > self.max_chars:
                raise TooLarge(f"{field}[{i}]: {len(text)} characters, more than the limit of {self.max_chars}")
