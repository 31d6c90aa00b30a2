"""The README's "Try your model" commands, as written, in a scratch folder: ``outputs/tour`` is a tiny run folder and
``data/wiki/`` a small sentence file; ``simcse-serve`` (run as ``python -m simcse_pl.cli.serve``, which the console
script calls) gets a free port, and the curl and OpenAI lines are sent to it. Slow: a server start and a client
process per line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from serve_fixtures import CORPUS, tiny_run
from serve_process import free_port, stop, wait_until_up

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def readme_commands() -> list[str]:
    """The lines of the section's first two code blocks (start it, talk to it); the third, the full benchmark on
    the real model, is what the README's table came from."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Try your model", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```\n(.*?)```", section, re.S)[:2]
    return [line.split("   #")[0].strip() for block in blocks for line in block.splitlines() if line.strip()]


@pytest.mark.slow
def test_the_readme_serve_commands_work(tmp_path: Path):
    pytest.importorskip("openai")
    tiny_run(tmp_path / "outputs" / "tour")
    (tmp_path / "data" / "wiki").mkdir(parents=True)
    (tmp_path / "data" / "wiki" / "wiki1m_head11914.txt").write_text("\n".join(CORPUS * 3) + "\n")
    env = {k: v for k, v in os.environ.items() if k != "SIMCSE_DATA_DIR"}
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    head, serve, *clients = readme_commands()
    subprocess.run(head, shell=True, cwd=tmp_path, env=env, check=True)
    assert (tmp_path / "corpus.txt").read_text().count("\n") == len(CORPUS) * 3
    port = free_port()
    assert serve.startswith("simcse-serve ")
    command = f"{sys.executable} -m simcse_pl.cli.serve {serve.removeprefix('simcse-serve ')} --port {port}"
    server = subprocess.Popen(command, shell=True, cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True)
    try:
        wait_until_up(server, port)
        for line in clients:
            done = subprocess.run(line.replace(":8000", f":{port}"), shell=True, cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=60)
            assert done.returncode == 0 and done.stdout.strip(), (line, done.stderr)
            assert '"detail"' not in done.stdout, (line, done.stdout)
    finally:
        stop(server)
