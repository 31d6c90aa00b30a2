"""The Chinese STS suite by name: ``atec``, ``bq``, ``lcqmc``, ``pawsx``, ``stsb_zh``, ``sohu_dd``, ``sohu_dc``.

Read from ``<data root>/chinese/`` in the layouts the sets are distributed in (nothing is bundled: most of them
are for research use only, see the README):

- text2vec / ``shibing624/nli_zh`` (``senteval_cn``): ``chinese/<SET>/<SET>.{train,valid,test}.data``, one
  ``sentence1<TAB>sentence2<TAB>label`` per line, no header (``<SET>``: ATEC, BQ, LCQMC, PAWSX, STS-B);
- C-MTEB on the Hugging Face hub (what ``scripts/download_data.py --chinese`` fetches):
  ``chinese/C-MTEB/<SET>/data/{train,validation,test}-*.parquet`` with ``sentence1``, ``sentence2``, ``score``
  (``<SET>``: ATEC, BQ, LCQMC, PAWSX, STSB);
- SOHU 2021 (text2vec's test sets, not on the hub in this form): ``chinese/SOHU/dd-test.jsonl`` and
  ``chinese/SOHU/dc-test.jsonl``, one ``{"sentence1", "sentence2", "label"}`` object per line. Test only.

When both the text2vec and the C-MTEB copy of a set are there, the text2vec file is read. ``dev`` is the
``valid`` / ``validation`` split. Scores are the sets' own labels (0/1 for ATEC, BQ, LCQMC, PAWSX; 0-5 for STS-B;
0/3/5 for SOHU); the task's metric is Spearman of cosine vs those labels, as in the Chinese STS literature.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from simcse_pl.evaluation.base import DATA_KEY
from simcse_pl.data.downloads import point_at_root
from simcse_pl.errors import DataError

if TYPE_CHECKING:
    from simcse_pl.evaluation.sts import STSTask


@dataclass(frozen=True)
class ChineseSet:
    text2vec: str | None  # folder and file prefix in text2vec's layout (``STS-B`` -> STS-B/STS-B.test.data)
    cmteb: str | None  # dataset name under C-MTEB/ (``STSB``)
    sohu: str | None = None  # file prefix under SOHU/ (``dd`` -> SOHU/dd-test.jsonl)


CHINESE_TASKS = {
    "atec": ChineseSet("ATEC", "ATEC"),
    "bq": ChineseSet("BQ", "BQ"),
    "lcqmc": ChineseSet("LCQMC", "LCQMC"),
    "pawsx": ChineseSet("PAWSX", "PAWSX"),
    "stsb_zh": ChineseSet("STS-B", "STSB"),
    "sohu_dd": ChineseSet(None, None, "dd"),
    "sohu_dc": ChineseSet(None, None, "dc"),
}
CMTEB_SETS = [s.cmteb for s in CHINESE_TASKS.values() if s.cmteb]
FOLDER = "chinese"
TEXT2VEC_SPLITS = {"train": "train", "dev": "valid", "test": "test"}
CMTEB_SPLITS = {"train": "train", "dev": "validation", "test": "test"}
DOWNLOAD = "`make data DATA_ARGS=--chinese` (python scripts/download_data.py --data-dir {root} --chinese)"
SOHU_SOURCE = "text2vec's examples/data/SOHU/ (github.com/shibing624/text2vec)"


def load_chinese(name: str, data_dir: str, split: str = "test", key: str = DATA_KEY) -> STSTask:
    """One set of the Chinese suite from ``<data_dir>/chinese/``, in whichever distributed layout is there."""
    spec = CHINESE_TASKS[name]
    root = os.path.join(data_dir, FOLDER)
    if split not in TEXT2VEC_SPLITS:
        raise DataError(f"{name}: no {split!r} split (known: {', '.join(TEXT2VEC_SPLITS)})")
    if spec.sohu is not None:
        if split != "test":
            raise DataError(f"{name}: SOHU's sets are test sets only, there is no {split!r} split")
        path = os.path.join(root, "SOHU", f"{spec.sohu}-test.jsonl")
        if not os.path.exists(path):
            raise DataError(
                f"{path}: no such file ({key}). The SOHU test sets are not on the Hugging Face hub: copy "
                f"{SOHU_SOURCE} there, or run python scripts/download_data.py --data-dir {data_dir} --chinese "
                f"--from DIR with DIR holding SOHU/{spec.sohu}-test.jsonl"
            )
        return _from_pair_file(name, path, key)
    text2vec = os.path.join(root, spec.text2vec, f"{spec.text2vec}.{TEXT2VEC_SPLITS[split]}.data")
    if os.path.exists(text2vec):
        return _from_pair_file(name, text2vec, key)
    pattern = os.path.join(root, "C-MTEB", spec.cmteb, "data", f"{CMTEB_SPLITS[split]}-*.parquet")
    files = sorted(glob.glob(pattern))
    if files:
        return _from_parquet(name, files)
    raise DataError(
        f"{name} ({split}): neither {text2vec} (text2vec / shibing624/nli_zh layout) nor {pattern} (C-MTEB) "
        f"exists ({key}). {point_at_root(key, data_dir)}, or run {DOWNLOAD.format(root=data_dir)} to download it"
    )


def _from_pair_file(name: str, path: str, key: str) -> STSTask:
    from simcse_pl.evaluation.sts import load_pair_file

    return load_pair_file(path, key, name=name)


def _from_parquet(name: str, files: list[str]) -> STSTask:
    """C-MTEB's parquet files: ``sentence1``, ``sentence2``, ``score``; a bad row is named ``file row N``."""
    import pyarrow.parquet as pq  # a dependency of datasets

    from simcse_pl.data.pair_files import parse_score

    pairs: list[tuple[str, str]] = []
    scores: list[float] = []
    for path in files:
        table = pq.read_table(path)
        missing = [c for c in ("sentence1", "sentence2", "score") if c not in table.column_names]
        if missing:
            raise DataError(f"{path}: no column {', '.join(missing)} (has {', '.join(table.column_names)})")
        columns = table.select(["sentence1", "sentence2", "score"]).to_pydict()
        for row, (a, b, score) in enumerate(zip(columns["sentence1"], columns["sentence2"], columns["score"],
                                                strict=True)):
            where = f"{path} row {row}"
            if not isinstance(a, str) or not isinstance(b, str) or not a.strip() or not b.strip():
                raise DataError(f"{where}: empty or missing sentence1/sentence2")
            pairs.append((a.strip(), b.strip()))
            scores.append(parse_score(score, where))
    if not pairs:
        raise DataError(f"{', '.join(files)}: no sentence pairs")
    from simcse_pl.evaluation.sts import STSTask, check_gold_varies  # torch: only once a set is loaded

    check_gold_varies(scores, ", ".join(files))

    return STSTask(name, pairs, np.asarray(scores, dtype=float))
