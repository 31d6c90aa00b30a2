"""What every reader of a local file checks first: that the path is a regular file it may read, and that each line
is UTF-8 text. One place, so a training reader, an evaluation task and a console script report a bad file alike."""

from __future__ import annotations

import csv
import hashlib
import os
import stat
from collections.abc import Iterable, Iterator
from typing import Any

from simcse_pl.data.downloads import missing_hint
from simcse_pl.errors import DataError


# what a path is instead of a regular file; reading a FIFO or a device would block or read nothing
NOT_A_FILE = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO/named pipe"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"),
)


UTF8_BOM = b"\xef\xbb\xbf"


def check_file(path: str, key: str) -> str:
    """``path`` if it is a regular file we may read; otherwise a ``DataError`` saying what is wrong with it, so
    a directory or a device is not reported as missing and a permission problem is not a stack trace."""
    try:
        mode = os.stat(path).st_mode
    except PermissionError:
        raise DataError(f"{path}: permission denied ({key})") from None
    except OSError:
        raise DataError(f"{path}: no such file ({key}). {missing_hint(path, key)}") from None
    for is_kind, kind in NOT_A_FILE:
        if is_kind(mode):
            raise DataError(f"{path}: is {kind}, not a file ({key})")
    try:
        open(path, "rb").close()  # the only sure test: os.access asks about the real, not the effective, user
    except PermissionError:
        raise DataError(f"{path}: permission denied ({key})") from None
    return path


def decode_line(raw: bytes, path: str, lineno: int) -> str:
    """One line of a UTF-8 file as text, without the byte-order mark some editors put before line 1.

    A NUL byte is refused: no text has one, and it usually means a binary or UTF-16 file."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}:{lineno}: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"
        ) from None
    if "\0" in text:
        raise DataError(f"{path}:{lineno}: contains a NUL byte (column {raw.index(0) + 1}); is this a binary file?")
    return text.removeprefix("\ufeff") if lineno == 1 else text


# The longest csv/tsv field any reader of the package accepts. Python's csv module refuses fields over 128 KiB by
# default, and a passage, a document or a long dialogue is legitimate data over that. A field longer than this is
# no sentence: almost surely a quote opened and never closed, running on through the rest of the file.
CSV_FIELD_LIMIT = 16 * 2**20


def csv_reader(lines: Iterable[str], **dialect: Any) -> Iterator[list[str]]:
    """``csv.reader(lines, **dialect)`` that accepts fields up to ``CSV_FIELD_LIMIT``: every csv reader of the
    package comes through here, so long fields read the same everywhere (training sources, pair files,
    evaluation tasks, and a dataloader worker that was spawned and never ran the index scan)."""
    csv.field_size_limit(CSV_FIELD_LIMIT)
    return csv.reader(lines, **dialect)


def bad_csv_record(path: str, lineno: int, exc: csv.Error) -> DataError:
    """The one-line error for a record the csv module cannot parse, naming the line the record starts on."""
    reason = str(exc)
    if reason.startswith("field larger than field limit"):
        reason = (
            f"a field longer than {CSV_FIELD_LIMIT // 2**20} MiB starts here: most likely a quote opened here "
            "and never closed, which runs on through the rest of the file"
        )
    elif reason.startswith("unexpected end of data"):
        reason = "a quote opened here is never closed: the record runs on to the end of the file"
    else:
        reason += "; an unbalanced quote?"
    return DataError(f"{path}:{lineno}: bad CSV record ({reason})")


class OffsetReader:
    """Reads a file at byte offsets through one handle per process.

    A DataLoader worker forked after the parent read an example inherits the parent's open file, and with it the
    file position the parent and every other worker share: interleaved seeks and reads then return the wrong bytes
    (half of one line and half of the next). So the handle is reopened in any process other than the one that opened
    it, and never pickled."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._file: Any = None
        self._pid = -1

    def _handle(self) -> Any:
        if self._file is None or self._pid != os.getpid():
            self._file = open(self.path, "rb")  # noqa: SIM115 - kept open in this process for seeking
            self._pid = os.getpid()
        return self._file

    def read(self, start: int, end: int) -> bytes:
        handle = self._handle()
        handle.seek(start)
        return handle.read(end - start)

    def readline(self, start: int) -> bytes:
        handle = self._handle()
        handle.seek(start)
        return handle.readline()

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "_file": None, "_pid": -1}


def file_sha256(path: str, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file, read in chunks (wiki1m: ~0.3 s): what a resumed run's data and an ONNX export's files
    are compared by."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()
