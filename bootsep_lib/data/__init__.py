"""The data room: speech engines, rooms and arrays, the corpus layout, its writer and readers.

Modules, in the order data flows through them:

- :mod:`.speech` -- speakers and the registry of speech engines (:func:`register_engine`,
  :func:`get_engine`); :mod:`.espeak` (default), :mod:`.flite` and :mod:`.kokoro` (natural
  voices, optional wheels) register themselves here.
  Adding an engine = one module with a decorated class + one import line below.
- :mod:`.text` -- the word list and random sentences.
- :mod:`.rooms` -- scenes: rooms, 8-mic arrays, speaker positions; array geometry helpers.
- :mod:`.acoustics` -- room simulation with calibrated T60, relative levels, mixing.
- :mod:`.layout` -- the on-disk layout shared by writer and readers.
- :mod:`.mixture`, :mod:`.build` -- the layout writer (``bootsep make-data``).
- :mod:`.readers` -- :class:`MixtureDataset` for ours and the real spatialized wsj0-2mix.
- :mod:`.subsets` -- a subset of a profile's corpus and its splits (:func:`open_split`).
- :mod:`.training_set` -- training items: features, labels (ground truth or the spatial
  stage's pseudo labels) and weights, kept in memory across epochs.
"""

from .acoustics import draw_levels, mix_sources, simulate
from .build import build_all, build_subset, spatialize_folder
from .espeak import EspeakEngine
from .flite import FliteEngine
from .kokoro import KokoroEngine
from .layout import (
    COMPLETE,
    CONDITIONS,
    JSON_COLUMNS,
    METADATA,
    SIDECARS,
    SPLITS,
    split_dir,
    split_status,
    subset_dir,
)
from .readers import DatasetError, MixtureDataset, collate_mixtures
from .rooms import (
    SPEED_OF_SOUND,
    GeometryError,
    Scene,
    aliasing_frequency,
    pairwise_distances,
    reference_pair_stats,
    reference_pairs,
    sample_scene,
    tdoa,
)
from .speech import (
    CorpusError,
    Engine,
    Speaker,
    engine_names,
    folder_utterances,
    get_engine,
    make_speakers,
    register_engine,
    split_speakers,
    synthesize,
)
from .subsets import Subset, default_subset, open_split
from .text import random_sentence, word_list
from .training_set import TrainingSet, load_bank

__all__ = [
    # acoustics
    "draw_levels", "mix_sources", "simulate",
    # build
    "build_all", "build_subset", "spatialize_folder",
    # engines
    "EspeakEngine", "FliteEngine", "KokoroEngine",
    # layout
    "COMPLETE", "CONDITIONS", "JSON_COLUMNS", "METADATA", "SIDECARS", "SPLITS", "split_dir",
    "split_status", "subset_dir",
    # readers
    "DatasetError", "MixtureDataset", "collate_mixtures",
    # rooms
    "SPEED_OF_SOUND", "GeometryError", "Scene", "aliasing_frequency", "pairwise_distances",
    "reference_pair_stats", "reference_pairs", "sample_scene", "tdoa",
    # speech
    "CorpusError", "Engine", "Speaker", "engine_names", "folder_utterances", "get_engine",
    "make_speakers", "register_engine", "split_speakers", "synthesize",
    # subsets, training items
    "Subset", "TrainingSet", "default_subset", "load_bank", "open_split",
    # text
    "random_sentence", "word_list",
]
