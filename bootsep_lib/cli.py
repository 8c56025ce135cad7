"""Command line: ``bootsep make-data | train | separate | evaluate | run-all``.

Each subcommand is a thin wrapper over a library function; ``bootsep <cmd> --help`` lists the
options.  Sizes come from a named profile (``--profile smoke|laptop|paper``).  Errors the user
can fix (missing corpus, unreadable or truncated audio, a checkpoint that does not fit or holds
NaN weights, an output folder that cannot be written, a speech engine that fails, a full disk)
are one line on stderr and exit status 2.

Training on several GPUs runs the same command under ``torchrun``::

    torchrun --nproc_per_node=4 -m bootsep_lib.cli train --profile paper --targets spatial

``--profile``'s ``batch_size`` is the global batch (split over the processes; it must be a
multiple of their number): the run, its id and its schedule are those of one process.  Rank 0
prepares the data (the spatial stage and its label bank, cached) while the other ranks wait at
a barrier with its own long timeout
(:data:`bootsep_lib.engine.distributed.PREPARE_TIMEOUT`), then every rank reads the cache and
:func:`bootsep_lib.engine.train_model` runs data parallel; only rank 0 prints.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from . import paths
from .cli_parser import LOSS_CHOICES, build_parser
from .config import Profile, get_profile
from .losses import get_loss
from .util.folders import OutputDirError, no_space_message, prepare_output_dir

if TYPE_CHECKING:
    import pandas as pd

    from .data import Subset, TrainingSet
    from .engine import RunConfig

#: ``build_parser`` and ``LOSS_CHOICES`` live in :mod:`bootsep_lib.cli_parser`, re-exported here.
__all__ = ["main", "build_parser", "UsageError", "LOSS_CHOICES"]


class UsageError(Exception):
    """A problem the user can fix; :func:`main` prints it on one line and returns 2."""


def _selected_subsets(listed, args: argparse.Namespace) -> tuple[tuple, ...]:
    """The profile's ``(speakers, condition, rate)`` subsets that match the filter options, or
    exactly the one asked for when the profile lists none that match."""
    subsets = [
        s for s in listed
        if (args.speakers is None or s[0] == args.speakers)
        and (args.condition is None or s[1] == args.condition)
        and (args.rate is None or s[2] == args.rate)
    ]
    if not subsets:
        # Asked for a subset the profile does not list: build exactly that one.
        subsets = [(args.speakers or 2, args.condition or "anechoic", args.rate or 8000)]
    return tuple(subsets)


def _make_data(args: argparse.Namespace) -> int:
    from .data import build_all

    profile = get_profile(args.profile)
    overrides = {"subsets": _selected_subsets(profile.data.subsets, args)}
    if args.engine:
        overrides["engine"] = args.engine
    data = get_profile(profile, data=overrides).data
    root = args.root if args.root is not None else paths.data_root(data.root)
    prepare_output_dir(root, "--root")
    build_all(data, root=root, jobs=args.jobs)
    print(root)
    return 0


# --------------------------------------------------------------------------- train


def _check_corpus(profile: Profile, splits: tuple[str, ...]) -> None:
    """Raise :class:`UsageError` naming the ``make-data`` command when a split is unusable."""
    from .data import DatasetError, open_split

    for split in splits:
        try:
            open_split(profile, split, return_sources=False)  # checks folder and first file
        except DatasetError as exc:
            raise UsageError(
                f"no usable {profile.name!r} corpus for split {split!r}; build it first with "
                f"`bootsep make-data --profile {profile.name}` ({exc})"
            ) from exc


def _join_process_group(device: str | None) -> tuple[int, str | None, bool]:
    """Under ``torchrun`` (``WORLD_SIZE`` > 1), join the process group the trainer will use.

    The engine's one helper (:func:`bootsep_lib.engine.distributed.join_process_group`), which
    :func:`bootsep_lib.engine.train_model` also calls (NCCL on ``cuda:LOCAL_RANK``, else Gloo);
    the trainer then reuses the group.

    Returns
    -------
    rank : int
        0 without ``torchrun``.
    device : str or None
        This process's device (``cuda:LOCAL_RANK`` on GPUs), or ``device`` unchanged.
    owns_group : bool
        True when this call created the group (the caller destroys it).
    """
    from .engine.distributed import join_process_group

    ctx, dev = join_process_group(device)
    return ctx.rank, (str(dev) if ctx.world > 1 else device), ctx.owns_group


def _training_sets(
    profile: Profile, args: argparse.Namespace
) -> tuple[TrainingSet, TrainingSet]:
    """The tr / cv :class:`~bootsep_lib.data.TrainingSet` pair the arguments describe."""
    from .data import TrainingSet

    chimera = "source_mags" in get_loss(args.loss).keys
    common = {"targets": args.targets, "alpha": args.alpha, "with_sources": chimera,
              "jobs": args.jobs}
    train_set = TrainingSet(profile, "tr", limit=args.limit, **common)
    valid_set = TrainingSet(profile, "cv", **common)
    return train_set, valid_set


def _spatial_shards(profile: Profile, args: argparse.Namespace, rank: int, world: int) -> None:
    """This rank's share of the spatial stage of tr and cv, for spatial targets under DDP."""
    if args.targets != "spatial" or world == 1:
        return
    from .studies.spatial_stage import spatial_stage_shard

    for split in ("tr", "cv"):
        spatial_stage_shard(profile, split, rank, world, jobs=args.jobs, progress=rank == 0)


