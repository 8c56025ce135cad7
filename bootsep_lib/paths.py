"""Where bootsep keeps data, cached artefacts, executed notebooks and figures.

Defaults are folders at the repository root (git-ignored except ``figures/``); the environment
variables ``BOOTSEP_DATA``, ``BOOTSEP_CACHE`` and ``BOOTSEP_OUTPUTS`` override them.
``BOOTSEP_DATA`` *replaces* the profile's corpus root (it does not hold one folder per
profile): point it at a real spatialized wsj0-2mix tree, or at a bigger disk for one profile.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["repo_root", "data_root", "cache_dir", "outputs_dir", "figures_dir", "models_dir"]


def repo_root() -> Path:
    """The folder that holds ``bootsep_lib/`` (the repository root of an editable install)."""
    return Path(__file__).resolve().parents[1]


def _resolve(env: str, default: str | os.PathLike) -> Path:
    value = os.environ.get(env)
    path = Path(value) if value else Path(default)
    return path if path.is_absolute() else repo_root() / path


def data_root(configured: str | os.PathLike = "data") -> Path:
    """Root of the spatialized corpora (``$BOOTSEP_DATA`` or ``<repo>/<configured>``).

    An absolute ``configured`` root is used as it is: a study's own corpus (the natural-voice
    study's, under the profile's root) stays apart from the corpus ``$BOOTSEP_DATA`` names.
    """
    if Path(configured).is_absolute():
        return Path(configured)
    return _resolve("BOOTSEP_DATA", configured)


def cache_dir() -> Path:
    """Cache of spatial results, label banks and trained models (``$BOOTSEP_CACHE``)."""
    return _resolve("BOOTSEP_CACHE", "cache")


def outputs_dir() -> Path:
    """Executed notebooks (``$BOOTSEP_OUTPUTS`` or ``<repo>/outputs``)."""
    return _resolve("BOOTSEP_OUTPUTS", "outputs")


def figures_dir() -> Path:
    """Committed tables and figures (``<repo>/figures``)."""
    return repo_root() / "figures"


def models_dir() -> Path:
    """The shipped models and their cards (``$BOOTSEP_MODELS`` or ``<repo>/models``)."""
    return _resolve("BOOTSEP_MODELS", "models")
