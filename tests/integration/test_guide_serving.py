"""Every runnable block of docs/guides/export-serving.md, in page order, as written there, in a scratch folder: the
quickstart run ``outputs/quickstart/<date>_<time>`` is a tiny train.py run; the export, ONNX and benchmark commands
run on it; ``simcse-serve`` (run as ``python -m simcse_pl.cli.serve``, which the console script calls) gets a free
port, and the curl and OpenAI lines are sent to it. Slow: a training, two ONNX exports, a server and a client
process per line."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from doc_blocks import commands, runnable
from guide_commands import QUICKSTART_RUN, fill, run_shell, scratch, shell_env
from serve_process import free_port, stop, wait_until_up
from train_runs import run_train

PAGE = runnable("docs/guides/export-serving.md")
STAMP = "2026-01-01_00-00-00"


def test_the_page_shows_the_documented_steps():
    shown = [c for block in PAGE for c in commands(block)] + [PAGE[1].code]
    assert shown[0] == f"simcse-export {QUICKSTART_RUN}"
    assert any(c.startswith("simcse-serve ") and "--compare untrained" in c for c in shown)
    assert any("OpenAI(" in c for c in shown) and any("--backend onnx" in c for c in shown)


@pytest.mark.slow
def test_the_export_onnx_and_serve_blocks_work(tmp_path: Path):
    pytest.importorskip("openai")
    pytest.importorskip("onnxruntime")
    work = scratch(tmp_path)
    env = shell_env(work)
    run = work / "outputs" / "quickstart" / STAMP
    run_train(run, "logger=none", "trainer.max_steps=2", "trainer.val_check_interval=2", data_dir=work / "data",
              source=work / "data" / "wiki" / "wiki1m_head11914.txt")
    subs = {QUICKSTART_RUN: f"outputs/quickstart/{STAMP}", "<date>_<time>": STAMP}  # the served model's name
    server = None
    try:
        for block in PAGE:
            if block.lang == "python":
                done = run_shell(shlex.join([sys.executable, "-c", fill(block.code, subs)]), work, env)
                assert done.stdout.strip() == "(1, 32)"  # one sentence, the tiny model's 32 dimensions
                continue
            for command in commands(block):
                command = fill(command, subs)
                if command.startswith("simcse-serve "):
                    port = free_port()
                    serve = f"{sys.executable} -m simcse_pl.cli.serve {command.removeprefix('simcse-serve ')} --port {port}"
                    server = subprocess.Popen(serve, shell=True, cwd=work, env=env, stdout=subprocess.PIPE, text=True)
                    wait_until_up(server, port)
                    continue
                if server is not None:
                    command = command.replace(":8000", f":{port}")
                done = run_shell(command, work, env, timeout=600)
                if server is not None:
                    assert done.stdout.strip() and '"detail"' not in done.stdout, (command, done.stdout)
    finally:
        if server is not None:
            stop(server)
    assert (run / "model" / "onnx" / "model_quint8_avx2.onnx").is_file()
    assert (work / "last_model" / "simcse_pl.json").is_file()
    assert (work / "corpus.txt").read_text().count("\n") == 96  # head -n 2000 of the 96-line sample
