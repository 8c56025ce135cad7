"""The loss registry: a training objective is one file and one :func:`register_loss`.

A registered loss is a :class:`Loss`: it names the model kind it trains (``model``, a name of
:mod:`bootsep_lib.models`), the item keys it reads from a batch (``keys``; the trainer crops
and pads exactly these, plus ``features``), and computes the scalar objective of a batch from
the network's outputs and the batch dict.  The trainer never branches on a loss's name.

Adding a loss::

    # bootsep_lib/losses/my_loss.py
    @register_loss("my-loss")
    class MyLoss(Loss):
        model = "dc"
        keys = ("labels", "weights")

        def __call__(self, outputs, batch, settings):
            ...

and import the module in :mod:`bootsep_lib.losses`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Protocol

import torch

__all__ = ["Loss", "LossSettings", "register_loss", "get_loss", "loss_names"]


class LossSettings(Protocol):
    """What a loss may read of the run (a :class:`bootsep_lib.engine.RunConfig` fits)."""

    n_sources: int
    loss_norm: str
    chimera_alpha: float


class Loss(ABC):
    """Base of registered losses.

    Attributes
    ----------
    name : str
        Registry name (set by :func:`register_loss`).
    model : str
        Model kind the loss trains (``"dc"`` or ``"chimera"``, see
        :func:`bootsep_lib.models.build_model`).
    keys : tuple of str
        Item keys of the dataset the loss reads, besides ``features`` (the model input).  The
        collated batch also always holds ``lengths`` (B,) and ``valid`` (B, T, F).
    """

    name: ClassVar[str] = ""
    model: ClassVar[str] = "dc"
    keys: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def __call__(
        self, outputs: Any, batch: Mapping[str, torch.Tensor], settings: LossSettings
    ) -> torch.Tensor:
        """The scalar objective of one batch: the mean over items of the per-item loss.

        Parameters
        ----------
        outputs : Tensor or tuple of Tensor
            What the network returned for ``batch["features"]``, ``batch["lengths"]``.
        batch : dict of Tensor
            The collated batch (see :mod:`bootsep_lib.engine.batches`).
        settings : LossSettings
            Number of sources, DC normalization, Chimera weight.
        """


_LOSSES: dict[str, Loss] = {}


def register_loss(name: str) -> Callable[[type[Loss]], type[Loss]]:
    """Class decorator: register one instance of the decorated :class:`Loss` as ``name``."""

    def decorate(cls: type[Loss]) -> type[Loss]:
        if name in _LOSSES:
            raise ValueError(f"loss {name!r} is registered twice")
        cls.name = name
        _LOSSES[name] = cls()
        return cls

    return decorate


def loss_names() -> tuple[str, ...]:
    """Registered loss names, in registration order."""
    return tuple(_LOSSES)


def get_loss(name: str) -> Loss:
    """The registered loss ``name``; ``ValueError`` naming the known losses otherwise."""
    try:
        return _LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; known losses: {loss_names()}") from None
