"""The typed shape of ``conf/``: one dataclass per config group, registered in Hydra's ConfigStore.

``conf/train.yaml`` starts its defaults list with ``train_schema`` (``TrainConfig``), so Hydra merges every group
file and command-line override into these types as it composes: ``data.batch_size=8.5`` fails there, before
anything loads, with OmegaConf's message naming the key, the value and the type. An unknown key fails the same way.

OmegaConf has types but no ranges: a field's allowed values are declared in its type hint
(``Annotated[float, greater(0)]``, simcse_pl/checks.py) and ``check_config`` enforces every declared range of the
composed config in one place, also before anything loads (``optim.lr=-1.0: must be > 0``).

Pluggable parts (``loss``, ``auxiliary.*``) take their types and ranges from the constructor their ``_target_``
names, the one place they are declared (``signature_schema``): a new objective brings its schema with it. The
``trainer`` group is exactly ``lightning.Trainer``'s arguments, typed from Trainer's own signature the same way.
``logger`` and ``callbacks`` are dicts of objects with ``_target_``; their classes check their arguments.
"""

import ast
import dataclasses
import inspect
import logging
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

from hydra.core.config_store import ConfigStore
from hydra.utils import get_object
from omegaconf import MISSING, DictConfig, ListConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError, OmegaConfBaseException

from simcse_pl.checks import Check, at_least, between, declared_check, greater, one_of
from simcse_pl.errors import ConfigError

log = logging.getLogger(__name__)


def conf_dir(package: Path = Path(__file__).resolve().parent) -> Path:
    """The Hydra configs: ``simcse_pl/conf/`` in an installed wheel (pyproject.toml ships the checkout's top-level
    ``conf/`` there), else ``conf/`` beside the package in a checkout (an editable install runs from it)."""
    installed = package / "conf"
    return installed if installed.is_dir() else package.parent / "conf"


CONF_DIR = conf_dir()


def registered_pooler_names(folder: Path = Path(__file__).resolve().parent / "encoders" / "poolers") -> tuple[str, ...]:
    """The names in the ``@register(...)`` lines of simcse_pl/encoders/poolers/*.py, read from the source so that composing
    and checking a config imports no torch: a new pooler file is all it takes for ``model.pooler`` to accept its
    name (tests/unit/encoders/test_encoder.py checks this equals the imported registry)."""
    names: list[str] = []
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                names += [arg.value for call in node.decorator_list if isinstance(call, ast.Call)
                          and getattr(call.func, "id", None) == "register"
                          for arg in call.args if isinstance(arg, ast.Constant)]
    return tuple(names)


POOLERS = registered_pooler_names()


@dataclass(frozen=True)
class Group:
    """Marks a schema field whose value is a config node chosen from ``conf/<path>/`` (in its type hint:
    ``sampler: Annotated[Any, Group("data/sampler")]``). OmegaConf cannot type such a field (its type comes from
    the ``_target_``), so without the mark ``data.sampler=no_duplicates`` (a dot for the group's slash) composed
    as a plain string and crashed deep inside the datamodule; ``check_config`` refuses it by the mark, naming the
    right spelling and the group's options (``group_options``, read from conf/ so a new YAML needs no edit).

    ``entries``: the field is a dict of such nodes by name (``logger.csv``, ``callbacks.throughput``);
    ``listed``: the group is selected as a list (``auxiliary=[mlm]``)."""

    path: str
    entries: bool = False
    listed: bool = False

    def spelling(self, choice: str) -> str:
        return f"{self.path}=[{choice}]" if self.listed else f"{self.path}={choice}"


def group_options(path: str, conf: Path | None = None) -> tuple[str, ...]:
    """The options of the config group ``conf/<path>/``: its YAML files' names (``_``-prefixed ones are shared
    bases, not options)."""
    folder = (conf or CONF_DIR) / path
    return tuple(sorted(p.stem for p in folder.glob("*.yaml") if not p.stem.startswith("_")))


@dataclass
class PathsConfig:
    """Where things are (conf/paths/default.yaml fills these in)."""

    # the project's root folder (the environment variable PROJECT_ROOT, else the current folder)
    root_dir: str = "."
    # the data root every reader resolves its files under: SIMCSE_DATA_DIR, else the root `make` recorded in
    # .data-root, else ./data (data_root below)
    data_dir: str = "data"
    # the run folder, Hydra's (outputs/<task_name>/<date>_<time>/; choose it with hydra.run.dir=DIR)
    output_dir: str = MISSING


