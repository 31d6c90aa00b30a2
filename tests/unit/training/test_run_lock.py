"""One run per run folder: a live holder refuses a second run naming the folder; a dead one's lock is taken over."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from simcse_pl.training import run as run_module
from simcse_pl.config import compose_config
from simcse_pl.cli.reporting import user_errors_reported
from simcse_pl.training.run_lock import LOCK_NAME, RunLock
from simcse_pl.errors import RunFolderInUse
from tests.train_runs import run_train


def write_lock(folder: Path, pid: int, host: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    path.write_text(json.dumps({"pid": pid, "host": host or socket.gethostname(), "started": "2026-11-30T00:00:00+00:00"}))
    return path


@pytest.fixture
def live_pid():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc.pid
    proc.kill()
    proc.wait()


@pytest.fixture
def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_the_lock_is_held_for_the_block_and_released(tmp_path: Path):
    with RunLock(tmp_path):
        record = json.loads((tmp_path / LOCK_NAME).read_text())
        assert (record["pid"], record["host"]) == (os.getpid(), socket.gethostname())
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_live_holder_refuses_a_second_run(tmp_path: Path, live_pid: int):
    lock = write_lock(tmp_path, live_pid)
    with pytest.raises(RunFolderInUse) as exc, RunLock(tmp_path):
        pass
    assert str(exc.value) == (
        f"{tmp_path}: the run folder is in use by pid {live_pid} on host {socket.gethostname()} (since "
        f"2026-11-30T00:00:00+00:00); choose another hydra.run.dir, or delete {lock} if that run is gone"
    )
    assert json.loads(lock.read_text())["pid"] == live_pid  # not touched


def test_a_dead_holder_is_taken_over_with_a_warning(tmp_path: Path, dead_pid: int, caplog):
    write_lock(tmp_path, dead_pid)
    with caplog.at_level(logging.WARNING, logger="simcse_pl.training.run_lock"), RunLock(tmp_path):
        assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    assert caplog.messages == [
        f"{tmp_path}: taking over the lock of pid {dead_pid} on {socket.gethostname()}, which is no longer running"
    ]


def test_a_holder_on_another_host_cannot_be_checked_so_it_refuses(tmp_path: Path, dead_pid: int):
    write_lock(tmp_path, dead_pid, host="node-17")
    with pytest.raises(RunFolderInUse, match=f"in use by pid {dead_pid} on host node-17"), RunLock(tmp_path):
        pass


def test_an_unreadable_lock_counts_as_left_by_a_dead_run(tmp_path: Path):
    (tmp_path / LOCK_NAME).write_text("{\"pid\": 12")  # the writer was killed mid-write
    with RunLock(tmp_path):
        assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()


def test_a_second_run_into_a_live_folder_fails_at_once_naming_it(tmp_path: Path, live_pid: int, monkeypatch, capsys):
    write_lock(tmp_path, live_pid)

    def no_model(*args, **kwargs):
        raise AssertionError("the run went on past the lock")

    monkeypatch.setattr(run_module, "load_tokenizer", no_model)
    cfg = compose_config("model=tiny", f"paths.output_dir={tmp_path}")
    with pytest.raises(SystemExit) as exit_info, user_errors_reported():
        run_module.run(cfg)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].startswith(f"error: {tmp_path}: the run folder is in use by pid {live_pid}")
    assert not (tmp_path / "results.json").exists()


def test_a_refused_run_leaves_the_live_runs_record_alone(tiny_data: Path, tmp_path: Path, live_pid: int):
    """Hydra wrote ``.hydra/*.yaml`` before the job took the lock: a second run with another tau, refused, still
    rewrote the live run's config.yaml (which simcse-report reads). Now the job writes them once it holds the
    folder."""
    hydra_dir = tmp_path / ".hydra"
    hydra_dir.mkdir()
    record = {name: f"# the live run's {name}\nloss:\n  tau: 0.05\n" for name in ("config.yaml", "hydra.yaml", "overrides.yaml")}
    for name, text in record.items():
        (hydra_dir / name).write_text(text)
    write_lock(tmp_path, live_pid)
    done = run_train(tmp_path, "loss.tau=0.5", data_dir=tiny_data, check=False, full_error=False)
    assert done.returncode == 2, done.stderr[-3000:]
    assert done.stderr.strip().splitlines()[-1].startswith(f"error: {tmp_path}: the run folder is in use by pid {live_pid}")
    assert {name: (hydra_dir / name).read_text() for name in record} == record
    assert sorted(p.name for p in hydra_dir.iterdir()) == sorted(record)


def test_the_run_writes_hydras_record_once_it_holds_the_folder(tmp_path: Path, monkeypatch):
    """Under Hydra the job's .hydra/ files are Hydra's own (what --config-dir and simcse-report read)."""
    from hydra.core.hydra_config import HydraConfig
    from simcse_pl.training.tracking import hydra_files, write_hydra_files

    cfg = compose_config("loss.tau=0.5", f"hydra.run.dir={tmp_path}", return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    task = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    try:
        write_hydra_files(str(tmp_path), hydra_files(task))
    finally:
        HydraConfig.instance().cfg = None
    assert OmegaConf.load(tmp_path / ".hydra" / "config.yaml").loss.tau == 0.5
    assert OmegaConf.load(tmp_path / ".hydra" / "overrides.yaml") == ["loss.tau=0.5"]  # hydra.* overrides are in hydra.yaml
    assert OmegaConf.load(tmp_path / ".hydra" / "hydra.yaml").hydra.run.dir == str(tmp_path)
