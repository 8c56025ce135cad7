"""``bootsep separate`` and ``bootsep export-models``: the commands behind :mod:`bootsep_lib.cli`.

:func:`separate_command` runs a recording through a shipped model (``--model NAME``) or a
checkpoint and prints what the paper's system decided; :func:`export_command` writes the
shipped models.  Both raise ``ValueError`` / ``FileNotFoundError`` for errors the user can fix,
which :mod:`bootsep_lib.cli` prints on one line.
"""

from __future__ import annotations

import argparse

from .config import get_profile

__all__ = ["separate_command", "export_command"]


def _separate_model(args: argparse.Namespace):
    """``(model, run, card or None)`` of ``--model NAME`` or ``--checkpoint`` (a card beside a
    checkpoint file, ``<stem>.json``, is used when there is one)."""
    from .models import load_model
    from .shipped import find_model, read_card

    card = None
    if args.model is not None:
        checkpoint, card = find_model(args.model)
    else:
        checkpoint = args.checkpoint
        beside = checkpoint.with_suffix(".json")
        if checkpoint.suffix == ".pt" and beside.is_file():
            card = read_card(beside)
    model, run = load_model(checkpoint, args.device)
    return model, run, card


def _print_system(output, card, threshold) -> None:
    """The spatial stage's confidence and the ensemble's decision, or that the input is mono."""
    if output.spatial is None:
        print("mono input: the single-channel network alone (no spatial stage, no ensemble)")
        return
    ref, other = (c + 1 for c in output.pair)
    print(f"spatial stage on channels {ref},{other}: mean confidence {output.confidence:.4f}")
    if threshold is None:
        print("no confidence threshold (no model card; pass --threshold): ensemble not written")
        return
    source = "--threshold" if card is None or threshold != card["confidence_threshold"] else (
        f"model card {card['name']}")
    chosen = "spatial" if output.chose_spatial else "network"
    relation = "above" if output.chose_spatial else "not above"
    print(f"ensemble: confidence {output.confidence:.4f} is {relation} the threshold "
          f"{threshold:.4f} ({source}): it takes the {chosen} estimates")


def separate_command(args: argparse.Namespace) -> int:
    """``bootsep separate``: the spatial stage, network and ensemble (network alone for mono).

    The spatial stage's settings and seed and the threshold come from the model card (for a
    checkpoint without one: ``--profile``'s settings, and ``--threshold`` or no ensemble).
    """
    from .dsp import read_audio
    from .ensemble import separate_recording_file

    audio = read_audio(args.input)  # an unreadable input fails before the model loads
    model, run, card = _separate_model(args)
    profile = get_profile(card["profile"] if card else args.profile)
    threshold = args.threshold if args.threshold is not None else (
        card["confidence_threshold"] if card else None)
    output, written = separate_recording_file(
        args.input, model, run, args.out, profile.spatial, pair=args.pair, threshold=threshold,
        resample_input=args.resample, head=args.head, device=args.device, audio=audio,
        seed=profile.data.seed)
    _print_system(output, card, threshold)
    for path in written:
        print(path)
    return 0


def export_command(args: argparse.Namespace) -> int:
    """``bootsep export-models``: the shipped models of a run's cache, with their cards."""
    from .shipped.export import export_models

    written = export_models(get_profile(args.profile), args.out, jobs=args.jobs)
    for path in written:
        print(path)
    return 0
