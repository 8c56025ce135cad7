"""Every size, seed and setting of bootsep, by name.

A profile is plain data: code reads its fields and never branches on its name.  Three are
defined:

``smoke``
    Tests and CI: the whole pipeline in minutes on two CPU cores.
``laptop``
    The default of ``run_all.sh``: the whole pipeline in at most about an hour on two CPU
    cores from an empty cache (sizes chosen by measurement, see the README).
``paper``
    The papers' settings for a GPU: 20k / 5k / 3k mixtures, 8 kHz, 32 ms / 8 ms STFT,
    400-frame crops, batch 40, 100 epochs, 4x300 BLSTM, D = 15.

Use :func:`get_profile` to look one up, with keyword overrides for experiments
(``get_profile("laptop", train={"epochs": 3})``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field, fields, replace
from typing import Any

__all__ = [
    "Geometry",
    "DataConfig",
    "SpatialConfig",
    "ModelConfig",
    "TrainConfig",
    "CurveConfig",
    "EvidenceConfig",
    "TeachersConfig",
    "Profile",
    "VoicesConfig",
    "PROFILES",
    "get_profile",
    "config_hash",
]


@dataclass(frozen=True)
class Geometry:
    """Room and array geometry, following the spatialized wsj0-2mix recipe (lengths in metres).

    Mics 1-2 are opposite points of a sphere of radius ``array_radius`` around the array centre,
    mics 3-4 lie inside the sphere at least ``inner_min_spacing`` apart, mics 5-8 anywhere inside.
    """

    room_x: tuple[float, float] = (5.0, 10.0)
    room_y: tuple[float, float] = (5.0, 10.0)
    room_z: tuple[float, float] = (3.0, 4.0)
    array_center_jitter: float = 0.2
    array_height: tuple[float, float] = (1.0, 2.0)
    array_radius: tuple[float, float] = (0.075, 0.125)
    n_mics: int = 8
    inner_min_spacing: float = 0.05
    speaker_xy_range: float = 1.5
    speaker_height: tuple[float, float] = (1.5, 2.0)
    min_distance_to_array: float = 0.5
    min_speaker_distance: float = 1.0
    t60: tuple[float, float] = (0.2, 0.6)
    relative_level_db: tuple[float, float] = (0.0, 5.0)
    peak: float = 0.9


@dataclass(frozen=True)
class DataConfig:
    """Which corpora to build and how big they are.

    ``subsets`` lists ``(n_speakers, condition, sample_rate)`` triples, each written to
    ``<root>/{n}speakers_{condition}/wav{rate//1000}k/min/{tr,cv,tt}/``.  Each profile has its
    own ``root`` (relative to the repository, or ``$BOOTSEP_DATA``), so corpora of different
    sizes never overwrite each other.  The first subset is the main one (the bootstrapping
    experiments) with ``n_train / n_valid / n_test`` mixtures; ``secondary_sizes``, when set,
    gives smaller ``(train, valid, test)`` sizes for the others (the M-DC study).

    ``sample_format`` is how the corpus WAVs store samples: ``"pcm16"`` (16-bit PCM, the
    default: the sources are quantised and the mixture is their integer sum, so ``mix == s1 +
    s2`` holds exactly after reading) or ``"float32"`` (twice the disk).  ``channels`` lists the
    mics written (0-based, e.g. ``(0, 1, 2, 3)`` for the paper's mics 1-4); None writes all
    ``geometry.n_mics``.  Channel ``k`` of the files is then mic ``channels[k]``, with the same
    samples as in the full corpus (levels and peak are set on all mics before selecting).
    """

    root: str = "data"
    subsets: tuple[tuple[int, str, int], ...] = ((2, "anechoic", 8000),)
    n_train: int = 1000
    n_valid: int = 150
    n_test: int = 200
    secondary_sizes: tuple[int, int, int] | None = None
    speakers_train: int = 80
    speakers_valid: int = 20
    speakers_test: int = 20
    utterances_per_speaker: int = 30
    words_per_utterance: tuple[int, int] = (6, 12)
    engine: str = "espeak"
    geometry: Geometry = field(default_factory=Geometry)
    seed: int = 0
    sample_format: str = "pcm16"
    channels: tuple[int, ...] | None = None


@dataclass(frozen=True)
class SpatialConfig:
    """Spatial clustering and confidence (Section 2.1-2.2 of the bootstrapping paper).

    ``reference`` and ``freq_normalize`` are the two choices the paper's text leaves open
    (see :func:`bootsep_lib.spatial.spatial_clustering`); the defaults here are the paper's
    text, and the built-in profiles set ``freq_normalize=True`` as the authors' code did,
    for the reasons measured in notebook 01.
    """

    window_ms: float = 32.0
    hop_ms: float = 8.0
    n_sources: int = 2
    threshold_db: float = -10.0
    reference: str = "max"
    freq_normalize: bool = False
    jsd_samples: int = 100_000
    reference_channel: int = 0
    other_channels: tuple[int, ...] = (1, 2, 3)


@dataclass(frozen=True)
class ModelConfig:
    """Deep clustering network: BLSTM stack + dense tanh layer to ``embedding_dim`` per bin."""

    layers: int = 2
    units: int = 128
    embedding_dim: int = 20
    dropout: float = 0.0


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (the bootstrapping paper: Adam 1e-3, halved after 5 stalls).

    ``num_workers`` (DataLoader workers) and ``item_bank`` (compute every item once, over all
    cores and ranks, into a memory-mapped bank that workers, ranks and models share:
    :mod:`bootsep_lib.data.item_bank`) change how items are loaded, never which, and enter no
    cache key.

    Every built-in profile stops as the papers do: the learning rate halves after
    ``lr_patience = 5`` epochs without a new best validation loss (bootstrapping paper,
    Section 3.2; the M-DC paper, Section 4.1, the same) and training ends after
    ``early_stop_patience = 30`` (the M-DC paper) or at the profile's ``max_steps`` cap.
    """

    batch_size: int = 16
    crop_frames: int = 250
    epochs: int = 20
    lr: float = 1e-3
    optimizer: str = "adam"
    lr_patience: int = 5
    early_stop_patience: int = 10
    grad_clip: float = 5.0
    seed: int = 0
    num_workers: int = 0
    item_bank: bool = False
    max_steps: int | None = None
    """Cap of optimiser steps (the budget): the papers' rule -- halve the learning rate after
    ``lr_patience`` epochs without a new best validation loss, stop after
    ``early_stop_patience`` -- runs until ``epochs`` or this cap, whichever comes first.
    Leaves the run id unchanged when None."""


#: A learning-curve arm: ``(targets, alpha, loss, whole_split)``; ``whole_split`` asks for a
#: model trained on every mixture of the main subset's ``tr`` split (False: any size).
CurveArm = tuple[str, float, str, bool]


@dataclass(frozen=True)
class CurveConfig:
    """Learning curves (notebook 06): which models keep weight snapshots, how often, scored how.

    ``arms`` names the models whose runs write a snapshot every ``snapshot_every_steps``
    optimiser steps (see :data:`CurveArm`; every other run writes none); each snapshot is
    scored by validation SI-SDR on the first ``n_mixtures`` mixtures of the main subset's
    ``cv`` split.
    """

    snapshot_every_steps: int = 50
    n_mixtures: int = 40
    arms: tuple[CurveArm, ...] = (
        ("ground_truth", 0.0, "dc", True),
        ("spatial", 0.0, "dc", True),
        ("spatial", 1.0, "dc", True),
        ("ground_truth", 0.0, "mdc", False),
    )


@dataclass(frozen=True)
class EvidenceConfig:
    """Seeds and budgets behind the findings (issue 11).

    ``seeds`` are the training seeds (initial weights, data order and crops) of the models
    whose comparisons decide a finding: the alpha sweep and the ground-truth subset model
    (notebook 04), DC vs M-DC at 2 speakers / 8 kHz and the bootstrapped DC / M-DC pair
    (notebook 06); every arm gets the same seeds.  The first must be the ``train`` /
    ``mdc_train`` seed, so the single-seed models are shared.  The engine orders an epoch by
    ``randperm(seed + epoch)``, so seeds closer than the number of epochs would share shifted
    data orders: the built-in seeds are 1,000 apart.  ``subset_steps`` is the optimiser-step
    budget of the ground-truth subset model (its epochs follow from its size; early stopping
    still applies); None trains it for ``train.epochs`` like the others.  ``seeded_alphas``
    lists the alpha-sweep models trained under every seed (None: all of them); the others keep
    the ``train`` seed (a budget switch: on the laptop profile alpha = 0 and 2 stay at one seed).
    """

    seeds: tuple[int, ...] = (0,)
    subset_steps: int | None = None
    seeded_alphas: tuple[float, ...] | None = None


@dataclass(frozen=True)
class TeachersConfig:
    """The teacher study (notebook 07): which blind teachers, which rooms, how many mixtures.

    ``n_train / n_valid / n_test`` are the first mixtures of each room's splits (the anechoic
    and reverberant subsets hold the same mixtures, so the rooms are paired); ``n_iter`` is
    every BSS teacher's iteration count and ``window_ms`` their STFT window (None: the spatial
    stage's); ``epochs`` the students' epochs (None: ``train.epochs``, the other studies');
    ``student_teachers`` the teachers whose labels train a student (None: all of them; the
    others are measured as teachers only).
    """

    teachers: tuple[str, ...] = ("ipd-gmm", "auxiva-2ch", "auxiva-4ch", "ilrma-2ch",
                                 "fastmnmf2-2ch")
    rooms: tuple[str, ...] = ("anechoic", "reverb")
    n_train: int = 400
    n_valid: int = 60
    n_test: int = 100
    n_iter: int = 30
    window_ms: float | None = None
    epochs: int | None = None
    student_teachers: tuple[str, ...] | None = None


@dataclass(frozen=True)
class VoicesConfig:
    """The natural-voice study (issue 11, item 4): the same study on two speech engines.

    Off (``enabled=False``) in ``laptop``, which cannot hold it within its 90-minute budget;
    on in ``laptop-voices`` and (tiny) in ``smoke``.  Each engine in ``engines`` gets its own
    corpus under ``<data root of the profile>/<root>/<engine>`` (2 speakers, anechoic, 8 kHz,
    the profile's geometry and seed) with these sizes, the spatial stage, and the models of
    ``profile.model`` trained for ``epochs`` epochs (the rest of ``profile.train``).
    Kokoro costs about one second of CPU per second of speech, so what sets the build time is
    the number of distinct utterances, ``(speakers_*) x utterances_per_speaker``, not the
    number of mixtures.
    """

    enabled: bool = False
    engines: tuple[str, ...] = ("kokoro", "espeak")
    root: str = "voices"
    n_train: int = 200
    n_valid: int = 40
    n_test: int = 100
    speakers_train: int = 12
    speakers_valid: int = 4
    speakers_test: int = 6
    utterances_per_speaker: int = 5
    words_per_utterance: tuple[int, int] = (5, 9)
    epochs: int = 12


@dataclass(frozen=True)
class Profile:
    """A named bundle of every setting the pipeline reads.

    ``model`` / ``train`` are the bootstrapping paper's network and schedule (notebooks 03-05);
    ``mdc_model`` / ``mdc_train`` the manifold-aware DC paper's (notebook 06).
    """

    name: str
    data: DataConfig
    spatial: SpatialConfig
    model: ModelConfig
    train: TrainConfig
    mdc_model: ModelConfig = field(default_factory=ModelConfig)
    mdc_train: TrainConfig = field(default_factory=TrainConfig)
    description: str = ""
    curves: CurveConfig = field(default_factory=CurveConfig)
    evidence: EvidenceConfig = field(default_factory=EvidenceConfig)
    teachers: TeachersConfig = field(default_factory=TeachersConfig)
    voices: VoicesConfig = field(default_factory=VoicesConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (JSON-serialisable) of every field."""
        return dataclasses.asdict(self)


#: Arrays half the size of spatialized wsj0-2mix's (radius 3.75-6.25 cm instead of 7.5-12.5):
#: measured in notebook 01, the recipe's wide pairs alias at 8 kHz and the spatial stage then
#: falls short of the paper's 4.3 dB SI-SDR on our synthetic voices.
HALF_SIZE_ARRAY = Geometry(array_radius=(0.0375, 0.0625))

#: The spatial stage of the built-in profiles: the paper's method with the authors' frequency
#: normalisation of the IPD (Section 2.1; see notebook 01 for the measured comparison).
SPATIAL_AS_AUTHORS = SpatialConfig(freq_normalize=True)


#: The corpora of the small profiles: 2 and 3 speakers at 8 and 16 kHz, anechoic.
SMALL_SUBSETS = ((2, "anechoic", 8000), (3, "anechoic", 8000), (2, "anechoic", 16000),
                 (3, "anechoic", 16000))

#: The reverberant room of the teacher study (notebook 07), built at the secondary sizes.
REVERB_SUBSETS = ((2, "reverb", 8000),)


def _smoke() -> Profile:
    """Tests and CI: a few dozen mixtures, one-layer networks, one or two epochs."""
    model = ModelConfig(layers=1, units=32, embedding_dim=10)
    return Profile(
        name="smoke",
        description="tests and CI: whole pipeline in minutes on 2 CPU cores",
        data=DataConfig(
            root="data/smoke",
            n_train=24,
            n_valid=8,
            n_test=8,
            speakers_train=6,
            speakers_valid=3,
            speakers_test=3,
            utterances_per_speaker=6,
            words_per_utterance=(4, 7),
            geometry=HALF_SIZE_ARRAY,
            subsets=SMALL_SUBSETS + REVERB_SUBSETS,
            secondary_sizes=(12, 4, 4),
        ),
        spatial=replace(SPATIAL_AS_AUTHORS, jsd_samples=20_000),
        model=model,
        train=TrainConfig(batch_size=4, crop_frames=100, epochs=100, early_stop_patience=30,
                          max_steps=12),
        mdc_model=model,
        mdc_train=TrainConfig(batch_size=4, crop_frames=100, epochs=100, early_stop_patience=30,
                              max_steps=3),
        curves=CurveConfig(snapshot_every_steps=4, n_mixtures=8),
        evidence=EvidenceConfig(seeds=(0, 1000), subset_steps=12),
        teachers=TeachersConfig(teachers=("ipd-gmm", "auxiva-2ch"), n_train=8, n_valid=4,
                                n_test=4, n_iter=10, epochs=1),
    )


def _laptop() -> Profile:
    """The default of ``run_all.sh``: the default corpus sizes, 2x128 BLSTM."""
    model = ModelConfig(layers=2, units=128, embedding_dim=20)
    return Profile(
        name="laptop",
        description="default of run_all.sh: whole pipeline within about an hour on 2 CPU cores",
        data=DataConfig(
            root="data/laptop",
            geometry=HALF_SIZE_ARRAY,
            subsets=SMALL_SUBSETS + REVERB_SUBSETS,
            secondary_sizes=(400, 60, 100),
        ),
        spatial=SPATIAL_AS_AUTHORS,
        model=model,
        train=TrainConfig(batch_size=16, crop_frames=200, epochs=100, early_stop_patience=30,
                          max_steps=756),
        mdc_model=model,
        mdc_train=TrainConfig(batch_size=16, crop_frames=200, epochs=100, early_stop_patience=30,
                              max_steps=100),
        curves=CurveConfig(snapshot_every_steps=50, n_mixtures=30),
        # subset_steps: the 756 steps of a full-set model (1,000 mixtures / 16 x 12 epochs);
        # every alpha under all three seeds (measured to fit the 90-min budget, README)
        evidence=EvidenceConfig(seeds=(0, 1000, 2000), subset_steps=756),
        # Students for the three cheapest teachers and 6 epochs: notebook 07 took 620 s on
        # 2 cores (README); ILRMA and FastMNMF2 students would add about 10 min.
        teachers=TeachersConfig(n_train=400, n_valid=60, n_test=100, epochs=6,
                                student_teachers=("ipd-gmm", "auxiva-2ch", "auxiva-4ch")),
    )


def _paper() -> Profile:
    """The papers' settings: 4x300 BLSTM (bootstrapping), 4x600 and RMSprop (M-DC)."""
    return Profile(
        name="paper",
        description="the papers' settings, for a GPU",
        # subset_steps: the 50,000 steps of a full-set model (20,000 / 40 x 100 epochs)
        evidence=EvidenceConfig(seeds=(0, 1000, 2000), subset_steps=50_000),
        data=DataConfig(
            root="data/paper",
            subsets=(
                (2, "anechoic", 8000),
                (2, "anechoic", 16000),
                (3, "anechoic", 8000),
                (3, "anechoic", 16000),
                (2, "reverb", 8000),
            ),
            n_train=20_000,
            n_valid=5_000,
            n_test=3_000,
            speakers_train=101,
            speakers_valid=18,
            speakers_test=18,
            utterances_per_speaker=120,
            geometry=HALF_SIZE_ARRAY,
        ),
        spatial=SPATIAL_AS_AUTHORS,
        model=ModelConfig(layers=4, units=300, embedding_dim=15),
        train=TrainConfig(batch_size=40, crop_frames=400, epochs=100, early_stop_patience=30,
                          num_workers=4, item_bank=True),
        mdc_model=ModelConfig(layers=4, units=600, embedding_dim=40),
        mdc_train=TrainConfig(batch_size=32, crop_frames=400, epochs=200, lr=1e-4,
                              optimizer="rmsprop", early_stop_patience=30, num_workers=4,
                              item_bank=True),
        curves=CurveConfig(snapshot_every_steps=2_500, n_mixtures=200),
        teachers=TeachersConfig(n_train=20_000, n_valid=5_000, n_test=3_000),
    )


def _smoke_voices() -> VoicesConfig:
    """A tiny natural-voice study for tests and CI (about a minute of Kokoro speech)."""
    return VoicesConfig(enabled=True, n_train=16, n_valid=4, n_test=6, speakers_train=4,
                        speakers_valid=2, speakers_test=2, utterances_per_speaker=2,
                        words_per_utterance=(3, 5), epochs=1)


def _laptop_voices() -> Profile:
    """``laptop`` plus the natural-voice study (its own switch: beyond the laptop budget)."""
    return replace(_laptop(), name="laptop-voices", voices=VoicesConfig(enabled=True),
                   description="laptop + the natural-voice study (Kokoro vs eSpeak)")


def _profiles() -> dict[str, Profile]:
    smoke = replace(_smoke(), voices=_smoke_voices())
    return {p.name: p for p in (smoke, _laptop(), _paper(), _laptop_voices())}


PROFILES: dict[str, Profile] = _profiles()


def _apply(obj: Any, overrides: dict[str, Any]) -> Any:
    names = {f.name for f in fields(obj)}
    changes = {}
    for key, value in overrides.items():
        if key not in names:
            raise KeyError(f"{type(obj).__name__} has no field {key!r} (fields: {sorted(names)})")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current) and isinstance(value, dict):
            value = _apply(current, value)
        elif isinstance(current, tuple) and isinstance(value, list):
            value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        changes[key] = value
    return replace(obj, **changes)


def get_profile(name: str = "laptop", **overrides: Any) -> Profile:
    """Look up a profile by name, optionally overriding fields section by section.

    Parameters
    ----------
    name : str
        ``"smoke"``, ``"laptop"`` or ``"paper"``.
    **overrides
        Section name to dict of field overrides, e.g. ``train={"epochs": 3}``.

    Returns
    -------
    Profile
    """
    if isinstance(name, Profile):
        base = name
    elif name in PROFILES:
        base = PROFILES[name]
    else:
        raise KeyError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}")
    return _apply(base, overrides) if overrides else base


def config_hash(config: Any, length: int = 12) -> str:
    """Stable short hash of a (nested) dataclass or JSON-serialisable config.

    Used to name cached artefacts: the same config always maps to the same folder.
    """
    if dataclasses.is_dataclass(config):
        config = dataclasses.asdict(config)
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:length]
