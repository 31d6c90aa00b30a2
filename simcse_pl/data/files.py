"""What every reader of a local file checks first: that the path is a regular file it may read, and that each line
is UTF-8 text. One place, so a training reader, an evaluation task and a console script report a bad file alike."""

from __future__ import annotations

import os
import stat

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