@dataclass
class PromptConfig:
    """A template around each sentence (simcse_pl/prompt.py): ``[X]`` is the sentence, ``[MASK]`` the tokenizer's
    mask token (PromptBERT: ``This sentence : "[X]" means [MASK] .`` with ``pooler: mask``). null: no prompt."""

    # the template of each sentence, e.g. 'This sentence : "[X]" means [MASK] .'; null: the sentence alone
    template: Optional[str] = None
    # PromptBERT's "different templates as positives": the second column of each training example uses this one
    template2: Optional[str] = None
    # subtract the template-only vector (at the same positions): in training only (PromptBERT), or always
    denoise: Annotated[str, one_of("none", "train", "always")] = "none"


@dataclass
class RolePrompts:
    """Instruction prefixes by role (asymmetric retrieval: E5's ``query: `` / ``passage: ``, BGE's instructions):
    ``query`` goes before column 0 of each training row and before queries in retrieval tasks, ``document`` before
    the other columns and the corpus. Exported as sentence-transformers ``prompts`` (``query``/``document``), so
    ``encode_query`` / ``encode_document`` and ``SimCSE.encode(prompt_name=...)`` add them. null: no prefix."""

    # prefix of queries (column 0 of a training row, a retrieval task's queries), e.g. 'query: '
    query: Optional[str] = None
    # prefix of documents (the other columns, a retrieval task's corpus), e.g. 'passage: '
    document: Optional[str] = None


@dataclass
class LoraSettings:
    """LoRA adapters through peft (simcse_pl/lora.py): only they train and are checkpointed. ``r: null`` = off."""

    # the adapters' rank; null: no LoRA, the whole backbone trains
    r: Optional[Annotated[int, at_least(1)]] = None
    alpha: Optional[Annotated[float, greater(0)]] = None  # null: 2·r (LLM2Vec)
    # dropout on the adapters' input
    dropout: Annotated[float, between(0, 1, high_open=True)] = 0.0
    # null: every linear projection of a Llama/Mistral/Qwen decoder, peft's default for other architectures
    target_modules: Optional[List[str]] = None


@dataclass
class ModelConfig:
    """``SimCSEModule``'s encoder and pooler (conf/model/*.yaml are deltas of these defaults); simcse_pl/encoder.py
    says what each setting does."""

    # a Hugging Face hub id or a local folder (an export, a sentence-transformers folder); null: random_init
    name_or_path: Optional[str] = None
    # a random model of this transformers config (model_type, hidden_size, ...), no download: model=tiny
    random_init: Optional[Dict[str, Any]] = None
    # how token states become the sentence vector (simcse_pl/encoders/poolers/: one file per name)
    pooler: Annotated[str, one_of(*POOLERS)] = "cls"
    # the cls pooler's MLP head in training only (the unsupervised recipe); false keeps it at inference and export
    mlp_only_train: bool = True
    # run code shipped with the model (transformers' trust_remote_code); only as configured, never from a checkpoint
    trust_remote_code: bool = False
    # torch.compile the encoder in place (checkpoints and exports keep their parameter names)
    compile: bool = False
    # a template around each sentence (PromptBERT)
    prompt: PromptConfig = field(default_factory=PromptConfig)
    # query / document instruction prefixes (retrieval roles)
    prompts: RolePrompts = field(default_factory=RolePrompts)
    # decoders (Llama, Mistral, Qwen2/3): LLM2Vec's bidirectional attention (saved in the export's config.json)
    bidirectional: bool = False
    # decoders: the side padding goes (null: the tokenizer's)
    padding_side: Optional[Annotated[str, one_of("left", "right")]] = None
    # decoders: the attention dropout, SimCSE's noise (null: the model's; LLM2Vec uses 0.3)
    attention_dropout: Optional[Annotated[float, between(0, 1, high_open=True)]] = None
    # weights' dtype when loading (null: float32)
    dtype: Optional[Annotated[str, one_of("float32", "bfloat16", "float16")]] = None
    # recompute activations in the backward pass (less memory, one more forward)
    gradient_checkpointing: bool = False
    # LoRA adapters (peft): only they train
    lora: LoraSettings = field(default_factory=LoraSettings)


