"""``simcse-eval MODEL --mteb TASK[,TASK]``: MTEB tasks through the ``mteb`` package (its tasks, its metrics).

The model is handed to ``mteb.evaluate`` behind mteb's encoder interface (``AbsEncoder``): sentences are encoded by
``SimCSE.encode`` (the project's pooler, ``--dim``, precision), similarity is cosine. Nothing of MTEB is
re-implemented here.

Data, offline: ``--mteb-data DIR`` reads each task from ``DIR/<task name>/``, a local dataset folder that
``datasets.load_dataset`` reads (for an STS task, e.g. ``test.jsonl`` with ``sentence1``, ``sentence2``, ``score``,
as the task's hub dataset has them); the task's metadata is pointed there instead of the hub. This suits
monolingual tasks (one subset); a multilingual task needs its hub dataset or the ``datasets`` cache. Without
``--mteb-data`` mteb loads the hub dataset, which works offline (``HF_DATASETS_OFFLINE=1``) from the ``datasets``
cache once it has been downloaded. Results are not cached by mteb (``cache=None``): the JSON of ``--output`` is
the record.

MTEB's STS numbers are not SentEval's: mteb scores each task's own split and subsets (STS12-16 from the
``mteb/*`` datasets, STS-B's test split from ``mteb/stsbenchmark-sts``) and reports Spearman ×1 (0-1) per split;
SimCSE's table pools STS12-16 subsets ("all") and is ×100. Compare MTEB numbers with MTEB numbers only.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from simcse_pl.errors import DataError

log = logging.getLogger(__name__)


def _encoder_class() -> type:
    from mteb.models.abs_encoder import AbsEncoder
    from mteb.models.model_meta import ModelMeta, ScoringFunction

    class SimCSEMTEBEncoder(AbsEncoder):
        """mteb's encoder interface over a ``SimCSE`` model (or anything with ``encode(sentences, batch_size)``)."""

        def __init__(self, model: Any, name: str, batch_size: int = 128) -> None:
            self.model = model
            self.batch_size = batch_size
            self.mteb_model_meta = ModelMeta.create_empty(
                {"name": f"simcse-pl/{os.path.basename(os.path.normpath(name)) or 'model'}", "revision": "local",
                 "similarity_fn_name": ScoringFunction.COSINE, "framework": ["PyTorch"]}
            )

        def encode(self, inputs: Any, *, task_metadata: Any, hf_split: str, hf_subset: str,
                   prompt_type: Any = None, **kwargs: Any) -> np.ndarray:
            texts = [text for batch in inputs for text in batch["text"]]
            vectors = self.model.encode(texts, batch_size=self.batch_size)
            vectors = vectors.numpy() if hasattr(vectors, "numpy") else np.asarray(vectors)
            return vectors.astype(np.float32)

    return SimCSEMTEBEncoder


def mteb_tasks(names: Sequence[str], data_dir: str | None = None) -> list[Any]:
    """The mteb task objects for ``names``, read from ``data_dir/<name>/`` when ``data_dir`` is given. Errors name
    the option (``--mteb``, ``--mteb-data``)."""
    try:
        import mteb
    except ImportError:
        raise DataError("--mteb needs the mteb package: pip install 'simcse-pl[mteb]' (or pip install mteb)") from None
    tasks = []
    for name in names:
        try:
            task = mteb.get_task(name)
        except (KeyError, ValueError) as exc:
            raise DataError(f"--mteb: {name!r} is not an MTEB task ({' '.join(str(exc).split())[:200]})") from None
        if data_dir is not None:
            folder = os.path.join(data_dir, name)
            if not os.path.isdir(folder):
                raise DataError(f"--mteb-data {data_dir}: no folder {name}/ holding the task's dataset files")
            if task.metadata.is_multilingual:
                raise DataError(f"--mteb-data: {name} has several subsets; a local folder serves one-subset tasks "
                                "(use the datasets cache for this one)")
            task.metadata = task.metadata.model_copy(update={"dataset": {"path": os.path.abspath(folder),
                                                                        "revision": "local"}})
        tasks.append(task)
    return tasks


def run_mteb(model: Any, tasks: Sequence[Any], model_name: str, data_dir: str | None = None,
             batch_size: int = 128) -> dict[str, Any]:
    """``{task: {"type", "main_score" (×100, mean over splits and subsets), "splits": {split: [scores per subset]}}}``
    from ``mteb.evaluate`` on ``tasks`` (from ``mteb_tasks``); the per-subset score dicts are mteb's own (0-1)."""
    import mteb

    names = [t.metadata.name for t in tasks]
    encoder = _encoder_class()(model, model_name, batch_size)
    for noisy in ("mteb", "datasets"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        result = mteb.evaluate(encoder, tasks, cache=None, show_progress_bar=False, overwrite_strategy="always",
                               encode_kwargs={"batch_size": batch_size})
    except (OSError, ValueError, ConnectionError) as exc:
        where = f" from --mteb-data {data_dir}" if data_dir else " (hub or datasets cache)"
        raise DataError(f"--mteb: cannot load or run {', '.join(names)}{where}: {' '.join(str(exc).split())[:300]}") from None
    record = {}
    for task_result in result.task_results:
        splits = {split: list(scores) for split, scores in task_result.scores.items()}
        mains = [s["main_score"] for scores in splits.values() for s in scores]
        record[task_result.task_name] = {
            "type": next(t.metadata.type for t in tasks if t.metadata.name == task_result.task_name),
            "main_score": 100 * float(np.mean(mains)),
            "splits": splits,
        }
    return record


def format_mteb(record: dict[str, Any]) -> str:
    lines = ["| MTEB task | type | main score (×100) |", "|---|---|---|"]
    lines += [f"| {name} | {r['type']} | {r['main_score']:.2f} |" for name, r in record.items()]
    return "\n".join(lines)
