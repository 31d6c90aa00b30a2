"""Every error type simcse-pl raises on purpose, in one leaf module that imports nothing of the package.

The user-facing ones say in one line what to fix (a file and line, a config key, a checkpoint); the console
scripts print that line instead of a stack trace (``simcse_pl/cli/reporting.py``). Keeping them here lets any wing
raise or catch any of them without importing the wing that first needed it.
"""

from __future__ import annotations


class DataError(ValueError):
    """Bad input data; the message names the file and line (or config key) at fault."""


class ModelLoadError(ValueError):
    """The configured model could not be found or loaded."""


class CheckpointError(ModelLoadError):
    """A checkpoint that cannot be used (missing, damaged, of another model or other settings); one line."""


class ConfigError(ValueError):
    """A config value of the wrong type or outside its allowed range; the message names the key."""


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; the message names the step."""


class RunFolderInUse(ValueError):
    """Another live run holds the run folder."""


class ExportError(ValueError):
    """The export could not be written (a read-only or full disk, a folder that is not an export); one line naming
    the folder. Nothing was changed there."""


class NotExportable(Exception):
    """A pooler or prompt with no sentence-transformers equivalent; the message says why."""


class Preempted(Exception):
    """The job was asked to stop by ``signum``; the message says what was saved and how to resume."""

    def __init__(self, signum: int, message: str) -> None:
        super().__init__(signum, message)  # both in args, so a copy or pickle of it can be rebuilt
        self.signum = signum
        self.message = message

    def __str__(self) -> str:
        return self.message

    @property
    def exit_status(self) -> int:
        return 128 + self.signum