@dataclass
class DataConfig:
    """``SimCSEDataModule``'s arguments; ``source`` (the reader), ``views`` and ``sampler`` are pluggable parts
    typed by their constructors (data/views=..., data/sampler=...)."""

    # the class built from this node (set by the schema; a config file need not name it)
    _target_: str = "simcse_pl.training.datamodule.SimCSEDataModule"
    # the training reader: each conf/data/*.yaml names one
    source: Annotated[Any, Group("data")] = None
    # what each example becomes before encoding (two dropout views; ESimCSE's word repetition)
    views: Annotated[Any, Group("data/views")] = None
    # which examples share a step (a shuffled permutation; duplicate-free steps)
    sampler: Annotated[Any, Group("data/sampler")] = None
    # use only the first N examples (null: all)
    max_samples: Optional[Annotated[int, at_least(1)]] = None
    # per training process (the presets split the paper's global batch with ${per_device:N})
    batch_size: Annotated[int, at_least(2)] = 64
    # tokens per training sentence; longer ones are cut (and counted: train/truncated_sentences)
    max_len: Annotated[int, at_least(4)] = 32
    # tokens per training text in columns 1.. (positives, negatives: passages are longer than queries); null: max_len
    document_max_len: Optional[Annotated[int, at_least(4)]] = None
    # a new exact global shuffle of the training examples every epoch
    shuffle: bool = True
    # drop an epoch's last partial step (counted in the log)
    drop_last: bool = True
    # dataloader worker processes (they tokenize); 0: in the main process
    num_workers: Annotated[int, at_least(0)] = 2
    # the data order's seed (the data files set it to the run's seed)
    seed: int = 42
    # validated every trainer.val_check_interval steps; the first one's main metric selects the best checkpoint
    val_tasks: List[str] = field(default_factory=lambda: ["stsb"])
    # trainer.test on the best checkpoint; the paper's table: [sts12,sts13,sts14,sts15,sts16,stsb,sickr] (needs
    # `make data` with --full: STS12-16 and SICK-R). Hugging Face ids work too, e.g. mteb/sts12-sts
    test_tasks: Optional[List[str]] = field(default_factory=lambda: ["stsb"])
    # the data root the evaluation tasks read (the data files set it to paths.data_dir)
    data_dir: str = "data"
    # sentences per batch in validation and test
    eval_batch_size: Annotated[int, at_least(1)] = 128
    # tokens per evaluation sentence (null: the model's limit)
    eval_max_len: Optional[Annotated[int, at_least(4)]] = None


@dataclass
class StepConfig:
    """How a training step sees its batch, for any objective (simcse_pl/step.py)."""

    # under DDP, score each process's anchors against every process's sentences (the paper's global batch)
    gather: bool = True
    # GradCache: encode K encoder inputs at a time (memory of K, gradients of the whole batch); null = off
    mini_batch_size: Optional[Annotated[int, at_least(1)]] = None


@dataclass
class OptimConfig:
    """AdamW and its linear schedule (``SimCSEModule.configure_optimizers``)."""

    # the peak learning rate (the paper's: 3e-5 unsupervised BERT-base, 5e-5 supervised)
    lr: Annotated[float, greater(0)] = 3e-5
    # AdamW's decoupled weight decay (bias and LayerNorm weights get none)
    weight_decay: Annotated[float, at_least(0)] = 0.0
    # AdamW's moment decay rates
    betas: Annotated[List[float], Check(lambda v: len(v) == 2 and all(0 <= b < 1 for b in v), "two numbers in [0, 1)")] = (
        field(default_factory=lambda: [0.9, 0.999])
    )
    # AdamW's epsilon
    eps: Annotated[float, greater(0)] = 1e-8
    # the fraction of the steps over which the LR rises linearly from 0, before its linear decay to 0
    warmup_ratio: Annotated[float, between(0, 1)] = 0.0


PRIMITIVES = (int, float, bool, str, type(None))


