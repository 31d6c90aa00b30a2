"""Where the data lives: one rule for train.py and every console script and script.

The data root is, first found: the tool's own option (``--data-dir``; train.py's ``paths.data_dir=...``), the
environment variable ``SIMCSE_DATA_DIR``, the ``.data-root`` file in the current folder (``make`` writes the root
it used there, so a plain ``simcse-eval`` after ``make train`` reads the same files), else ``./data``. Before this
rule lived in one place only train.py followed it: ``simcse-eval`` after ``make train`` looked in ``./data`` and
failed on files that ``make data`` said were present.

A leaf module (nothing of the package, no third-party import): an error message that names the data root also
says which of the four it came from (``DataRoot.key``), and costs nothing to build.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "SIMCSE_DATA_DIR"
MARKER = ".data-root"  # written by `make data-root` (and so by `make train`, `make data`, `make test`)
DEFAULT = "./data"
# the four places, in order; DataRoot.source is one of them
OPTION, ENV, FILE, FALLBACK = "option", "environment", "file", "default"


@dataclass(frozen=True)
class DataRoot:
    """The data root and where it came from. ``option`` is how the tool that asked spells its own setting
    (``--data-dir``, ``paths.data_dir``): errors tell the user to change that."""

    path: str
    source: str  # OPTION, ENV, FILE or FALLBACK
    option: str = "--data-dir"
    marker: str = MARKER  # FILE: the .data-root it was read from (absolute)

    @property
    def origin(self) -> str:
        """Where the path came from, in words."""
        return {
            OPTION: self.option,
            ENV: ENV_VAR,
            FILE: self.marker,
            FALLBACK: f"the default, as no {self.option}, {ENV_VAR} or {MARKER} is set",
        }[self.source]

    @property
    def key(self) -> str:
        """What an error puts in parentheses after a file of this root: the option when the user gave it, else the
        option and where the root came from instead (``--data-dir not given: data root from SIMCSE_DATA_DIR``);
        ``simcse_pl.data.downloads.missing_hint`` reads the option back from the first word."""
        if self.source == OPTION:
            return self.option
        if self.source == FALLBACK:
            return f"{self.option} not given: default data root {self.path} (no {ENV_VAR} or {MARKER} here)"
        return f"{self.option} not given: data root from {self.origin}"

    def __str__(self) -> str:
        return f"{self.path} (from {self.origin})"


def data_root(given: str | os.PathLike[str] | None = None, option: str = "--data-dir") -> DataRoot:
    """The data root by the rule above: ``given`` (the tool's option; None when not given), ``SIMCSE_DATA_DIR``,
    ``.data-root`` in the current folder, ``./data``."""
    if given is not None and os.fspath(given):
        return DataRoot(os.fspath(given), OPTION, option)
    if os.environ.get(ENV_VAR):
        return DataRoot(os.environ[ENV_VAR], ENV, option)
    marker = Path(MARKER).absolute()
    recorded = marker.read_text(encoding="utf-8").strip() if marker.is_file() else ""
    if recorded:
        return DataRoot(recorded, FILE, option, str(marker))
    return DataRoot(DEFAULT, FALLBACK, option)
