"""One run per run folder: two runs writing into the same folder would mix ``results.json`` of one with the
``model/`` of the other, silently. A run takes the folder with a lock file naming its pid and host; a second
run into a live folder fails at once, and a lock left by a process that died (SIGKILL, a lost node) is taken
over with a warning, so resuming a killed run just works."""

from __future__ import annotations

import json
import logging
import os
import socket
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from simcse_pl.errors import RunFolderInUse

log = logging.getLogger(__name__)

LOCK_NAME = ".run.lock"


def _alive(pid: int) -> bool:
    if pid <= 0:  # os.kill(0 or -1, ...) would address process groups, not one process
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


class RunLock:
    """``with RunLock(run_dir):`` holds ``<run_dir>/.run.lock`` for the block (created atomically with O_EXCL).

    Only the launching process (global rank 0) locks: DDP ranks share the folder by design."""

    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        self.path = Path(run_dir) / LOCK_NAME
        self.owner = {"pid": os.getpid(), "host": socket.gethostname()}
        self._held = False

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        record = {**self.owner, "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        while not self._create(record):
            holder = self._holder()
            if holder.get("pid") == self.owner["pid"] and holder.get("host") == self.owner["host"]:
                return  # this process holds it already (run() called twice in one process)
            if holder.get("host") != self.owner["host"] or _alive(int(holder.get("pid", -1))):
                raise RunFolderInUse(
                    f"{self.path.parent}: the run folder is in use by pid {holder.get('pid')} on host "
                    f"{holder.get('host')} (since {holder.get('started', '?')}); choose another hydra.run.dir, "
                    f"or delete {self.path} if that run is gone"
                )
            log.warning(
                "%s: taking over the lock of pid %s on %s, which is no longer running", self.path.parent,
                holder.get("pid"), holder.get("host"),
            )
            self.path.unlink(missing_ok=True)
        self._held = True

    def _create(self, record: dict[str, object]) -> bool:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as f:
            json.dump(record, f)
        return True

    def _holder(self) -> dict[str, object]:
        """The lock's record; an unreadable one (a writer killed mid-write) counts as left by a dead process."""
        try:
            holder = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {"pid": -1, "host": self.owner["host"]}
        return holder if isinstance(holder, dict) else {"pid": -1, "host": self.owner["host"]}

    def release(self) -> None:
        if self._held and self._holder().get("pid") == self.owner["pid"]:
            self.path.unlink(missing_ok=True)
        self._held = False

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.release()
