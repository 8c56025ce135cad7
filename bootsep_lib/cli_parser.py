"""The ``bootsep`` argument parser: one subparser per command, with its option types.

:func:`build_parser` is what :mod:`bootsep_lib.cli` parses with; the ``_add_<command>`` functions
declare each subcommand's options and the ``_positive_int``-style helpers check their values
(argparse prints their message and exits with status 2).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from .config import PROFILES
from .losses import loss_names

__all__ = ["build_parser", "DESCRIPTION", "LOSS_CHOICES", "TARGET_CHOICES", "HEAD_CHOICES",
           "SPLIT_CHOICES", "DEVICE_CHOICES"]

#: The top-level ``bootsep --help`` description (the first line of :mod:`bootsep_lib.cli`).
DESCRIPTION = "Command line: ``bootsep make-data | train | separate | evaluate | run-all``."

#: ``--loss`` choices: the loss registry's names (:func:`bootsep_lib.losses.loss_names`).
LOSS_CHOICES = loss_names()
TARGET_CHOICES = ("ground_truth", "spatial")
HEAD_CHOICES = ("dc", "mi")
SPLIT_CHOICES = ("tr", "cv", "tt")
DEVICE_CHOICES = ("cuda", "cpu")


def _add_profile(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", default="laptop", choices=sorted(PROFILES),
                   help="named scale profile (default: laptop)")


def _jobs_default() -> int:
    return max(1, os.cpu_count() or 1)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0.0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _unit_float(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1], got {text}")
    return value


def _add_make_data(sub: argparse._SubParsersAction) -> None:
    """``bootsep make-data``: synthesize and spatialize the corpus."""
    p = sub.add_parser("make-data", help="synthesize and spatialize the embedded corpus")
    _add_profile(p)
    p.add_argument("--root", type=Path, default=None,
                   help="output root (default: $BOOTSEP_DATA or <repo>/data)")
    p.add_argument("--speakers", type=int, choices=(2, 3), default=None,
                   help="only the subsets with this many speakers")
    p.add_argument("--condition", choices=("anechoic", "reverb"), default=None)
    p.add_argument("--rate", type=int, choices=(8000, 16000), default=None)
    p.add_argument("--engine", default=None, help="speech engine (espeak, kokoro, flite)")
    p.add_argument("--jobs", type=_positive_int, default=_jobs_default())


def _add_train(sub: argparse._SubParsersAction) -> None:
    """``bootsep train``: one model on the profile's main subset (choices as the trainer's)."""
    p = sub.add_parser(
        "train", help="train (or fetch from the cache) one model on the profile's main subset",
        description="Train one deep clustering / M-DC / Chimera model on the tr split of the "
        "profile's first subset, validated on cv; cached by configuration under "
        "$BOOTSEP_CACHE/models/<run_id>.  The defaults are notebook 03's model (spatial "
        "targets, alpha = 1, DC loss), so that notebooks 03 and 04 find it in the cache.  "
        "Several GPUs: torchrun --nproc_per_node=K -m bootsep_lib.cli train ...",
    )
    _add_profile(p)
    p.add_argument("--targets", choices=TARGET_CHOICES, default="spatial",
                   help="ground-truth labels or the spatial stage's pseudo labels "
                   "(default: spatial)")
    p.add_argument("--alpha", type=_non_negative_float, default=1.0,
                   help="confidence exponent of the weights w(alpha) (default: 1; ignored with "
                   "ground-truth targets, which use magnitude weights)")
    p.add_argument("--loss", choices=LOSS_CHOICES, default="dc", help="objective (default: dc)")
    p.add_argument("--chimera-alpha", type=_unit_float, default=None,
                   help="weight of the DC term of the Chimera losses (default: 0.975)")
    p.add_argument("--limit", type=_positive_int, default=None,
                   help="train on the first N training mixtures only (validation: all)")
    p.add_argument("--jobs", type=_positive_int, default=_jobs_default(),
                   help="processes for the spatial stage when it is not cached yet")
    p.add_argument("--device", choices=DEVICE_CHOICES, default=None,
                   help="default: cuda when available (cuda:LOCAL_RANK under torchrun), else cpu")
    p.add_argument("--threads", type=_positive_int, default=None,
                   help="torch CPU threads (default: torch's choice)")
    p.add_argument("--max-steps", type=_positive_int, default=None,
                   help="end the run after N optimiser steps (a smoke run of any profile; a "
                   "run of its own, with its own run id)")


def _add_separate(sub: argparse._SubParsersAction) -> None:
    """``bootsep separate``: a recording through a shipped or trained model (and, for stereo or
    multichannel input, the paper's spatial stage and confidence ensemble)."""
    p = sub.add_parser(
        "separate", help="separate a recording with a shipped or trained model",
        description="Separate IN.wav.  Mono input: the single-channel network alone, into "
        "OUT/<stem>_s1.wav, ...  Stereo or multichannel input: the paper's system -- the "
        "spatial stage on the channels of --pair (its mean confidence is printed), the network "
        "on the first of them, and the confidence ensemble (spatial where the confidence is "
        "above the model card's threshold, else the network), into OUT/<stem>_spatial_s1.wav, "
        "<stem>_network_s1.wav and <stem>_ensemble_s1.wav, ...",
        epilog="example:\n  bootsep separate --model laptop-alpha1 recording.wav --out sep/\n"
        "  bootsep separate --model laptop-alpha1 array.wav --pair 1,3 --resample --out sep/\n"
        "shipped models: see models/*.md",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", type=Path, metavar="IN.wav", help="mono or multichannel audio")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", default=None, metavar="NAME",
                       help="a shipped model by name (models/NAME.pt and its card)")
    which.add_argument("--checkpoint", type=Path, default=None,
                       help="best.pt / last.pt, or a run folder")
    p.add_argument("--out", type=Path, required=True, help="output folder (created)")
    p.add_argument("--head", choices=HEAD_CHOICES, default="dc",
                   help="dc: K-means on the embeddings; mi: Chimera's mask head (default: dc)")
    p.add_argument("--device", choices=DEVICE_CHOICES, default=None)
    p.add_argument("--pair", default=None, metavar="I,J",
                   help="1-based channels of the spatial stage, reference first (default 1,2)")
    p.add_argument("--resample", action="store_true",
                   help="resample the input to the model's rate (default: refuse another rate)")
    p.add_argument("--threshold", type=float, default=None,
                   help="confidence threshold of the ensemble (default: the model card's)")
    p.add_argument("--profile", default="laptop", choices=sorted(PROFILES),
                   help="spatial-stage settings for a --checkpoint without a model card "
                   "(default: laptop)")


def _add_export_models(sub: argparse._SubParsersAction) -> None:
    """``bootsep export-models``: the cached models behind the tables, with model cards."""
    p = sub.add_parser(
        "export-models", help="write the shipped models and their cards from a run's cache",
        description="Write <profile>-alpha1, <profile>-groundtruth and <profile>-mdc-2spk8k "
        "(.pt, .json model card, .md) from the models a ./run_all.sh run cached, scored on the "
        "test split; float16 weights only where they move the mean test SI-SDR by <= 0.05 dB.")
    _add_profile(p)
    p.add_argument("--out", type=Path, default=None, help="default: <repo>/models")
    p.add_argument("--jobs", type=_positive_int, default=_jobs_default())


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    """``bootsep evaluate``: mean scores and bootstrap CIs of a model on a split."""
    p = sub.add_parser("evaluate", help="score a trained model on a split (mean and 95%% CI)",
                       description="Separate channel 0 of every mixture of a split of the "
                       "profile's first subset and print mean scores with bootstrap 95%% CIs.")
    _add_profile(p)
    p.add_argument("--checkpoint", type=Path, required=True, metavar="RUN_DIR",
                   help="a run folder (its best.pt is used) or a checkpoint file (.pt)")
    p.add_argument("--split", choices=SPLIT_CHOICES, default="tt")
    p.add_argument("--head", choices=HEAD_CHOICES, default="dc")
    p.add_argument("--bss", action="store_true", help="also BSS-eval SDR/SIR/SAR")
    p.add_argument("--stoi", action="store_true", help="also STOI")
    p.add_argument("--jobs", type=_positive_int, default=_jobs_default())


def _add_run_all(sub: argparse._SubParsersAction) -> None:
    """``bootsep run-all``: data if missing, then every notebook."""
    p = sub.add_parser("run-all", help="data if missing, then every notebook via papermill")
    _add_profile(p)
    p.add_argument("--jobs", type=_positive_int, default=_jobs_default())
    p.add_argument("--only", default=None, help="comma-separated notebook numbers, e.g. 04")
    p.add_argument("--pretrained", action="store_true",
                   help="use the shipped models (models/) where their config id matches "
                   "instead of training them")


def _version() -> str:
    """The installed package's version (its metadata), else :data:`bootsep_lib.__version__`."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bootsep")
    except PackageNotFoundError:
        from . import __version__

        return __version__


def build_parser() -> argparse.ArgumentParser:
    """The ``bootsep`` parser: one subparser per command of :data:`bootsep_lib.cli.COMMANDS`."""
    parser = argparse.ArgumentParser(prog="bootsep", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"bootsep {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_make_data, _add_train, _add_separate, _add_evaluate, _add_run_all,
                _add_export_models):
        add(sub)
    return parser
