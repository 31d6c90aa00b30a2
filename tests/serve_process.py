"""``simcse-serve`` as a separate process on a free 127.0.0.1 port, for the tests that talk to a real server (the
browser, the OpenAI client): the benchmark script's own starter (scripts/benchmark_serve.py), ready when ``/health``
answers."""

from __future__ import annotations

import subprocess

from scripts_module import load_script

_script = load_script("benchmark_serve")
free_port = _script.free_port
start_server = _script.start_server
wait_until_up = _script.wait_until_up


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()
