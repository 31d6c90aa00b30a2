"""Reading a Lightning checkpoint safely: ``weights_only`` (loading runs no code), and every way a file can be
unusable reported in one line naming it. Used by the export readers, by resuming and by the run's best-weights
selection."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import torch

from simcse_pl.errors import CheckpointError


def read_checkpoint(path: str, mmap: bool = False) -> dict[str, Any]:
    """A Lightning checkpoint loaded with ``weights_only=True`` (tensors and plain data: loading runs no code).

    Every way a file can be unusable is one line naming it; nothing on disk is changed."""
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such checkpoint file")
    size = os.path.getsize(path)
    if size == 0:
        raise CheckpointError(f"{path}: empty file (0 bytes), not a checkpoint{_others_hint(path)}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as exc:
        if "weights_only" in str(exc).lower() or "weights only" in str(exc).lower():
            raise CheckpointError(
                f"{path}: holds objects other than tensors and plain data; refused (checkpoints are loaded with "
                "weights_only=True so that a file cannot run code)"
            ) from None
        raise CheckpointError(f"{path}: corrupted checkpoint ({_first_line(exc)}){_others_hint(path)}") from None
    except Exception as exc:  # noqa: BLE001 - arbitrary bytes fail torch.load in many ways, all meaning "damaged"
        raise CheckpointError(
            f"{path}: truncated or corrupted checkpoint ({size} bytes; {_first_line(exc)}){_others_hint(path)}"
        ) from None
    if not isinstance(state, dict) or "state_dict" not in state or "global_step" not in state:
        raise CheckpointError(f"{path}: not a simcse-pl training checkpoint (no state_dict / global_step)")
    return state



def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]



def _others_hint(path: str) -> str:
    """Other checkpoints beside ``path``, which a resume could use instead (none is deleted)."""
    others = sorted(p.name for p in Path(path).parent.glob("*.ckpt") if p.name != Path(path).name)
    if not others:
        return ""
    return f"; the other checkpoints are kept: resume from one with ckpt_path={Path(path).parent / others[-1]}"
