"""Data access: corpus subsets and splits, and training items (see the submodules)."""

from .subsets import Subset, default_subset, open_split
from .training_set import TrainingSet, load_bank

__all__ = ["Subset", "TrainingSet", "default_subset", "load_bank", "open_split"]