def _omegaconf_type(hint: Any) -> Any:
    """``hint`` where OmegaConf can check it (primitives, unions of them, lists of them), else ``Any``."""
    if typing.get_origin(hint) is Annotated:
        return _omegaconf_type(typing.get_args(hint)[0])
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (list, List, tuple, Tuple) and args and all(a in PRIMITIVES for a in args if a is not Ellipsis):
        return List[args[0]]  # type: ignore[valid-type]
    options = args if origin is Union else (hint,)
    options = tuple(_omegaconf_type(o) if typing.get_origin(o) is Annotated else o for o in options)
    return Union[options] if all(o in PRIMITIVES for o in options) else Any  # type: ignore[return-value]


def signature_schema(target: Callable[..., Any]) -> type:
    """A dataclass of ``target``'s keyword arguments with their types and defaults, plus ``_target_``; the
    arguments' ``Annotated`` checks ride along in ``__checks__``."""
    init = target.__init__ if inspect.isclass(target) else target  # type: ignore[misc]
    hints = typing.get_type_hints(init, include_extras=True)
    fields: list[tuple[str, Any, Any]] = [("_target_", str, field(default=f"{target.__module__}.{target.__qualname__}"))]
    checks: dict[str, Check] = {}
    params = list(inspect.signature(init).parameters.values())[1 if inspect.isclass(target) else 0 :]
    for param in params:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        hint = hints.get(param.name, Any)
        default = param.default if param.default is not inspect.Parameter.empty else MISSING
        if isinstance(default, (list, dict)):
            default = field(default_factory=lambda d=default: d)  # type: ignore[misc]
        else:
            default = field(default=default)
        fields.append((param.name, _omegaconf_type(hint), default))
        if (check := declared_check(hint)) is not None:
            checks[param.name] = check
    schema = dataclasses.make_dataclass(f"{target.__qualname__}Config", fields)
    schema.__checks__ = checks  # type: ignore[attr-defined]
    return schema


@dataclass
class TrainConfig:
    """The root: what ``run()`` does and one node per config group."""

    # names the run folder (outputs/<task_name>/...); each experiment sets its own
    task_name: str = "train"
    # seeds Python, NumPy, torch and the dataloader workers (and the data order through data.seed)
    seed: int = 42
    # what run() does, in order: validate the untrained model, fit, export the best checkpoint, test it
    validate_before: bool = True
    # fit the model (false: only validate, export and test the starting model)
    train: bool = True
    # export the best checkpoint to <run dir>/model/ (Hugging Face and sentence-transformers folder)
    export: bool = True
    # run data.test_tasks on the best checkpoint into results.json
    test: bool = True
    # resume: a checkpoint path, or "last" for <run dir>/checkpoints/last.ckpt
    ckpt_path: Optional[str] = None
    # the monitored metric: best checkpoint, console report, what sweeps maximise (returned by run()); null: the
    # first validation task's main metric (val/stsb_spearman, val/scifact_ndcg_at_10 ...)
    optimized_metric: Optional[str] = None
    # where the data and the run folder are
    paths: PathsConfig = field(default_factory=PathsConfig)
    # the encoder and its pooler
    model: ModelConfig = field(default_factory=ModelConfig)
    # the training data, batches and evaluation tasks
    data: DataConfig = field(default_factory=DataConfig)
    # the main objective: typed by its constructor (signature_schema), checked by check_config
    loss: Annotated[Any, Group("loss")] = None
    # weighted second objectives, by name (auxiliary=[mlm]): typed like the loss
    auxiliary: Annotated[Dict[str, Any], Group("auxiliary", entries=True, listed=True)] = field(default_factory=dict)
    # how a training step sees its batch (gather across GPUs, GradCache)
    step: StepConfig = field(default_factory=StepConfig)
    # AdamW and its learning-rate schedule
    optim: OptimConfig = field(default_factory=OptimConfig)
    # lightning.Trainer's arguments: typed by Trainer's own signature when checked (check_config), so the schema
    # cannot drift from the installed Lightning, and composing (e.g. --help) need not import it
    trainer: Dict[str, Any] = field(default_factory=dict)
    # Lightning loggers by name (csv, tensorboard, wandb): a dict of objects with _target_
    logger: Annotated[Optional[Dict[str, Any]], Group("logger", entries=True)] = None
    # an entry set to null is left out (callbacks.throughput=null)
    callbacks: Annotated[Optional[Dict[str, Any]], Group("callbacks", entries=True)] = None


