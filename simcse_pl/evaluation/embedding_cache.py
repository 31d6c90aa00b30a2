"""Corpus (and query) vectors cached on disk, keyed by model + prompt + texts, written chunk by chunk.

The key is SHA-256 of the model's key (its path and its weight files' sizes and times, ``model_key``), the prompt
and every text in order: a re-mine after a change of options (margins, ranges, k) costs no encoding, and a changed
model, prompt or corpus never reads stale vectors. Vectors are written in parts of ``chunk`` texts, each complete
file renamed into place (``os.replace``) and named by its range of texts, so an interrupted run keeps every finished
part and a rerun encodes only the rest (a rerun with another part size re-encodes rather than misread a part); once
all parts are there they are joined into one ``embeddings.npy``, read memory-mapped. Memory is one part's texts and
vectors, whatever the corpus size.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

EncodeTexts = Callable[[list[str]], np.ndarray]  # texts -> [n, d] float32 unit vectors
PART_SIZE = 4096  # texts encoded and written at a time


def model_key(path_or_id: str) -> str:
    """A model's identity for the cache: its absolute path plus name, size and time of each file (a retrained model
    in the same folder is another key), or the hub id as given."""
    path = Path(path_or_id).expanduser()
    if not path.exists():
        return path_or_id
    files = sorted(p for p in ([path] if path.is_file() else path.rglob("*")) if p.is_file())
    return json.dumps([str(path.resolve()), [(str(p.relative_to(path.parent)), p.stat().st_size, p.stat().st_mtime_ns)
                                             for p in files]])


def cache_key(model: str, prompt: str, texts: Sequence[str]) -> str:
    digest = hashlib.sha256(json.dumps([model, prompt]).encode())
    for text in texts:
        digest.update(hashlib.sha256(text.encode("utf-8")).digest())
    return digest.hexdigest()[:24]


def _save(path: Path, array: np.ndarray) -> None:
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as f:
        np.save(f, array)
    os.replace(partial, path)


def cached_embeddings(folder: str | os.PathLike[str], key: str, texts: Sequence[str], encode: EncodeTexts,
                      chunk: int = PART_SIZE, progress: Callable[[int], None] | None = None) -> np.ndarray:
    """The vectors of ``texts`` (memory-mapped, read-only) from ``folder/<key>/``, encoding only missing parts;
    ``progress(done)`` after each part."""
    where = Path(folder) / key
    final = where / "embeddings.npy"
    if final.is_file():
        if progress is not None:
            progress(len(texts))
        return np.load(final, mmap_mode="r")
    where.mkdir(parents=True, exist_ok=True)
    parts = []
    for start in range(0, len(texts), chunk):
        stop = min(start + chunk, len(texts))
        part = where / f"part-{start:012d}-{stop:012d}.npy"
        if not part.is_file():
            _save(part, np.asarray(encode([texts[i] for i in range(start, stop)]), dtype=np.float32))
        parts.append(part)
        if progress is not None:
            progress(stop)
    first = np.load(parts[0], mmap_mode="r")
    partial = where / "embeddings.npy.partial"
    joined = np.lib.format.open_memmap(partial, mode="w+", dtype=np.float32, shape=(len(texts), first.shape[1]))
    for number, part in enumerate(parts):
        joined[number * chunk : number * chunk + chunk] = np.load(part, mmap_mode="r")
    joined.flush()
    del joined
    os.replace(partial, final)
    for part in where.glob("part-*.npy"):  # this run's, and any of another part size
        part.unlink()
    return np.load(final, mmap_mode="r")
