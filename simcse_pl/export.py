"""Save a trained encoder as a Hugging Face model directory that is also, when it can be, a sentence-transformers
model.

``AutoModel.from_pretrained(dir)`` loads the backbone (with LoRA: the adapters merged into its weights; a
bidirectional decoder keeps ``is_causal: false`` in config.json, which transformers honours); ``AutoTokenizer``
its tokenizer as trained (a decoder's appends EOS, pads on the trained side). ``simcse_pl.json`` records the pooler
by name, its prompt template and whether its MLP head is used at inference (the head's weights:
``pooler.safetensors``); ``SimCSE.from_pretrained(dir)`` rebuilds exactly the training model's eval-mode vectors.

``SentenceTransformer(dir)``: written when the pooler has a sentence-transformers equivalent (its class says which:
``Pooling`` mean / cls / lasttoken, plus a tanh ``Dense`` layer for a kept [CLS] head) and the prompt, if any, is a
prefix that tokenizes the same joined to the sentence (a sentence-transformers ``prompts`` entry, the default);
otherwise the folder is Hugging Face + simcse_pl.json only, and ``simcse_pl.json``'s ``sentence_transformers`` says
why (also logged). With LoRA, ``adapter/`` holds the adapter alone (peft format: ``PeftModel.from_pretrained(base,
dir/adapter)``).

A model trained with ``loss=matryoshka`` (``export_model(..., objective=module.objective)``) also records the
sizes it was trained to be cut to: ``"matryoshka_dims"`` in ``simcse_pl.json`` (``SimCSE.trained_dims``), which
the model card shows with ``SentenceTransformer(dir, truncate_dim=k)``. The weights are the full model:
truncation happens at load time.

README.md is simcse-pl's model card (simcse_pl/model_card.py), written in place of sentence-transformers' own,
which knows neither the pooler's transformers code nor the run: here it describes the model alone, and
``train.py`` / ``simcse-export`` rewrite it with the run's data, objective and results.

The folder is written whole or not at all (``staged_folder``): into a new sibling, ``.<name>.partial-...``, which
replaces ``out_dir`` only once complete (an earlier export is renamed aside, then deleted), so a stop signal, a
full or read-only disk never leaves a half-written ``model/`` (which would load with the default pooler) nor
mixes a new export with an old one's files (its ``onnx/``). A write that fails is one line, ``ExportError``.
"""

from __future__ import annotations

import errno
import glob
import json
import logging
import os
import re
import secrets
import shutil
import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import save_file
from torch import nn
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from simcse_pl.lora import is_peft, save_merged
from simcse_pl.poolers import NotExportable, Pooler

log = logging.getLogger(__name__)

CONFIG_NAME = "simcse_pl.json"
POOLER_WEIGHTS = "pooler.safetensors"
# stop signals held back while an old export is swapped for the new one (two renames)
HELD_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGQUIT")
                     if hasattr(signal, name))


class ExportError(ValueError):
    """The export could not be written (a read-only or full disk, a folder that is not an export); one line naming
    the folder. Nothing was changed there."""


def export_model(
    encoder: nn.Module,
    pooler: Pooler,
    tokenizer: PreTrainedTokenizerBase,
    out_dir: str,
    max_len: int | None = None,
    objective: nn.Module | None = None,
    adapter: bool = True,
) -> str:
    """Write ``out_dir`` whole (``staged_folder``: an earlier export there is replaced only by a complete one);
    ``objective`` (the module's) tells which truncated sizes the model was trained for; ``adapter``: with LoRA,
    also write the adapter alone (``adapter/``)."""
    with staged_folder(out_dir) as stage:
        write_model(encoder, pooler, tokenizer, str(stage), max_len, objective, adapter, shown_as=str(out_dir))
    return out_dir


def write_model(
    encoder: nn.Module,
    pooler: Pooler,
    tokenizer: PreTrainedTokenizerBase,
    out_dir: str,
    max_len: int | None = None,
    objective: nn.Module | None = None,
    adapter: bool = True,
    shown_as: str | None = None,
) -> str:
    """The export's files in the existing folder ``out_dir`` (a stage: ``export_model`` is the one to call);
    ``shown_as``: the folder's name in messages (the final one, not the stage's)."""
    dims = trained_dims(objective)
    if is_peft(encoder):
        save_merged(encoder, out_dir, adapter=adapter)
    else:
        encoder.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    prompt = getattr(pooler, "prompt", None)
    config: dict[str, Any] = {"pooler": pooler.kind, "mlp": pooler.uses_mlp_at_inference}
    if prompt is not None:
        config["prompt"] = prompt.config()
    if dims:
        config["matryoshka_dims"] = dims
    if pooler.uses_mlp_at_inference:
        assert pooler.mlp is not None
        save_file({k: v.detach().cpu().contiguous() for k, v in pooler.mlp.state_dict().items()},
                  os.path.join(out_dir, POOLER_WEIGHTS))
    try:
        modules = pooler.sentence_transformers(int(encoder.config.hidden_size))
        prefix = prompt.sentence_transformers_prompt(tokenizer) if prompt is not None else None
    except NotExportable as exc:
        config["sentence_transformers"] = f"not written: {exc}"
        log.warning("%s: exported in Hugging Face format only (load it with SimCSE.from_pretrained): %s",
                    shown_as or out_dir, exc)
    else:
        _save_sentence_transformers(modules, prefix, out_dir, max_len)
    with open(os.path.join(out_dir, CONFIG_NAME), "w") as f:
        json.dump(config, f, indent=2)
    from simcse_pl.model_card import write_card  # it reads this module's file names: imported here, not above

    write_card(out_dir)
    return out_dir