def processes(trainer: Any) -> int:
    """How many training processes ``trainer.devices`` × ``trainer.num_nodes`` start ("auto"/-1: all GPUs)."""
    devices = trainer.get("devices", 1)
    if isinstance(devices, (list, ListConfig)) or (isinstance(devices, str) and "," in devices):
        count = len(devices) if not isinstance(devices, str) else len([d for d in devices.split(",") if d.strip()])
    elif devices in (-1, "-1", "auto"):
        import torch

        count = max(torch.cuda.device_count(), 1) if trainer.get("accelerator") in ("gpu", "cuda") else 1
    else:
        count = int(devices)
    return count * int(trainer.get("num_nodes", 1) or 1)


def per_device(global_batch: int, *, _root_: DictConfig) -> int:
    """``${per_device:512}``: a preset's global batch (the paper's) split over the training processes, so
    ``experiment=sup_bert_base trainer=ddp`` trains at 512 on any number of GPUs."""
    count = processes(_root_.trainer)
    if global_batch % count:
        raise ConfigError(
            f"data.batch_size: the preset's global batch {global_batch} does not split evenly over {count} processes "
            "(trainer.devices × trainer.num_nodes); choose a divisor, or set data.batch_size (per process) yourself"
        )
    return global_batch // count


DATA_ROOT_MARKER = ".data-root"


def data_root() -> str:
    """``${data_root:}``, the default ``paths.data_dir``: ``SIMCSE_DATA_DIR`` when set; else the root that ``make``
    used in this folder (the Makefile writes it to ``.data-root``), so a plain ``python train.py`` after
    ``make train`` reads the same files; else ``./data``."""
    if os.environ.get("SIMCSE_DATA_DIR"):
        return os.environ["SIMCSE_DATA_DIR"]
    marker = Path(DATA_ROOT_MARKER)
    if marker.is_file() and marker.read_text().strip():
        return marker.read_text().strip()
    return "./data"


def register_schemas() -> None:
    """Make ``train_schema`` (the first entry of conf/train.yaml's defaults) and the ``per_device`` resolver
    known to Hydra / OmegaConf."""
    ConfigStore.instance().store(name="train_schema", node=TrainConfig)
    if not OmegaConf.has_resolver("per_device"):
        OmegaConf.register_new_resolver("per_device", per_device)
    if not OmegaConf.has_resolver("data_root"):
        OmegaConf.register_new_resolver("data_root", data_root)


register_schemas()


# Class paths of the flat layout (before the package was grouped into wings) -> today's, so that a user's own
# config file written then (an experiment, a callback list, a run's saved .hydra/config.yaml reused with
# --config-dir) keeps working. The losses kept their paths.
MOVED_TARGETS = {
    "simcse_pl.datamodule.SimCSEDataModule": "simcse_pl.training.datamodule.SimCSEDataModule",
    "simcse_pl.sources.TextLines": "simcse_pl.data.sources.text_lines.TextLines",
    "simcse_pl.sources.NLITriplets": "simcse_pl.data.sources.nli.NLITriplets",
    "simcse_pl.sources.HFText": "simcse_pl.data.sources.hf.HFText",
    "simcse_pl.sources.HFNLI": "simcse_pl.data.sources.hf.HFNLI",
    "simcse_pl.sources.ScoredPairs": "simcse_pl.data.sources.scored_pairs.ScoredPairs",
    "simcse_pl.no_duplicates.NoDuplicates": "simcse_pl.data.samplers.no_duplicates.NoDuplicates",
    "simcse_pl.word_repetition.WordRepetition": "simcse_pl.data.views.word_repetition.WordRepetition",
    "simcse_pl.checkpointing.AtomicCheckpointIO": "simcse_pl.training.checkpointing.AtomicCheckpointIO",
    "simcse_pl.checkpointing.BestCheckpoint": "simcse_pl.training.checkpointing.BestCheckpoint",
    "simcse_pl.checkpointing.ExactResume": "simcse_pl.training.checkpointing.ExactResume",
    "simcse_pl.checkpointing.ResumeCheckpoint": "simcse_pl.training.checkpointing.ResumeCheckpoint",
    "simcse_pl.callbacks.BestMetric": "simcse_pl.training.callbacks.BestMetric",
    "simcse_pl.callbacks.Throughput": "simcse_pl.training.callbacks.Throughput",
    "simcse_pl.console.ConsoleReport": "simcse_pl.training.console_report.ConsoleReport",
    "simcse_pl.guards.NonFiniteGuard": "simcse_pl.training.guards.NonFiniteGuard",
    "simcse_pl.guards.TruncationCounter": "simcse_pl.training.guards.TruncationCounter",
    "simcse_pl.loggers.CSVLogger": "simcse_pl.training.loggers.CSVLogger",
    "simcse_pl.loggers.WandbLogger": "simcse_pl.training.loggers.WandbLogger",
    "simcse_pl.resume.ResumeGuard": "simcse_pl.training.resume.ResumeGuard",
    "simcse_pl.errors.SweepErrors": "simcse_pl.cli.reporting.SweepErrors",
}