def _prepared_sets(profile: Profile, args: argparse.Namespace) -> tuple[TrainingSet, TrainingSet]:
    """The training sets, their spatial stage and item banks made by all ranks together.

    Under torchrun every rank first computes its share of a missing spatial stage; rank 0 then
    joins the shards into the stage while the others wait, and they read the finished cache
    (no two processes ever write the same file).  With ``train.item_bank`` every rank then
    builds its share of the banks' chunks, and all read all.
    """
    from .data.item_bank import open_item_bank
    from .engine.distributed import every_rank, main_first

    every_rank(lambda r, w: _spatial_shards(profile, args, r, w))
    sets = main_first(lambda: _training_sets(profile, args))
    if profile.train.item_bank:
        every_rank(lambda r, w: _item_banks(sets, args, r, w))
        for s in sets:
            s.attach_items(open_item_bank(s))
    return sets


def _item_banks(sets: tuple, args: argparse.Namespace, rank: int, world: int) -> None:
    """This rank's chunks of the item banks of the training sets."""
    from .data.item_bank import build_item_bank

    for s in sets:
        build_item_bank(s, jobs=args.jobs, rank=rank, world=world, progress=rank == 0)


def _check_device(device: str | None) -> None:
    """Raise :class:`UsageError` when ``--device cuda`` is asked and torch sees no GPU."""
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is visible to torch")


def _check_train_args(args: argparse.Namespace) -> None:
    """Raise :class:`UsageError` for option combinations ``train`` cannot honour."""
    if args.chimera_alpha is not None and get_loss(args.loss).model != "chimera":
        raise UsageError("--chimera-alpha applies to the Chimera losses only (--loss chimera)")
    _check_device(args.device)


def _print_training(result) -> None:
    """What rank 0 prints after training: run folder, cache hit, epochs, throughput."""
    history = result.history
    best = history["valid_loss"].min() if len(history) else float("nan")
    print(f"run dir: {result.run_dir}")
    print(f"cached: {'yes (nothing trained)' if result.cached else 'no'}")
    print(f"epochs: {len(history)}, best validation loss: {best:.4f}")
    print(f"optimiser steps: {result.steps} (best at step {result.best_step})")
    print(f"frames/s: {result.frames_per_second:,.0f}"
          + (" (logged mean of the original run)" if result.cached else ""))
    if result.stop_reason:
        print(f"stopped: {result.stop_reason}, {result.nonfinite_steps} non-finite steps skipped")


def _train(args: argparse.Namespace) -> int:
    import torch

    from .engine import train_model
    from .engine.config import with_max_steps
    from .studies import run_config

    _check_train_args(args)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    profile = get_profile(args.profile)
    _check_corpus(profile, ("tr", "cv"))

    from .engine.batches import local_batch_size

    world = int(os.environ.get("WORLD_SIZE", "1"))
    try:
        local_batch_size(profile.train.batch_size, world)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    rank, device, owns_group = _join_process_group(args.device)
    try:
        train_set, valid_set = _prepared_sets(profile, args)
        extra = {} if args.chimera_alpha is None else {"chimera_alpha": args.chimera_alpha}
        run = with_max_steps(run_config(profile, train_set, loss=args.loss, **extra),
                             args.max_steps)
        shown = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if rank == 0:
            print(f"run {run.run_id}: profile {profile.name}, {args.targets} targets, "
                  f"alpha {train_set.alpha:g}, loss {args.loss}, {len(train_set)} training / "
                  f"{len(valid_set)} validation mixtures, device {shown} x {world}")
        result = train_model(run, train_set, valid_set, cache_dir=paths.cache_dir(),
                             device=device)
    finally:
        if owns_group:
            import torch.distributed as dist

            dist.destroy_process_group()
    if rank == 0:
        _print_training(result)
    return 0


# --------------------------------------------------------------------------- separate


def _separate(args: argparse.Namespace) -> int:
    from .cli_models import separate_command

    _check_device(args.device)
    try:
        return separate_command(args)
    except ValueError as exc:  # AudioError, unreadable / mismatched checkpoint, wrong head
        raise UsageError(str(exc)) from exc


