"""``run_all --pretrained``: the shipped models stand in for training where their config matches.

The trainer (:func:`bootsep_lib.engine.train_model`) looks a model up by its config id in
``<cache>/models/<config_id>/`` and trains only when that folder has no ``done`` marker.
:func:`install_shipped` writes each shipped model there as a finished run (``config.json``,
``best.pt`` with the shipped weights in float32, ``last.pt`` with the card's progress,
``log.csv``, ``done`` and a ``shipped.json`` note), so a notebook that asks for a model with
that config id gets the shipped one, and any other model -- another profile, changed
settings, changed code giving another id -- is trained as usual.  A shipped checkpoint whose
configuration no longer hashes to its card's config id (the code changed how ids are made) is
skipped; an already finished run in the cache is never overwritten.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..engine import checkpoint as ckpt_io
from ..engine.config import RunConfig
from ..models import load_model
from ..models.loading import read_checkpoint
from ..util import atomic_write_text
from .cards import read_card, shipped_names

__all__ = ["Installed", "install_shipped"]


@dataclass(frozen=True)
class Installed:
    """What :func:`install_shipped` did with one shipped model."""

    name: str
    config_id: str
    action: str  # "installed", "already cached" or "skipped: <why>"


def _install(checkpoint: Path, card: dict, run_dir: Path) -> None:
    """Write the shipped model as a finished run folder (files as the trainer writes them)."""
    model, run = load_model(checkpoint, device="cpu")
    raw = read_checkpoint(checkpoint)
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_io.write_config(run_dir, run)
    history = [dict(zip(card["history"], values, strict=True))
               for values in zip(*card["history"].values(), strict=True)]
    state = ckpt_io.TrainState(epoch=card["epochs"], step=card["steps"],
                               best=card["best_valid_loss"], history=history,
                               stopped_early=card["stop_reason"] == "early_stop",
                               stop_reason=card["stop_reason"])
    signal = raw.get("signal")
    ckpt_io.save_best(run_dir / "best.pt", run, model, int(raw.get("epoch") or card["epochs"]),
                      float(raw.get("valid_loss") or card["best_valid_loss"]), signal)
    ckpt_io.save_last(run_dir / "last.pt", run, model, {}, state, signal)
    ckpt_io.write_log(run_dir, history)
    note = {"shipped_model": card["name"], "checkpoint": checkpoint.name,
            "stored_as": card["precision"]["dtype"], "commit": card["commit"]}
    atomic_write_text(run_dir / "shipped.json", json.dumps(note, indent=2) + "\n")
    ckpt_io.write_done(run_dir, run, state)  # last: the trainer trusts a run only once done


def install_shipped(
    models_dir: str | os.PathLike, cache_dir: str | os.PathLike, log=print
) -> list[Installed]:
    """Put every shipped model of ``models_dir`` into ``cache_dir`` as a finished run.

    Parameters
    ----------
    models_dir : path-like
        Folder of ``<name>.pt`` + ``<name>.json``.
    cache_dir : path-like
        The cache the notebooks train into (``<cache_dir>/models/<config_id>``).
    log : callable
        Receives one line per model.

    Returns
    -------
    list of Installed
    """
    models_dir, cache_dir = Path(models_dir), Path(cache_dir)
    out = []
    for name in shipped_names(models_dir):
        card = read_card(models_dir / f"{name}.json")
        checkpoint = models_dir / f"{name}.pt"
        run = RunConfig.from_dict(read_checkpoint(checkpoint)["run"])
        run_dir = cache_dir / "models" / card["config_id"]
        if run.run_id != card["config_id"]:
            action = (f"skipped: its configuration now hashes to {run.run_id}, not the card's "
                      f"{card['config_id']} (retrain: {card['retrain']})")
        elif (run_dir / "done").exists():
            action = "already cached"
        else:
            _install(checkpoint, card, run_dir)
            action = "installed"
        out.append(Installed(name, card["config_id"], action))
        log(f"shipped model {name} (config {card['config_id']}): {action}")
    return out
