"""Report cards: a small machine-written record of every trained model and its test scores.

A card says what was trained (config id, loss, data tag, seed), how (epochs, optimiser steps,
why training stopped, the epoch of the evaluated ``best.pt``) and how well: mean, standard
deviation, median and bootstrap 95% CI of the mean of SI-SDR, SI-SIR, SI-SAR and the SI-SDR
improvement over the mixture, over the test mixtures.  Each card is written twice, as JSON with
the per-mixture scores as CSV beside it: next to the checkpoint (``<run_dir>/card_<split>.json``,
``<run_dir>/scores_<split>.csv``) and in ``figures/cards/<model>_seed<seed>.{json,csv}``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..engine import TrainResult
from ..eval.stats import bootstrap_ci
from ..util.atomic import atomic_write_text

__all__ = ["CARD_METRICS", "model_card", "card_stem", "write_card", "write_cards", "cards_table"]

#: Scores summarised on a card (per-mixture means over sources of ``evaluate_model``).
CARD_METRICS = ("si_sdr", "si_sir", "si_sar", "si_sdri")


def _metric_summary(values: np.ndarray, n_boot: int, seed: int) -> dict[str, float]:
    mean, low, high = bootstrap_ci(values, n_boot=n_boot, seed=seed)
    return {"mean": mean, "std": float(np.std(values, ddof=1)) if values.size > 1 else 0.0,
            "median": float(np.median(values)), "ci_low": low, "ci_high": high}


def model_card(
    name: str,
    result: TrainResult,
    scores: pd.DataFrame,
    *,
    split: str = "tt",
    n_boot: int = 10_000,
    seed: int = 0,
) -> dict[str, Any]:
    """The card of one trained model scored on ``split``.

    Parameters
    ----------
    name : str
        The model's name in its study (a table row).
    result : TrainResult
        The finished run (its ``config.json``, ``done`` and ``best.pt`` are read).
    scores : pandas.DataFrame
        Per-mixture scores (``id`` and the columns of :data:`CARD_METRICS` present).
    split : str
    n_boot, seed
        Of the bootstrap CIs.

    Returns
    -------
    dict
        JSON-serialisable: ``name``, ``run_id``, ``seed``, ``loss``, ``data_tag``, ``split``,
        ``epochs``, ``steps``, ``stop_reason``, ``best_epoch``, ``n_mixtures`` and
        ``metrics`` (metric -> mean, std, median, ci_low, ci_high).
    """
    run_dir = Path(result.run_dir)
    config = json.loads((run_dir / "config.json").read_text())
    history = result.history
    best = history.loc[history["valid_loss"].idxmin()] if len(history) else None
    metrics = {m: _metric_summary(scores[m].to_numpy(dtype=np.float64), n_boot, seed)
               for m in CARD_METRICS if m in scores}
    return {
        "name": name,
        "run_id": config["run_id"],
        "seed": int(config["train"]["seed"]),
        "loss": config["loss"],
        "data_tag": config["data_tag"],
        "split": split,
        "epochs": int(len(history)),
        "steps": int(history["step"].iloc[-1]) if len(history) else 0,
        "stop_reason": result.stop_reason,
        "best_epoch": None if best is None else int(best["epoch"]),
        "n_mixtures": int(len(scores)),
        "metrics": metrics,
    }


def card_stem(card: Mapping[str, Any]) -> str:
    """File stem of a card in ``figures/cards``: the model name made safe, and its seed."""
    safe = re.sub(r"[^A-Za-z0-9.=-]+", "_", str(card["name"])).strip("_")
    return f"{safe}_seed{card['seed']}"


def write_card(
    card: Mapping[str, Any], scores: pd.DataFrame, run_dir: str | os.PathLike,
    folder: str | os.PathLike,
) -> list[Path]:
    """Write the card and its per-mixture CSV next to the checkpoint and into ``folder``."""
    text = json.dumps(card, indent=2) + "\n"
    csv = scores.to_csv(index=False)
    run_dir, folder = Path(run_dir), Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    split, stem = card["split"], card_stem(card)
    return [atomic_write_text(run_dir / f"card_{split}.json", text),
            atomic_write_text(run_dir / f"scores_{split}.csv", csv),
            atomic_write_text(folder / f"{stem}.json", text),
            atomic_write_text(folder / f"{stem}.csv", csv)]


def write_cards(
    results: Mapping[str, Mapping[int, TrainResult]],
    scores: Mapping[str, Mapping[int, pd.DataFrame]],
    folder: str | os.PathLike,
    *,
    split: str = "tt",
    n_boot: int = 10_000,
) -> list[dict[str, Any]]:
    """Cards of every (model, seed) of a study, written; returns the cards.

    Parameters
    ----------
    results, scores : name -> (seed -> TrainResult / per-mixture DataFrame)
    folder : path-like
        E.g. ``figures/cards``.
    """
    cards = []
    for name, by_seed in results.items():
        for s, result in by_seed.items():
            card = model_card(name, result, scores[name][s], split=split, n_boot=n_boot)
            write_card(card, scores[name][s], result.run_dir, folder)
            cards.append(card)
    return cards


def cards_table(cards: Sequence[Mapping[str, Any]], metric: str = "si_sdr") -> pd.DataFrame:
    """One row per card: name, seed, run id, steps, stop reason and ``metric``'s summary."""
    rows = []
    for c in cards:
        m = c["metrics"].get(metric, {})
        rows.append({"model": c["name"], "seed": c["seed"], "run_id": c["run_id"],
                     "steps": c["steps"], "stop_reason": c["stop_reason"],
                     "best_epoch": c["best_epoch"], **{f"{metric}_{k}": v for k, v in m.items()}})
    return pd.DataFrame(rows)
