"""A user's config named as a packaged one is refused, in one line naming both files.

Hydra reads a config from the first folder of its search path that holds it, and the packaged configs
(``simcse_pl.config.CONF_DIR``) are the primary folder, which comes before every folder a user adds with
``--config-dir`` or ``hydra.searchpath``. A user's ``conf/experiment/quickstart.yaml`` was therefore silently
ignored in favour of the packaged preset of that name (issue 24, item 8).

Refusing the clash, rather than reordering the search path so the user's file wins, keeps Hydra's own documented
order (the one ``--cfg job``, ``--info searchpath`` and every Hydra guide describe); a reordered path would also let a
stray copy of, say, ``model/bert-base.yaml`` quietly change the packaged presets that build on it. One rename (the
line suggests it) makes the user's config a new option that cannot be confused with ours.
"""

from __future__ import annotations

import importlib.resources
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

# the search-path providers that are the user's folders: --config-dir, and hydra.searchpath (on the command line or
# in a primary config); Hydra's own and its plugins' folders (which ours override on purpose) are not
USER_PROVIDERS = ("command-line", "hydra.searchpath")
PACKAGED_PROVIDER = "main"


def source_folder(path: str) -> Path | None:
    """A search-path entry (``file:///x/conf``, ``pkg://module/sub``, or a plain path) as a folder on disk, None when
    it is not one (a structured-config source, a module that is not installed or not on disk)."""
    scheme, found, rest = path.partition("://")
    if not found:
        return Path(path)
    if scheme == "file":
        return Path(rest)
    if scheme == "pkg":
        module, _, sub = rest.partition("/")
        try:
            root = Path(str(importlib.resources.files(module.replace("/", "."))))
        except (ModuleNotFoundError, TypeError):
            return None
        return root / sub if root.is_dir() else None
    return None


def yaml_files(folder: Path) -> set[str]:
    """Every config in ``folder``, as its path relative to it (``experiment/quickstart.yaml``)."""
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*.yaml")} if folder.is_dir() else set()


def clashes(sources: list[dict[str, Any]]) -> Iterator[tuple[str, Path, str, Path]]:
    """``(config name, user file, how the user added its folder, packaged file)`` for each config in a user's folder
    that a packaged config of the same name hides. A user's folder that is the packaged one (``--config-dir conf``
    in the checkout) hides nothing."""
    packaged = next((source_folder(s["path"]) for s in sources if s["provider"] == PACKAGED_PROVIDER), None)
    if packaged is None or not packaged.is_dir():
        return
    ours = yaml_files(packaged)
    for source in sources:
        provider = str(source["provider"])
        folder = source_folder(source["path"]) if provider.startswith(USER_PROVIDERS) else None
        if folder is None or not folder.is_dir() or folder.resolve() == packaged.resolve():
            continue
        added_by = "--config-dir" if provider == "command-line" else "hydra.searchpath"
        for name in sorted(yaml_files(folder) & ours):
            yield name, folder / name, added_by, packaged / name


def clash_message(name: str, user: Path, added_by: str, packaged: Path, more: int) -> str:
    """One line: both files, why one is ignored, and the rename that makes the user's an option of its own."""
    group, _, file = name.rpartition("/")
    renamed = f"{group}/my_{file}" if group else f"my_{file}"
    use = f"{group}=my_{Path(file).stem}" if group else f"--config-name my_{Path(file).stem}"
    also = f"; {more} more of your configs clash the same way" if more else ""
    return (f"{_shown(user)} (added by {added_by}) has the name of the packaged {packaged}, which Hydra reads "
            f"first, so yours would be silently ignored: rename yours (e.g. {renamed}, chosen with {use}){also}")


def _shown(path: Path) -> str:
    """``path`` relative to the current folder when inside it (as the user typed it), else as it is."""
    return os.path.relpath(path) if Path.cwd() in path.resolve().parents else str(path)


class ConfigClash(Callback):
    """Hydra callback: before a run or a sweep starts, ``error: <the clash>`` and exit status 2 when a config in a
    folder the user added has the name of a packaged one (which Hydra would read instead)."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._refuse(config)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._refuse(config)

    @staticmethod
    def _refuse(config: DictConfig) -> None:
        found = list(clashes(list(config.hydra.runtime.config_sources)))
        if found:
            print(f"error: {clash_message(*found[0], more=len(found) - 1)}", file=sys.stderr)
            sys.exit(2)
