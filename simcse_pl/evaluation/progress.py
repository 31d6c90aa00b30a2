"""Progress of a long encoding pass (``simcse-eval``, ``simcse-encode``, ``SimCSE.encode(show_progress_bar=True)``).

On a terminal a tqdm bar; elsewhere (nohup, SLURM, CI logs) a bar would be printed once, at the end, so plain
lines go to stderr every ``every_seconds`` and at the end instead, as training's progress lines do."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s"


class EncodingProgress:
    """``update(done)`` after each batch of ``total`` sentences; ``close()`` at the end."""

    def __init__(self, total: int, stream: TextIO | None = None, every_seconds: float = 30.0) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.every_seconds = every_seconds
        self._bar = tqdm(total=total, unit="sentence", file=self.stream) if self.stream.isatty() else None
        self._start = self._last_line = time.monotonic()
        self._done = 0

    def update(self, done: int) -> None:
        """``done``: sentences encoded so far."""
        if self._bar is not None:
            self._bar.update(done - self._done)
        else:
            now = time.monotonic()
            if now - self._last_line >= self.every_seconds or done >= self.total:
                self._last_line = now
                rate = done / max(now - self._start, 1e-9)
                print(f"encoded {done:,}/{self.total:,} sentences ({100 * done // max(self.total, 1)}%), "
                      f"{rate:.0f} sentences/s, ETA {_duration((self.total - done) / max(rate, 1e-9))}",
                      file=self.stream, flush=True)
        self._done = done

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
