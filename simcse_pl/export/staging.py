"""Writing a folder whole or not at all: the export is written into a new sibling, ``.<name>.partial-...``, which
replaces the folder only once complete (an earlier export is renamed aside, then deleted). A stop signal, a full or
read-only disk never leaves a half-written ``model/`` (which would load with the default pooler), nor mixes a new
export with an old one's files (its ``onnx/``). A write that fails is one line, ``ExportError``."""

from __future__ import annotations

import errno
import glob
import json
import os
import re
import secrets
import shutil
import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from safetensors import SafetensorError

from simcse_pl.errors import ExportError
from simcse_pl.export.layout import CONFIG_NAME


# stop signals held back while an old export is swapped for the new one (two renames)
HELD_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGQUIT")
                     if hasattr(signal, name))


def is_export(folder: str | os.PathLike[str]) -> bool:
    """``folder`` is an earlier export of simcse-pl: it holds ``simcse_pl.json`` (its marker, written by every
    export after the weights and tokenizer) as a JSON object naming the pooler."""
    try:
        config = json.loads((Path(folder) / CONFIG_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and "pooler" in config


def check_output(out_dir: str | os.PathLike[str], overwrite: bool = False) -> None:
    """``out_dir`` may receive an export: it is missing, empty or an earlier export (``is_export``), or
    ``overwrite`` says its files may all be replaced; never a file. Why: ``--output .`` replaced a user's
    README.md and config.json."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out}: exists and is not a folder")
    if out.is_dir() and not overwrite and any(out.iterdir()) and not is_export(out):
        raise ExportError(
            f"{out}: a folder with other files, not an earlier export (no {CONFIG_NAME}); the export replaces the "
            "whole folder: choose an empty or new one, or pass --overwrite to replace it"
        )


@contextmanager
def staged_folder(out_dir: str | os.PathLike[str]) -> Iterator[Path]:
    """A new, empty sibling of ``out_dir`` to write into; when the block ends it replaces ``out_dir`` (``_swap``),
    and when it fails (an error, Ctrl-C) it is deleted and ``out_dir`` is left as it was. A failed write
    (``OSError``, safetensors' error: a full or read-only disk) comes out as one ``ExportError`` line."""
    out = Path(out_dir)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _clear_interrupted(out)
        stage = _sibling(out, "partial")
        stage.mkdir()
    except OSError as exc:
        raise write_error(exc, out) from None
    try:
        yield stage
        _swap(stage, out)
    except (OSError, SafetensorError) as exc:
        _remove(stage)
        raise write_error(exc, out) from None
    except BaseException:
        _remove(stage)
        raise


def write_error(exc: BaseException, out: Path) -> ExportError:
    """One line for a failed write: the folder, the system's reason (and the file when it is not in the stage)."""
    if isinstance(exc, OSError):
        reason = exc.strerror or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        name = str(exc.filename or "")
        if name and ".partial-" not in name:
            reason = f"{reason}: {name}"
    else:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return ExportError(f"{out}: cannot write the export ({reason}); nothing was written, {out} is as it was")


def _swap(stage: Path, out: Path) -> None:
    """``stage`` becomes ``out``: an old ``out`` is renamed aside, the stage renamed in its place, the old one then
    deleted. Stop signals wait for the two renames, so ``out`` is always the old folder or the new, whole one; a
    failed rename puts the old one back. Another process (a DDP rank) that swaps its own export in between is set
    aside in turn (retried): the folder ends whole, one process's export."""
    asides: list[Path] = []
    for attempt in range(5):
        with _signals_held():
            aside = _sibling(out, "old")
            try:
                os.replace(out, aside)
                asides.append(aside)
            except FileNotFoundError:
                pass
            try:
                os.replace(stage, out)
                break
            except OSError as exc:
                if exc.errno in (errno.ENOTEMPTY, errno.EEXIST) and attempt < 4:
                    continue
                if asides and not out.exists():
                    os.replace(asides.pop(), out)
                raise
    for aside in asides:
        _remove(aside)


def _sibling(out: Path, kind: str) -> Path:
    """A new name beside ``out`` for a stage (``partial``) or a set-aside export (``old``): ``STAGE_NAME``."""
    return out.with_name(f".{out.name}.{kind}-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}")


@contextmanager
def _signals_held() -> Iterator[None]:
    """Stop signals (``HELD_SIGNALS``) are delivered when the block ends, not in it."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, HELD_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


STAGE_NAME = re.compile(r"\.(?P<name>.+)\.(?P<kind>partial|old)-(?P<host>.+)-(?P<pid>\d+)-[0-9a-f]{8}")


def _clear_interrupted(out: Path) -> None:
    """What a killed export (SIGKILL, a power cut) of this machine left beside ``out``: its stage is deleted, and an
    old export renamed aside is put back when ``out`` is missing (killed between the two renames)."""
    host = socket.gethostname()
    for path in sorted(out.parent.glob(f".{glob.escape(out.name)}.*-*")):
        found = STAGE_NAME.fullmatch(path.name)
        if not found or found["name"] != out.name or found["host"] != host or _alive(int(found["pid"])):
            continue
        if found["kind"] == "old" and not out.exists():
            os.replace(path, out)
        else:
            _remove(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)
