"""The model card (README.md) of an export: the Hugging Face hub's metadata, what the model is, how it was made,
how well it did, and how to load it.

Everything on the card is read from files, never guessed: the export's own (``simcse_pl.json``, ``config.json``,
the sentence-transformers files) and, for a model from a run, the run's (``run_info.json``: the resolved config
and library versions; ``results.json``: the evaluation, copied as it is). What they do not say is left out: no
license or language, and a base model or dataset in the metadata only when it is a hub id.

huggingface_hub does the formatting: ``ModelCardData`` writes the YAML front matter (library, base model,
pipeline tag, tags, datasets, metrics, and the scores as ``model-index``, in the form sentence-transformers'
cards use: ``spearman_cosine`` ...) and ``ModelCard.from_template`` the page. ``export_model`` writes the card of
the model alone; ``train.py`` and ``simcse-export`` rewrite it with the run once ``results.json`` exists.

A score is named after what its task really is, never after a file's name: a built-in task (``stsb`` in the run's
``data.val_tasks`` / ``data.test_tasks``, read from the data root's official files, or a known hub copy of it) gets
its public title (STS-B) and a ``model-index`` entry; any other task (a user's pair file, even one called
``stsb.tsv``, a BEIR folder, a hub dataset) is named by its file or folder name, in the table only: the metadata
never claims a public dataset for it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData
from huggingface_hub.utils import HFValidationError, validate_repo_id

from simcse_pl.evaluation.base import ALIGN_UNIFORM, METRICS, PAPER_COLUMNS, TITLES, unflatten
from simcse_pl.evaluation.registry import TASKS
from simcse_pl.evaluation.sts import HUB_TASKS, pair_file_name
from simcse_pl.export.layout import CONFIG_NAME, ST_MODULES, is_st_refusal
from simcse_pl.encoders.lora import ADAPTER_DIR
from simcse_pl.encoders.poolers import POOLERS
from simcse_pl.export.layout import CARD_NAME

# sentence-transformers' placeholder for a model not on the hub yet; --push-to-hub writes the repo id instead
MODEL_ID_PLACEHOLDER = "sentence_transformers_model_id"
EXAMPLES = ["A man is playing a guitar.", "Someone is playing music.", "The cat sleeps on the sofa."]
TEMPLATE = "---\n{{ card_data }}\n---\n\n{{ body }}\n"

# results.json's sections that describe the exported weights, with their split as the hub names it
EXPORTED_SPLITS = {"test": "test", "best": "validation"}
# the run setting that lists the tasks of each results.json section
SECTION_TASKS = {"test": "data.test_tasks", "best": "data.val_tasks", "before": "data.val_tasks"}
# simcse-pl's metric names as sentence-transformers' evaluators call them on their cards
METRIC_TYPES = {
    "spearman": "spearman_cosine", "pearson": "pearson_cosine", "ndcg_at_10": "cosine_ndcg@10",
    "mrr_at_10": "cosine_mrr@10", "recall_at_100": "cosine_recall@100", "v_measure": "v_measure",
}
TASK_TYPES = {
    "sts": ("Semantic Similarity", "semantic-similarity"),
    "retrieval": ("Information Retrieval", "information-retrieval"),
    "clustering": ("Clustering", "clustering"),
}
# the run settings the card lists besides the objective (those the run has)
HYPERPARAMETERS = (
    "data.batch_size", "data.max_len", "data.max_samples", "optim.lr", "optim.weight_decay", "optim.warmup_ratio",
    "trainer.max_steps", "trainer.max_epochs", "trainer.devices", "trainer.accumulate_grad_batches",
    "trainer.precision", "step.mini_batch_size", "seed",
)
STREAMED_SOURCES = ("HFText", "HFNLI")  # data.source classes that read a Hugging Face dataset

SIMCSE_CITATION = """@inproceedings{gao2021simcse,
    title = {{SimCSE}: Simple Contrastive Learning of Sentence Embeddings},
    author = {Gao, Tianyu and Yao, Xingcheng and Chen, Danqi},
    booktitle = {Empirical Methods in Natural Language Processing (EMNLP)},
    year = {2021}
}"""
MATRYOSHKA_CITATION = """@inproceedings{kusupati2022matryoshka,
    title = {Matryoshka Representation Learning},
    author = {Kusupati, Aditya and Bhatt, Gantavya and Rege, Aniket and Wallingford, Matthew and Sinha, Aditya and
              Ramanujan, Vivek and Howard-Snyder, William and Chen, Kaifeng and Kakade, Sham and Jain, Prateek and
              Farhadi, Ali},
    booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
    year = {2022}
}"""


@dataclass(frozen=True)
class ExportFacts:
    """What an export folder says about its model."""

    pooler: str
    head: bool  # SimCSE's MLP head applies at inference (pooler.safetensors)
    prompt: str | None  # the prompt template
    dims: list[int] | None  # the Matryoshka sizes it was trained for
    dimension: int
    model_type: str
    not_sentence_transformers: str | None  # why the folder is no sentence-transformers model; None when it is one
    max_seq_length: int | None
    adapter: bool  # LoRA: the adapters alone in adapter/

    @classmethod
    def read(cls, folder: Path) -> ExportFacts:
        own, config = _json(folder / CONFIG_NAME), _json(folder / "config.json")
        modules = _json_list(folder / ST_MODULES)
        sentence_transformers = (folder / ST_MODULES).is_file() and not is_st_refusal(modules)
        dims = own.get("matryoshka_dims")
        max_seq_length = _json(folder / "sentence_bert_config.json").get("max_seq_length")
        prompt = (own.get("prompt") or {}).get("template")
        return cls(
            pooler=str(own.get("pooler", "unknown")),
            head=bool(own.get("mlp")),
            prompt=None if prompt is None else str(prompt),
            # sizes go into the usage code: whole numbers only, never text from the file
            dims=dims if isinstance(dims, list) and dims and all(_is_int(d) for d in dims) else None,
            dimension=int(config.get("hidden_size", 0)),
            model_type=str(config.get("model_type", "unknown")),
            not_sentence_transformers=None if sentence_transformers else str(
                own.get("sentence_transformers", "not written")),
            max_seq_length=max_seq_length if _is_int(max_seq_length) else None,
            adapter=(folder / ADAPTER_DIR).is_dir(),
        )


@dataclass(frozen=True)
class RunFacts:
    """How the model was made: the run's resolved config, its ``results.json`` and the library versions it ran
    with; empty where unknown (an export outside a run, a checkpoint without its run folder)."""

    config: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, run_dir: str | os.PathLike[str]) -> RunFacts:
        info = _json(Path(run_dir) / "run_info.json")
        return cls(info.get("config") or {}, _json(Path(run_dir) / "results.json"), info.get("versions") or {})

    def get(self, dotted: str) -> Any:
        """``config["a"]["b"]`` for ``"a.b"``; None when any part is missing."""
        node: Any = self.config
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return node


def write_card(model_dir: str | os.PathLike[str], run: RunFacts | None = None, model_id: str | None = None) -> Path:
    """(Re)write ``model_dir/README.md``; ``model_id``: the hub repo the model goes to (its usage snippets load
    that id)."""
    path = Path(model_dir) / CARD_NAME
    build_card(ExportFacts.read(Path(model_dir)), run or RunFacts(), model_id).save(path)
    return path


def build_card(export: ExportFacts, run: RunFacts, model_id: str | None = None) -> ModelCard:
    """The card: sections in sentence-transformers' order, each left out when the files say nothing for it."""
    title = _one_line(model_id or _default_title(run))
    body = "\n\n".join(s for s in (
        f"# {_text(title)}", _summary(export, run), _details(export, run), _matryoshka(export, model_id),
        _usage(export, model_id), _evaluation(run), _training(run), _citation(export),
    ) if s)
    return ModelCard.from_template(card_data(export, run, title), template_str=TEMPLATE, body=body)