def _export_models(args: argparse.Namespace) -> int:
    from .cli_models import export_command

    try:
        return export_command(args)
    except FileNotFoundError as exc:  # a model the run has not cached
        raise UsageError(str(exc)) from exc


# --------------------------------------------------------------------------- evaluate


def _check_run_fits(run: RunConfig, profile: Profile, subset: Subset, head: str) -> None:
    """Raise :class:`UsageError` when a model cannot separate the profile's subset."""
    from .dsp import stft_params

    n_fft, _ = stft_params(subset.sample_rate, profile.spatial.window_ms, profile.spatial.hop_ms)
    if run.n_freqs != n_fft // 2 + 1 or run.n_sources != subset.n_speakers:
        raise UsageError(
            f"the model was trained for {run.n_sources} sources and {run.n_freqs} frequencies; "
            f"profile {profile.name!r} tests on {subset.n_speakers} sources at "
            f"{subset.sample_rate} Hz ({n_fft // 2 + 1} frequencies): pick the matching profile"
        )
    if head == "mi" and run.model_kind != "chimera":
        raise UsageError(f"--head mi needs a Chimera model; this one was trained with {run.loss}")


def _format_summary(summary: pd.DataFrame, columns: tuple[str, ...]) -> str:
    """One line per metric: ``name  mean [low, high]`` (dB except STOI)."""
    from .eval import format_ci

    lines = []
    for name, row in summary.iterrows():
        lines.append(f"{name} ({int(row['n'])} mixtures): mean [95% bootstrap CI]")
        for col in columns:
            unit = "" if col.startswith("stoi") else " dB"
            mean, interval = format_ci(row[col], row[f"{col}_low"], row[f"{col}_high"]).split(
                " ", 1)
            lines.append(f"  {col:<10} {mean:>7}{unit:<3} {interval}")
    return "\n".join(lines)


def _evaluated_checkpoint(given: Path) -> tuple[Path, Path]:
    """``(run_dir, checkpoint)`` of ``evaluate --checkpoint``: a ``.pt`` file is used itself,
    a run folder means its ``best.pt``."""
    if given.suffix == ".pt":
        if not given.is_file():
            raise UsageError(f"{given}: no such checkpoint")
        return given.parent, given
    if not (given / "best.pt").exists():
        raise UsageError(f"{given} holds no best.pt: pass a run folder of `bootsep train` "
                         "with at least one finished epoch")
    return given, given / "best.pt"


def _evaluate(args: argparse.Namespace) -> int:
    from .data import default_subset
    from .models import load_model
    from .studies import evaluate_model, summarize

    profile = get_profile(args.profile)
    run_dir, checkpoint = _evaluated_checkpoint(args.checkpoint)
    try:
        _, run = load_model(checkpoint, device="cpu")
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    _check_run_fits(run, profile, default_subset(profile), args.head)
    _check_corpus(profile, (args.split,))
    table = evaluate_model(profile, run_dir, split=args.split, head=args.head, bss=args.bss,
                           stoi=args.stoi, jobs=args.jobs, checkpoint=checkpoint)
    columns = ("si_sdr", "si_sdri", "si_sir", "si_sar", "si_sdr_mix")
    columns += ("sdr", "sir", "sar") if args.bss else ()
    columns += ("stoi", "stoi_mix") if args.stoi else ()
    summary = summarize({f"run {run.run_id} on {profile.name} {args.split}, head {args.head}":
                         table}, columns)
    print(_format_summary(summary, columns))
    return 0


def _run_all(args: argparse.Namespace) -> int:
    from .runall import main_run_all, select_notebooks

    try:  # before the corpus is built or the manifest written
        select_notebooks(paths.repo_root() / "notebooks", args.only)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if args.pretrained:
        from .shipped.pretrained import install_shipped

        install_shipped(paths.models_dir(), paths.cache_dir(),
                        log=lambda line: print(f"[run_all] {line}", file=sys.stderr))
    return main_run_all(get_profile(args.profile), args.jobs, args.only)


COMMANDS = {
    "make-data": _make_data,
    "train": _train,
    "separate": _separate,
    "evaluate": _evaluate,
    "run-all": _run_all,
    "export-models": _export_models,
}


def _user_error(exc: Exception) -> str | None:
    """The one-line message of an error the user can fix, or None for a bug (re-raised).

    Usage errors, unusable output folders, speech-engine errors (``CorpusError``) and a full
    disk (``ENOSPC``: "no space left on <path>").
    """
    from .data.speech import CorpusError

    if isinstance(exc, UsageError | OutputDirError | CorpusError):
        return str(exc)
    return no_space_message(exc)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``bootsep`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except Exception as exc:
        message = _user_error(exc)
        if message is None:
            raise
        print(f"bootsep {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