def is_export(folder: str | os.PathLike[str]) -> bool:
    """``folder`` is an earlier export of simcse-pl: it holds ``simcse_pl.json`` (its marker, written by every
    export after the weights and tokenizer) as a JSON object naming the pooler."""
    try:
        config = json.loads((Path(folder) / CONFIG_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and "pooler" in config


def check_output(out_dir: str | os.PathLike[str], overwrite: bool = False) -> None:
    """``out_dir`` may receive an export: it is missing, empty or an earlier export (``is_export``), or
    ``overwrite`` says its files may all be replaced; never a file. Why: ``--output .`` replaced a user's
    README.md and config.json."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out}: exists and is not a folder")
    if out.is_dir() and not overwrite and any(out.iterdir()) and not is_export(out):
        raise ExportError(
            f"{out}: a folder with other files, not an earlier export (no {CONFIG_NAME}); the export replaces the "
            "whole folder: choose an empty or new one, or pass --overwrite to replace it"
        )


@contextmanager
def staged_folder(out_dir: str | os.PathLike[str]) -> Iterator[Path]:
    """A new, empty sibling of ``out_dir`` to write into; when the block ends it replaces ``out_dir`` (``_swap``),
    and when it fails (an error, Ctrl-C) it is deleted and ``out_dir`` is left as it was. A failed write
    (``OSError``, safetensors' error: a full or read-only disk) comes out as one ``ExportError`` line."""
    out = Path(out_dir)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _clear_interrupted(out)
        stage = _sibling(out, "partial")
        stage.mkdir()
    except OSError as exc:
        raise write_error(exc, out) from None
    try:
        yield stage
        _swap(stage, out)
    except (OSError, SafetensorError) as exc:
        _remove(stage)
        raise write_error(exc, out) from None
    except BaseException:
        _remove(stage)
        raise


def write_error(exc: BaseException, out: Path) -> ExportError:
    """One line for a failed write: the folder, the system's reason (and the file when it is not in the stage)."""
    if isinstance(exc, OSError):
        reason = exc.strerror or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        name = str(exc.filename or "")
        if name and ".partial-" not in name:
            reason = f"{reason}: {name}"
    else:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return ExportError(f"{out}: cannot write the export ({reason}); nothing was written, {out} is as it was")


def _swap(stage: Path, out: Path) -> None:
    """``stage`` becomes ``out``: an old ``out`` is renamed aside, the stage renamed in its place, the old one then
    deleted. Stop signals wait for the two renames, so ``out`` is always the old folder or the new, whole one; a
    failed rename puts the old one back. Another process (a DDP rank) that swaps its own export in between is set
    aside in turn (retried): the folder ends whole, one process's export."""
    asides: list[Path] = []
    for attempt in range(5):
        with _signals_held():
            aside = _sibling(out, "old")
            try:
                os.replace(out, aside)
                asides.append(aside)
            except FileNotFoundError:
                pass
            try:
                os.replace(stage, out)
                break
            except OSError as exc:
                if exc.errno in (errno.ENOTEMPTY, errno.EEXIST) and attempt < 4:
                    continue
                if asides and not out.exists():
                    os.replace(asides.pop(), out)
                raise
    for aside in asides:
        _remove(aside)


def _sibling(out: Path, kind: str) -> Path:
    """A new name beside ``out`` for a stage (``partial``) or a set-aside export (``old``): ``STAGE_NAME``."""
    return out.with_name(f".{out.name}.{kind}-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}")


@contextmanager
def _signals_held() -> Iterator[None]:
    """Stop signals (``HELD_SIGNALS``) are delivered when the block ends, not in it."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, HELD_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


STAGE_NAME = re.compile(r"\.(?P<name>.+)\.(?P<kind>partial|old)-(?P<host>.+)-(?P<pid>\d+)-[0-9a-f]{8}")


def _clear_interrupted(out: Path) -> None:
    """What a killed export (SIGKILL, a power cut) of this machine left beside ``out``: its stage is deleted, and an
    old export renamed aside is put back when ``out`` is missing (killed between the two renames)."""
    host = socket.gethostname()
    for path in sorted(out.parent.glob(f".{glob.escape(out.name)}.*-*")):
        found = STAGE_NAME.fullmatch(path.name)
        if not found or found["name"] != out.name or found["host"] != host or _alive(int(found["pid"])):
            continue
        if found["kind"] == "old" and not out.exists():
            os.replace(path, out)
        else:
            _remove(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)


def trained_dims(objective: nn.Module | None) -> list[int] | None:
    """The sizes a Matryoshka objective (anywhere inside ``objective``) trained the vectors' prefixes for."""
    from simcse_pl.losses.matryoshka import Matryoshka

    found = next((m for m in (objective.modules() if objective is not None else []) if isinstance(m, Matryoshka)), None)
    return list(found.dims) if found is not None else None


def _save_sentence_transformers(pooling: list[nn.Module], prompt: str | None, out_dir: str, max_len: int | None) -> None:
    from sentence_transformers import SentenceTransformer, models

    transformer = models.Transformer(out_dir, max_seq_length=max_len)
    prompts = {"prompts": {"default": prompt}, "default_prompt_name": "default"} if prompt else {}
    model = SentenceTransformer(modules=[transformer, *pooling], device="cpu", **prompts)
    model.save(out_dir, create_model_card=False)  # the card is simcse-pl's (write_card)
