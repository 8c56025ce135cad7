"""Shipped models: the models behind the committed tables, with model cards, found by name.

* :mod:`.cards` -- finding a shipped model by name, reading and rendering its card;
* :mod:`.export` -- writing them from the cache of a run (``bootsep export-models``);
* :mod:`.pretrained` -- ``run_all --pretrained``: shipped models stand in for training where
  their config id matches.
"""

from .cards import CARD_FORMAT, ModelNotFound, find_model, read_card, render_card, shipped_names

__all__ = ["CARD_FORMAT", "ModelNotFound", "find_model", "read_card", "render_card",
           "shipped_names"]
