"""The model registry: a network is one file and one :func:`register_model`.

A registered model is an :class:`torch.nn.Module` class with a classmethod
``build(n_freqs, config, n_sources)``; ``forward(features, lengths)`` takes features
``(batch, frames, freqs)`` and returns what the losses of its kind expect (embeddings
``(batch, frames, freqs, D)``, or a tuple whose first element they are).  A loss names the
model kind it trains (:attr:`bootsep_lib.losses.Loss.model`).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from bootsep_lib.config import ModelConfig

__all__ = ["register_model", "build_model", "model_names"]

_MODELS: dict[str, type[nn.Module]] = {}


def register_model(name: str) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Class decorator: register a network class (with a ``build`` classmethod) as ``name``."""

    def decorate(cls: type[nn.Module]) -> type[nn.Module]:
        if name in _MODELS:
            raise ValueError(f"model {name!r} is registered twice")
        if not callable(getattr(cls, "build", None)):
            raise TypeError(f"{cls.__name__} needs a classmethod build(n_freqs, config, n_sources)")
        _MODELS[name] = cls
        return cls

    return decorate


def model_names() -> tuple[str, ...]:
    """Registered model kinds, in registration order."""
    return tuple(_MODELS)


def build_model(kind: str, n_freqs: int, config: ModelConfig, n_sources: int = 2) -> nn.Module:
    """Build a registered network by name.

    Parameters
    ----------
    kind : str
        A registered kind: ``"dc"`` (:class:`~bootsep_lib.models.DeepClusteringNet`; DC and
        M-DC differ only in the loss) or ``"chimera"``
        (:class:`~bootsep_lib.models.ChimeraNet` with ``n_sources`` softmax masks).
    n_freqs : int
        Frequencies ``F`` of the input.
    config : ModelConfig
        Layers, units, embedding dimension, dropout.
    n_sources : int
        Number of sources (used by networks with per-source outputs).

    Raises
    ------
    ValueError
        ``kind`` is not registered (the message lists the known kinds).
    """
    try:
        cls = _MODELS[kind]
    except KeyError:
        raise ValueError(f"unknown model kind {kind!r}; known kinds: {model_names()}") from None
    return cls.build(n_freqs, config, n_sources)  # type: ignore[attr-defined]
