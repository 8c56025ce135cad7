"""Which part of the corpus a study reads: a subset (speakers, condition, rate) and its splits."""

from __future__ import annotations

from dataclasses import dataclass

from .. import paths
from ..config import Profile
from .readers import MixtureDataset

__all__ = ["Subset", "default_subset", "open_split"]


@dataclass(frozen=True)
class Subset:
    """One corpus subset: ``{n_speakers}speakers_{condition}/wav{rate}``."""

    n_speakers: int = 2
    condition: str = "anechoic"
    sample_rate: int = 8000


def default_subset(profile: Profile) -> Subset:
    """The profile's first subset (2 speakers, anechoic, 8 kHz for every built-in profile)."""
    return Subset(*profile.data.subsets[0])


def open_split(
    profile: Profile,
    split: str,
    *,
    subset: Subset | None = None,
    channels: str | tuple[int, ...] = "reference",
    return_sources: bool = True,
) -> MixtureDataset:
    """The profile's corpus split as a :class:`~bootsep_lib.data.MixtureDataset`."""
    subset = subset or default_subset(profile)
    return MixtureDataset(
        paths.data_root(profile.data.root),
        split,
        n_speakers=subset.n_speakers,
        condition=subset.condition,
        sample_rate=subset.sample_rate,
        channels=channels,
        return_sources=return_sources,
    )
