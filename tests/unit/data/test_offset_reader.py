"""Sources read examples at byte offsets through one handle per process: a forked worker must not share the parent's
file position (the parent reading one example before the DataLoader forks made workers read half of one line and half
of the next: a csv error in the middle of a run)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from simcse_pl.data.sources.nli import NLITriplets
from simcse_pl.data.sources.text_lines import TextLines

LINES = 400
PAD = "x" * 400  # lines longer than a read buffer's share, so each read far away seeks the shared file


def wrong_reads_in_a_child(source, expected: list[tuple], rounds: int = 5) -> int:
    """How many of a forked child's reads differ from ``expected`` (or fail) while the parent reads the examples in
    the opposite order: with a shared file position, their seeks and reads interleave."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(reader)
        wrong = 0
        for _ in range(rounds):
            for i in range(0, len(expected), 7):
                try:
                    wrong += source[i] != expected[i]
                except Exception:  # noqa: BLE001 - a torn line may not even parse
                    wrong += 1
        os.write(writer, str(wrong).encode())
        os._exit(0)
    os.close(writer)
    while not os.waitpid(pid, os.WNOHANG)[0]:
        for i in reversed(range(0, len(expected), 5)):
            try:
                source[i]
            except Exception:  # noqa: BLE001 - the parent's reads may be torn too; only the child's are counted
                pass
    with os.fdopen(reader) as f:
        return int(f.read())


@pytest.mark.parametrize("kind", ["nli", "text"])
def test_a_forked_reader_does_not_share_the_parents_file_position(tmp_path: Path, kind: str):
    if kind == "nli":
        path = tmp_path / "nli.csv"
        path.write_text("sent0,sent1,hard_neg\n" + "".join(f"premise {i} {PAD},entails {i},contradicts {i}\n"
                                                             for i in range(LINES)))
        source = NLITriplets(str(path))
    else:
        path = tmp_path / "wiki.txt"
        path.write_text("".join(f"sentence number {i} {PAD}\n" for i in range(LINES)))
        source = TextLines(str(path))
    source.index()
    expected = [source[i] for i in range(len(source))]  # the parent's handle is open before the fork, as in a run
    assert wrong_reads_in_a_child(source, expected) == 0
