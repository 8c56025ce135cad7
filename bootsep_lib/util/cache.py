"""Cache entries named by explicit keys: everything a result depends on, and nothing else.

A stage's key hashes its name, its code version (an integer the stage bumps whenever its output
changes for the same inputs) and the parts it declares (config, corpus fingerprint, split ...).
Entries live under ``$BOOTSEP_CACHE/<stage>/<key><suffix>``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .. import paths
from ..config import config_hash
from .atomic import atomic_write

__all__ = ["CacheWarning", "cache_entry", "cached_table", "stage_key"]


class CacheWarning(UserWarning):
    """A cache entry was unreadable and is being recomputed."""


def stage_key(stage: str, version: int, parts: Mapping[str, Any]) -> str:
    """Key of one cached result of ``stage`` (see the module docstring)."""
    return config_hash({"stage": stage, "version": int(version), **dict(parts)})


def cache_entry(stage: str, key: str, suffix: str = "") -> Path:
    """Path of the cache entry ``key`` of ``stage`` (the folder is not created)."""
    return paths.cache_dir() / stage / f"{key}{suffix}"


def cached_table(path: Path, compute: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """The table cached at ``path``, or ``compute()`` written there atomically.

    A damaged entry (unreadable, empty, cut short) is reported with a :class:`CacheWarning`
    that names it, and recomputed.
    """
    if path.exists():
        try:
            return pd.read_csv(path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError,
                OSError) as err:
            warnings.warn(f"cache entry {path} is damaged ({err}); recomputing it",
                          CacheWarning, stacklevel=2)
    table = compute()
    atomic_write(path, lambda tmp: table.to_csv(tmp, index=False))
    return table