def upgrade_targets(node: Any) -> list[str]:
    """Rewrite, in place, every ``_target_`` under ``node`` that names a class by its flat-layout path
    (``MOVED_TARGETS``); the old paths found, so the caller can say once that they still work but have moved."""
    found: list[str] = []
    if isinstance(node, (DictConfig, ListConfig)) and node._is_none():
        return found
    if isinstance(node, DictConfig):
        target = node.get("_target_") if "_target_" in node else None
        if isinstance(target, str) and target in MOVED_TARGETS:
            node._target_ = MOVED_TARGETS[target]
            found.append(target)
        for key in node:
            if not OmegaConf.is_missing(node, key) and not OmegaConf.is_interpolation(node, key):
                found += upgrade_targets(node._get_node(key))
    elif isinstance(node, ListConfig):
        for item in node._iter_ex(resolve=False):
            found += upgrade_targets(item)
    return found


def check_config(cfg: DictConfig) -> None:
    """Types of the pluggable parts and every declared range of the composed config, before anything loads
    (class paths of the flat layout are first upgraded to today's: ``MOVED_TARGETS``).

    Raises ``ConfigError`` naming the first key at fault, its value and what is allowed."""
    check_groups(cfg)
    moved = upgrade_targets(cfg)
    if moved:
        log.warning("config: %s moved; read as %s (update your config files)", ", ".join(sorted(set(moved))),
                    ", ".join(sorted({MOVED_TARGETS[t] for t in moved})))
    pluggable = ("trainer", "loss", "data.source", "data.views", "data.sampler")
    for key in (*pluggable, *(f"auxiliary.{name}" for name in cfg.get("auxiliary") or {})):
        node = OmegaConf.select(cfg, key)
        if isinstance(node, DictConfig) and len(node):  # an empty option (data/views=dropout) is "none"
            check_target(node, key)
    for key, value, check in _checked_fields(cfg, ""):
        if not check(value):
            raise ConfigError(f"{key}={_shown(value)}: must be {check.allowed}")


def group_keys(schema: type = TrainConfig, prefix: str = "") -> Iterator[tuple[str, Group]]:
    """``(key, its Group mark)`` of every field of ``schema`` (and the schemas it nests) whose value is a config
    node chosen from a group."""
    for name, hint in typing.get_type_hints(schema, include_extras=True).items():
        marks = [m for m in getattr(hint, "__metadata__", ()) if isinstance(m, Group)]
        if marks:
            yield f"{prefix}{name}", marks[0]
        elif dataclasses.is_dataclass(hint):
            yield from group_keys(hint, f"{prefix}{name}.")


def check_groups(cfg: DictConfig) -> None:
    """Every group-valued key of the composed config holds a config node (or null), not a plain value: one
    ``ConfigError`` naming the key, the spelling that selects the option and the group's options."""
    for key, group in group_keys():
        node = OmegaConf.select(cfg, key)
        if group.entries and isinstance(node, DictConfig):
            values = [(f"{key}.{name}", str(name), node[name]) for name in node]
        else:
            values = [(key, None, node)]
        for full_key, entry, value in values:
            if value is not None and not isinstance(value, DictConfig):
                raise ConfigError(_group_message(full_key, entry, value, group))


