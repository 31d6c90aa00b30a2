"""Encoding progress: plain lines off a terminal (every interval and at the end), a bar on one."""

import io
import re

from simcse_pl.evaluation.progress import EncodingProgress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_off_a_terminal_plain_lines_at_each_interval_and_at_the_end():
    stream = io.StringIO()
    progress = EncodingProgress(1000, stream=stream, every_seconds=0.0)
    for done in (128, 256, 1000):
        progress.update(done)
    progress.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    assert re.fullmatch(r"encoded 1,000/1,000 sentences \(100%\), \d+ sentences/s, ETA 0m00s", lines[-1])
    assert "\r" not in stream.getvalue() and "\x1b" not in stream.getvalue()


def test_off_a_terminal_only_the_end_within_one_interval():
    stream = io.StringIO()
    progress = EncodingProgress(300, stream=stream, every_seconds=3600.0)
    for done in (100, 200, 300):
        progress.update(done)
    assert stream.getvalue().splitlines() == [stream.getvalue().splitlines()[-1]]
    assert stream.getvalue().startswith("encoded 300/300 sentences (100%)")


def test_on_a_terminal_a_bar():
    stream = Terminal()
    progress = EncodingProgress(10, stream=stream)
    progress.update(10)
    progress.close()
    assert "10/10" in stream.getvalue() and "encoded" not in stream.getvalue()