def card_data(export: ExportFacts, run: RunFacts, title: str) -> ModelCardData:
    """The front matter. A sentence-transformers folder is tagged as sentence-transformers tags its models (the
    hub then offers its widget and code); otherwise it is a transformers feature extractor."""
    scores = eval_results(run)
    st = export.not_sentence_transformers is None
    tags = ["sentence-transformers", "sentence-similarity", "feature-extraction", "dense"] if st else [
        "feature-extraction", "sentence-similarity"]
    tags += ["simcse", "simcse-pl", *(f"loss:{name}" for name in objective_names(run))]
    tags += ["matryoshka"] if export.dims else []
    tags += ["lora"] if export.adapter else []
    return ModelCardData(
        library_name="sentence-transformers" if st else "transformers",
        pipeline_tag="sentence-similarity" if st else "feature-extraction",
        base_model=hub_base_model(run),
        datasets=training_datasets(run) or None,
        tags=tags,
        metrics=sorted({r.metric_type for r in scores}) or None,
        model_name=title if scores else None,
        eval_results=scores or None,
    )


def eval_results(run: RunFacts) -> list[EvalResult]:
    """The exported weights' scores (test, and dev at the selected step) as ``model-index`` entries: the values of
    ``results.json`` (×100, as the paper's tables and the card's own table show them) divided by 100, because hub
    cards (sentence-transformers' among them) write correlations and rates as 0–1 there (rounded to 10 places, so
    90.1 is 0.901, not 0.9009999999999999). The average over tasks is no dataset, and alignment / uniformity are
    analysis statistics, not scores: the table shows them, the metadata does not. Only built-in tasks are entries:
    any other task is the user's own data, which the metadata must not pass off as a public dataset."""
    entries = []
    for section, split in EXPORTED_SPLITS.items():
        official = official_tasks(section_tasks(run, section))
        for task, metrics in unflatten(run.results.get(section) or {}).items():
            if task not in official:
                continue
            for metric, value in metrics.items():
                if metric not in METRIC_TYPES:
                    continue
                task_name, task_type = TASK_TYPES[_kind(metric)]
                entries.append(EvalResult(
                    task_type=task_type, task_name=task_name, dataset_type=task, dataset_name=TITLES.get(task, task),
                    dataset_split=split, metric_type=METRIC_TYPES[metric],
                    metric_name=METRIC_TYPES[metric].replace("_", " ").title(), metric_value=round(value / 100, 10),
                ))
    return entries