def _group_message(key: str, entry: str | None, value: Any, group: Group) -> str:
    """``data.sampler is a config group: use data/sampler=no_duplicates (options: no_duplicates, random)``."""
    options = group_options(group.path)
    choice = next((c for c in (str(value), entry) if c in options), None)
    if entry is not None:
        what = f"an entry of the config group {group.path}"
    elif key.replace(".", "/") == group.path:
        what = "a config group"
    else:
        what = f"set by the config group {group.path}"
    given = "" if choice == str(value) else f", not a value ({_shown(value)})"
    return f"{key} is {what}{given}: use {group.spelling(choice or '<name>')} (options: {', '.join(options)})"


def _shown(value: Any) -> str:
    return repr(OmegaConf.to_container(value) if isinstance(value, (DictConfig, ListConfig)) else value)


Resolve = Callable[[str, str], Callable[..., Any]]  # (the _target_ name, its key) -> the constructor it names


def import_target(name: str, key: str) -> Callable[..., Any]:
    """The object a composed config's ``_target_`` names, imported: its names come from conf/ and the command line,
    which are the user's own. A saved file's names are looked up instead (``simcse_pl.losses.registered_class``)."""
    try:
        return get_object(name)
    except Exception as exc:  # noqa: BLE001 - hydra raises ImportError/ValueError variants
        raise ConfigError(f"{key}._target_={name!r}: cannot be imported ({exc})") from None


def check_target(node: DictConfig, key: str, resolve: Resolve = import_target) -> None:
    """Type-check a ``_target_`` node against its constructor's signature (nested targets too, through the same
    ``resolve``), and record the schema on the node so ``_checked_fields`` finds its ranges. An unknown key, a
    wrong type or a value out of its declared range is a ``ConfigError`` naming the key."""
    if "_target_" not in node:
        raise ConfigError(f"{key}: no _target_ (which class to build)")
    target = resolve(str(node._target_), key)
    schema = signature_schema(target)
    try:
        typed = OmegaConf.merge(OmegaConf.structured(schema), node)
    except OmegaConfBaseException as exc:
        raise ConfigError(f"{key}.{exc.full_key}: {str(exc).splitlines()[0]}") from None
    missing = [k for k in typed if OmegaConf.is_missing(typed, k)]
    if missing:
        raise ConfigError(f"{key}.{missing[0]}: required by {node._target_} but not set")
    for name, check in schema.__checks__.items():  # type: ignore[attr-defined]
        if name in node and not check(node[name]):
            raise ConfigError(f"{key}.{name}={_shown(node[name])}: must be {check.allowed}")
    for name in node:
        child = node._get_node(name)
        if isinstance(child, DictConfig) and "_target_" in child:
            check_target(child, f"{key}.{name}", resolve)


def _checked_fields(node: Any, prefix: str) -> Iterator[tuple[str, Any, Check]]:
    """``(full key, value, check)`` of every field with a declared range in the typed nodes under ``node``."""
    if not isinstance(node, DictConfig):
        return
    schema = OmegaConf.get_type(node)
    declared: dict[str, Check] = {}
    if dataclasses.is_dataclass(schema):
        hints = typing.get_type_hints(schema, include_extras=True)
        declared = {name: c for name, hint in hints.items() if (c := declared_check(hint)) is not None}
    for key in node:
        full_key = f"{prefix}{key}"
        if key in declared and not OmegaConf.is_missing(node, key):
            yield full_key, _resolved(node, key), declared[key]
        elif isinstance(node._get_node(key), DictConfig):
            yield from _checked_fields(node._get_node(key), f"{full_key}.")


def _resolved(node: DictConfig, key: str) -> Any:
    """``node[key]`` with interpolations resolved; a resolver's own ``ConfigError`` comes out as itself."""
    try:
        return node[key]
    except InterpolationResolutionError as exc:  # OmegaConf re-raises a resolver's error under its own type
        message = str(exc).splitlines()[0].removeprefix(f"{ConfigError.__name__} raised while resolving interpolation: ")
        raise ConfigError(message) from None


def compose_config(*overrides: str, return_hydra_config: bool = False) -> DictConfig:
    """``conf/train.yaml`` composed with ``overrides``, as ``train.py`` would (for tests, scripts, notebooks)."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("train", overrides=list(overrides), return_hydra_config=return_hydra_config)
