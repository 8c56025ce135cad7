"""Model cards of the shipped models: finding a model by name, reading and rendering its card.

A shipped model is three files in the models folder (:func:`bootsep_lib.paths.models_dir`,
``<repo>/models``): ``<name>.pt`` (a bootsep checkpoint, weights in float16 or float32, which
:func:`bootsep_lib.models.load_model` reads like any other), ``<name>.json`` (its card, the
fields of :data:`CARD_FIELDS`) and ``<name>.md`` (the card rendered for people,
:func:`render_card`).  Cards are written by :func:`bootsep_lib.shipped.export.export_models`
from the cached models of a run and the tables it committed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .. import paths

__all__ = ["CARD_FORMAT", "CARD_FIELDS", "ModelNotFound", "find_model", "read_card",
           "render_card", "shipped_names"]

CARD_FORMAT = "bootsep-model-card-v1"

#: Keys every card holds (``history`` and ``precision`` are dicts, see the exporter).
CARD_FIELDS = (
    "format", "name", "description", "profile", "corpus", "labels", "alpha", "loss",
    "config_id", "data_tag", "steps", "epochs", "stop_reason", "best_valid_loss", "history",
    "commit", "test_scores", "n_test", "confidence_threshold", "spatial", "precision",
    "retrain", "sample_rate", "n_sources", "table",
)


#: Score columns a card reports (when the evaluation has them), in this order.
CARD_METRICS = ("si_sdr", "si_sdri", "si_sir", "si_sar", "sdr", "sir", "sar", "stoi")


class ModelNotFound(ValueError):
    """No shipped model of that name (the message lists those there are)."""


def shipped_names(folder: str | os.PathLike | None = None) -> list[str]:
    """Names of the shipped models in ``folder`` (default: the models folder), sorted."""
    folder = Path(folder) if folder is not None else paths.models_dir()
    return sorted(p.stem for p in folder.glob("*.json") if (folder / f"{p.stem}.pt").exists())


def read_card(path: str | os.PathLike) -> dict[str, Any]:
    """Read a card (``<name>.json``); ``ValueError`` when it is not one or lacks a field."""
    path = Path(path)
    try:
        card = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: unreadable model card ({exc})") from exc
    if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
        raise ValueError(f"{path}: not a bootsep model card ({CARD_FORMAT})")
    missing = [k for k in CARD_FIELDS if k not in card]
    if missing:
        raise ValueError(f"{path}: model card lacks {missing}")
    return card


def find_model(name: str, folder: str | os.PathLike | None = None
               ) -> tuple[Path, dict[str, Any]]:
    """``(checkpoint, card)`` of the shipped model ``name``.

    Raises
    ------
    ModelNotFound
        No ``<name>.pt`` with its card; the message lists the shipped names.
    """
    folder = Path(folder) if folder is not None else paths.models_dir()
    checkpoint, card = folder / f"{name}.pt", folder / f"{name}.json"
    if not (checkpoint.is_file() and card.is_file()):
        names = shipped_names(folder) if folder.is_dir() else []
        listed = ", ".join(names) if names else "none"
        raise ModelNotFound(f"no shipped model {name!r} in {folder} (shipped: {listed}); "
                            "pass a checkpoint with --checkpoint instead")
    return checkpoint, read_card(card)


def _score_lines(card: dict[str, Any]) -> list[str]:
    lines = ["| metric | mean | 95% CI |", "|---|---|---|"]
    scores = card["test_scores"]
    for metric in sorted(scores, key=lambda m: (CARD_METRICS + (m,)).index(m)):
        s = scores[metric]
        unit = "" if metric.startswith("stoi") else " dB"
        lines.append(f"| {metric} | {s['mean']:.2f}{unit} | [{s['low']:.2f}, {s['high']:.2f}] |")
    return lines


def render_card(card: dict[str, Any]) -> str:
    """The card as Markdown (``<name>.md``): a pure function of the JSON card."""
    alpha = "magnitude weights (ground truth)" if card["alpha"] is None else f"{card['alpha']:g}"
    prec = card["precision"]
    lines = [
        f"# Model card: `{card['name']}`", "", card["description"], "",
        "| | |", "|---|---|",
        f"| trained on | {card['corpus']['subset']}, {card['corpus']['n_train']} training / "
        f"{card['corpus']['n_valid']} validation mixtures ({card['corpus']['engine']} voices) |",
        f"| profile | `{card['profile']}` |",
        f"| labels | {card['labels']} |",
        f"| alpha (confidence exponent) | {alpha} |",
        f"| loss | {card['loss']} |",
        f"| steps / epochs | {card['steps']} / {card['epochs']} (stopped: {card['stop_reason']}) |",
        f"| best validation loss | {card['best_valid_loss']:.4f} |",
        f"| config id | `{card['config_id']}` |",
        f"| commit | `{card['commit']}` |",
        f"| sample rate / sources | {card['sample_rate']} Hz / {card['n_sources']} |",
        f"| ensemble confidence threshold | {card['confidence_threshold']:.4f} |",
        f"| stored as | {prec['dtype']} (mean test SI-SDR moved {prec['mean_si_sdr_change']:+.4f}"
        f" dB, at most {prec['max_abs_change']:.4f} dB on one mixture; limit "
        f"{prec['limit_db']:g} dB) |",
        f"| behind | {card['table']} |", "",
        f"## Test scores ({card['n_test']} test mixtures, mean and bootstrap 95% CI)", "",
        *_score_lines(card), "",
        "## Retrain", "", "```bash", card["retrain"], "```", "",
        "## Use", "", "```bash",
        f"bootsep separate --model {card['name']} recording.wav --out separated/", "```", "",
    ]
    return "\n".join(lines)