def evaluation_table(run: RunFacts) -> str | None:
    """Markdown table of ``results.json``: one row per split and metric, one column per task (titled by
    ``task_titles``), values rounded to 2 decimals (4 for alignment / uniformity, which are not ×100)."""
    results = run.results
    sections = [(label, unflatten(results.get(key) or {})) for key, label in _row_labels(results)]
    sections = [(label, by_task) for label, by_task in sections if by_task]
    if not sections:
        return None
    titles = task_titles(run)
    tasks = _task_order({task for _, by_task in sections for task in by_task}, set(titles.official))
    lines = ["| split | metric | " + " | ".join(titles.of(t) for t in tasks) + " |",
             "|" + "---|" * (len(tasks) + 2)]
    for label, by_task in sections:
        metrics = list(dict.fromkeys(m for t in tasks for m in by_task.get(t, {})))
        for metric in metrics:
            cells = [_format(metric, by_task.get(t, {}).get(metric)) for t in tasks]
            lines.append(f"| {label} | {metric} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def section_tasks(run: RunFacts, section: str) -> list[str]:
    """The task list, as written in the run's config, behind a ``results.json`` section (empty when unknown)."""
    given = run.get(SECTION_TASKS[section])
    return [str(t) for t in given] if isinstance(given, list) else []


def official_tasks(given: list[str]) -> set[str]:
    """The task names among ``given`` that ``load_task`` resolves to a built-in task: a registered name (read from
    the data root's official files) or a known hub copy of one. A file's name never counts, whatever it is."""
    names = {g.lower() for g in given if g.lower() in TASKS}
    return names | {HUB_TASKS[g][0] for g in given if g in HUB_TASKS}


def source_name(task: str, given: list[str]) -> str:
    """The file or folder name a user's task ``task`` was read from (the names ``load_task`` derives from it);
    the task key itself when no entry of ``given`` is its source."""
    for entry in given:
        if entry.lower() in TASKS or entry in HUB_TASKS:
            continue
        path = entry.removeprefix("clustering:")
        base = os.path.basename(os.path.normpath(path))
        if task in {pair_file_name(path), base, os.path.splitext(base)[0], base.split(".clusters.")[0]}:
            return base
    return task


@dataclass(frozen=True)
class TaskTitles:
    """What the card calls each task of ``results.json``: ``official`` the built-in ones (their public title),
    ``named`` the others (their file or folder name)."""

    official: frozenset[str]
    named: dict[str, str]

    def of(self, task: str) -> str:
        if task == "avg":
            return "Avg."
        if task in self.official:
            return TITLES.get(task, task)
        return _text(self.named.get(task, task))


def task_titles(run: RunFacts) -> TaskTitles:
    """A task is official when every section that scored it was given its built-in name; a task key that a user's
    file produced in any section is named by that file (one column cannot be both)."""
    official: set[str] = set()
    named: dict[str, str] = {}
    for section in SECTION_TASKS:
        given = section_tasks(run, section)
        built_in = official_tasks(given)
        for task in unflatten(run.results.get(section) or {}):
            if task in built_in:
                official.add(task)
            elif task != "avg":
                named.setdefault(task, source_name(task, given))
    return TaskTitles(frozenset(official - set(named)), named)


def objective_names(run: RunFacts) -> list[str]:
    """Class names of the objective, the objectives inside it and the auxiliary ones, outermost first."""
    nodes = [run.get("loss"), *(run.get("auxiliary") or {}).values()]
    return list(dict.fromkeys(_class_name(node) for node in config_targets(nodes)))


def hub_base_model(run: RunFacts) -> str | None:
    """``model.name_or_path`` when it is a hub id; a local folder or a random init has no hub model to point to."""
    name = run.get("model.name_or_path")
    return name if isinstance(name, str) and _hub_id(name) else None


def training_datasets(run: RunFacts) -> list[str]:
    """The training data's hub dataset id, when the source streams one (``data=hf_text`` / ``hf_nli``); a builder
    name for local files (``text``, ``csv``) has no owner, hence no ``/``, and is none."""
    source = run.get("data.source") or {}
    path = source.get("path")
    streamed = _class_name(source) in STREAMED_SOURCES
    return [path] if streamed and isinstance(path, str) and "/" in path and _hub_id(path) else []


# --- sections


def _default_title(run: RunFacts) -> str:
    objective = next(iter(objective_names(run)), None)
    base = hub_base_model(run)
    return "simcse-pl " + (f"{objective} " if objective else "") + "sentence encoder" + (f" based on {base}" if base else "")


def _summary(export: ExportFacts, run: RunFacts) -> str:
    base, objective = hub_base_model(run), next(iter(objective_names(run)), None)
    data, size = _data_source(run), _data_size(run)
    made = "A sentence encoder trained with simcse-pl (SimCSE on PyTorch Lightning)"
    made += f" from [{base}](https://huggingface.co/{base})" if base else ""
    made += f" with the {_inline(objective)} objective" if objective else ""
    made += (f" on {data}" + (f" ({size})" if size else "")) if data else ""
    return (f"{made}. It maps sentences to {export.dimension}-dimensional vectors compared by cosine similarity: "
            "semantic textual similarity, semantic search, clustering.")


def _details(export: ExportFacts, run: RunFacts) -> str:
    lines = ["## Model Details", ""]
    base = _base_model_line(run, export)
    lines += [f"- **Base model:** {base}"] if base else []
    head = " + SimCSE's MLP head (linear + tanh, `pooler.safetensors`)" if export.head else ""
    lines.append(f"- **Pooling:** {_inline(export.pooler)}{head}")
    lines += [f"- **Prompt template:** {_inline(export.prompt)}"] if export.prompt else []
    lines += [f"- **Maximum Sequence Length:** {export.max_seq_length} tokens"] if export.max_seq_length else []
    lines.append(f"- **Output Dimensionality:** {export.dimension} dimensions")
    if export.dims:
        lines.append(f"- **Matryoshka Dimensions:** {', '.join(map(str, export.dims))} (load with `truncate_dim=k`)")
    lines.append("- **Similarity Function:** Cosine Similarity")
    if export.adapter:
        lines.append(f"- **LoRA:** the adapters are merged into these weights; `{ADAPTER_DIR}/` holds them alone (peft)")
    formats = "Hugging Face `AutoModel`, simcse-pl (`simcse_pl.json`)"
    if export.not_sentence_transformers is None:
        lines.append(f"- **Formats:** {formats}, sentence-transformers")
    else:
        why = _text(export.not_sentence_transformers)
        lines.append(f"- **Formats:** {formats}; no sentence-transformers files ({why})")
    return "\n".join(lines)


def _base_model_line(run: RunFacts, export: ExportFacts) -> str | None:
    name = run.get("model.name_or_path")
    if hub_base_model(run):
        return f"[{name}](https://huggingface.co/{name})"
    if isinstance(name, str):
        return f"the local model {_inline(os.path.basename(os.path.normpath(name)))}"
    if run.get("model.random_init"):
        return f"none: a randomly initialised {_inline(export.model_type)} (`model.random_init`)"
    return None


def _matryoshka(export: ExportFacts, model_id: str | None) -> str | None:
    """How to load the model cut to one of its trained sizes (the weights are the full model: the cut is at load)."""
    if not export.dims:
        return None
    k, repo = export.dims[-1], model_id or MODEL_ID_PLACEHOLDER
    st = (
        "```python\nfrom sentence_transformers import SentenceTransformer\n\n"
        f'model = SentenceTransformer("{repo}", truncate_dim={k})\n```\n\n'
    ) if export.not_sentence_transformers is None else ""
    return (
        "### Matryoshka dimensions\n\n"
        f"Trained with a Matryoshka objective (Kusupati et al. 2022) at {', '.join(map(str, export.dims))} "
        "dimensions: the first k coordinates of each vector are an embedding of their own. Load it cut to one of "
        f"those sizes:\n\n{st}"
        f'simcse-pl: `SimCSE.from_pretrained("{repo}").encode(sentences, truncate_dim={k})`, '
        f"`simcse-eval {repo} --dim {k}`."
    )


def _usage(export: ExportFacts, model_id: str | None) -> str:
    repo = model_id or MODEL_ID_PLACEHOLDER
    sentences = f"sentences = {json.dumps(EXAMPLES)}"
    if export.not_sentence_transformers is None:
        st = _code(
            "from sentence_transformers import SentenceTransformer", "",
            f'model = SentenceTransformer("{repo}")', sentences, "embeddings = model.encode(sentences)",
            f"print(embeddings.shape)  # (3, {export.dimension})", "print(model.similarity(embeddings, embeddings))",
        )
    else:
        st = f"Not a sentence-transformers model: {_text(export.not_sentence_transformers)}."
    return "\n\n".join([
        "## Usage", "### Sentence Transformers", st, "### Transformers", _transformers_usage(export, repo, sentences),
        "### simcse-pl", _code(
            "from simcse_pl.inference import SimCSE", "", f'model = SimCSE.from_pretrained("{repo}")', sentences,
            "embeddings = model.encode(sentences)", "print(model.similarity(sentences[0], sentences[1]))",
        ),
    ])


def _transformers_usage(export: ExportFacts, repo: str, sentences: str) -> str:
    """``AutoModel`` and the pooler's own lines (``Pooler.transformers_code``); a prompt template or a pooler
    plain transformers cannot reproduce sends the reader to sentence-transformers or simcse-pl."""
    pooler = POOLERS.get(export.pooler)
    pooling = pooler.transformers_code(export.head) if pooler is not None and not export.prompt else None
    if pooling is None:
        why = (f"the prompt template {_inline(export.prompt)}" if export.prompt
               else f"the {_inline(export.pooler)} pooler")
        instead = "sentence-transformers or simcse-pl" if export.not_sentence_transformers is None else "simcse-pl"
        return f"With {why}, plain transformers does not give this model's vectors: use {instead}."
    hidden = ", output_hidden_states=True" if pooler is not None and pooler.needs_hidden_states else ""
    return _code(
        "import torch", "from transformers import AutoModel, AutoTokenizer", "", f'model_id = "{repo}"',
        "tokenizer = AutoTokenizer.from_pretrained(model_id)", "model = AutoModel.from_pretrained(model_id).eval()",
        sentences, 'batch = tokenizer(sentences, padding=True, truncation=True, return_tensors="pt")',
        "with torch.no_grad():", f"    outputs = model(**batch{hidden})", pooling,
    )


def _training(run: RunFacts) -> str | None:
    """The run's objective, data, settings and library versions; a subsection with nothing to say is left out."""
    objective = _objective_lines(run.get("loss"), "Objective")
    for name, node in (run.get("auxiliary") or {}).items():
        objective += _objective_lines(node, f"Auxiliary {_inline(name)}")
    data, size = _data_source(run), _data_size(run)
    subsections = {
        "Objective": objective,
        "Training Data": [f"- {data}, read by {_inline(_class_name(run.get('data.source')))}"
                          + (f": {size}" if size else "")]
        if data else [],
        "Training Hyperparameters": _hyperparameter_lines(run),
        "Framework Versions": [f"- {_text(name)}: {_text(version)}" for name, version in run.versions.items()],
    }
    parts = [f"### {title}\n\n" + "\n".join(lines) for title, lines in subsections.items() if lines]
    return "\n\n".join(["## Training Details", *parts]) if parts else None


def _hyperparameter_lines(run: RunFacts) -> list[str]:
    steps = (run.results.get("final") or {}).get("step")
    lines = [f"- steps trained: {_text(steps)}"] if steps is not None else []
    lines += [f"- `{key}`: {_text(run.get(key))}" for key in HYPERPARAMETERS if run.get(key) is not None]
    if run.get("model.lora.r"):  # LoRA is on
        lines.append(f"- `model.lora`: {_text(run.get('model.lora'))}")
    best, metric = run.results.get("best") or {}, run.results.get("metric")
    if best.get("step") is not None and metric:
        lines.append(f"- exported weights: those best on {_inline(metric)} (step {_text(best['step'])})")
    return lines


def _objective_lines(node: Any, label: str, indent: str = "") -> list[str]:
    """``- **label:** `Class` (`module.Class`): `key`=value, ...``, then the objectives inside it, indented."""
    if not isinstance(node, dict) or "_target_" not in node:
        return []
    params = {k: v for k, v in node.items() if not k.startswith("_") and not _is_target(v)}
    settings = ": " + ", ".join(f"{_inline(k)}={_text(v)}" for k, v in params.items()) if params else ""
    lines = [f"{indent}- **{label}:** {_inline(_class_name(node))} ({_inline(node['_target_'])}){settings}"]
    for key, value in node.items():
        if _is_target(value):
            lines += _objective_lines(value, _text(key), indent + "  ")
    return lines


def _data_source(run: RunFacts) -> str | None:
    """The training source as configured: a local file relative to the data root, a hub id as it is."""
    source = run.get("data.source")
    if not isinstance(source, dict) or not source.get("path"):
        return None
    path, root = str(source["path"]), run.get("paths.data_dir")
    if _class_name(source) not in STREAMED_SOURCES:
        inside = isinstance(root, str) and os.path.abspath(path).startswith(os.path.abspath(root) + os.sep)
        path = os.path.relpath(path, root) if inside else os.path.basename(path)
    files = source.get("data_files")
    files = [files] if isinstance(files, str) else files or []
    listed = ", ".join(_inline(os.path.basename(str(f))) for f in files)
    return _inline(path) + (f" ({listed})" if files else "")


def _data_size(run: RunFacts) -> str | None:
    """The examples the run read (``results.json``; a streamed source has no count)."""
    examples = run.results.get("train_examples")
    return f"{examples:,} examples" if isinstance(examples, int) else None


def _evaluation(run: RunFacts) -> str | None:
    table = evaluation_table(run)
    if table is None:
        return None
    return (
        "## Evaluation\n\n"
        "simcse-pl's evaluation in SimCSE's protocol (STS: Spearman and Pearson correlation ×100 between the cosine "
        "similarity of the two sentences' vectors and the gold scores). From the run's `results.json`: `test` and "
        "`dev` score the exported weights, `dev, untrained` the base model before training. Rounded here; the "
        "metadata (`model-index`) holds the exact values.\n\n" + table
    )


def _citation(export: ExportFacts) -> str:
    citations = [SIMCSE_CITATION, *([MATRYOSHKA_CITATION] if export.dims else [])]
    return "## Citation\n\n" + "\n\n".join(f"```bibtex\n{c}\n```" for c in citations)


# --- helpers


def _row_labels(results: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(results.json section, row label) of the table, the exported weights first."""
    yield "test", "test"
    step = (results.get("best") or {}).get("step")
    yield "best", f"dev (step {_text(step)})" if step is not None else "dev"
    yield "before", "dev, untrained"


def _task_order(tasks: set[str], official: set[str]) -> list[str]:
    """The paper's columns in its order (built-in tasks only), then other tasks by name, the average last."""
    paper = [t for t in PAPER_COLUMNS if t in tasks and t in official]
    return paper + sorted(tasks - set(paper) - {"avg"}) + (["avg"] if "avg" in tasks else [])


def _format(metric: str, value: Any) -> str:
    if value is None:
        return "–"
    if not isinstance(value, int | float) or isinstance(value, bool):  # not a score: shown as the text it is
        return _text(value)
    return f"{value:.4f}" if metric in ALIGN_UNIFORM else f"{value:.2f}"


def _kind(metric: str) -> str:
    return next(kind for kind, names in METRICS.items() if metric in names)


def _is_target(value: Any) -> bool:
    return isinstance(value, dict) and "_target_" in value


def config_targets(node: Any) -> Iterator[dict[str, Any]]:
    """Every config node with a ``_target_`` in ``node`` (itself included; in lists too), outermost first."""
    if _is_target(node):
        yield node
    values = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    for value in values:
        yield from config_targets(value)


def _class_name(node: Any) -> str:
    return str(node.get("_target_", "") if isinstance(node, dict) else "").rsplit(".", 1)[-1]


def _hub_id(name: str) -> bool:
    """A hub repo id that is not a local path (a folder named like ``org/name`` is the local one)."""
    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return not os.path.exists(name)


def _one_line(value: Any) -> str:
    """``value`` as text on one line: a newline inside a list item or a table cell would end it."""
    return " ".join(str(value).splitlines())


def _text(value: Any) -> str:
    """``value`` (a file name, a config value, a run name) as literal text in markdown: HTML as entities, and the
    characters markdown reads as formatting (emphasis, code, links, table cells ``|``) backslash-escaped."""
    escaped = _one_line(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_\[\]|~])", r"\\\1", escaped)


def _inline(value: Any) -> str:
    """``value`` as an inline code span that shows it exactly: HTML in a code span is text; a fence longer than
    any run of backticks in it keeps those backticks inside (CommonMark), padded when it starts or ends with one."""
    text = _one_line(value)
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _code(*lines: str) -> str:
    return "```python\n" + "\n".join(lines) + "\n```"


def _json_list(path: Path) -> list[dict[str, Any]]:
    """A JSON file's list of objects (modules.json); empty when the file is missing or holds something else."""
    if not path.is_file():
        return []
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    return [m for m in found if isinstance(m, dict)] if isinstance(found, list) else []


def _json(path: Path) -> dict[str, Any]:
    """A JSON file's object; empty when the file is missing (an export or run without it)."""
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
