"""Checks that the M-DC study's shared models really train alike (notebook 06).

:func:`~bootsep_lib.studies.mdc.study_models` trains once the models whose objectives
coincide (Chimera and M-Chimera at ``w = 0``, Chimera at ``w = 1`` and DC, M-Chimera at
``w = 1`` and M-DC); :func:`same_training` measures one such pair by training both side by
side, :func:`shared_model_checks` every pair of the study.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
from pathlib import Path

import pandas as pd
from torch.utils.data import Subset as ItemSubset
from tqdm.auto import tqdm

from ..config import Profile
from ..engine import train_model
from ..models import load_model
from .mdc import _MAIN, _mdc_job
from .training import ModelJob

__all__ = ["same_training", "shared_model_checks"]


def same_training(
    job_a: ModelJob, job_b: ModelJob, *, items: int = 32, epochs: int = 1
) -> dict[str, float]:
    """Train two jobs side by side from scratch (in a throwaway folder) and compare them.

    Both are trained for ``epochs`` epochs on the first ``items`` mixtures of their training
    and validation sets; parameters present in both networks (by name: the trunk and the
    embedding layer, and the MI head when both have one) are compared.

    Returns
    -------
    dict
        ``train_loss_a``, ``train_loss_b``, ``valid_loss_a``, ``valid_loss_b`` (last epoch),
        ``max_weight_diff`` (largest absolute difference over shared parameters; 0.0 means
        bit-identical training) and ``shared_parameters`` (number of tensors compared).
    """
    out: dict[str, float] = {}
    states = []
    with tempfile.TemporaryDirectory(prefix="bootsep-same-") as tmp:
        for tag, job in (("a", job_a), ("b", job_b)):
            n_train = min(items, len(job.train_set))
            n_valid = min(items, len(job.valid_set))
            run = dataclasses.replace(job.run, train=dataclasses.replace(job.run.train,
                                                                         epochs=epochs))
            result = train_model(run, ItemSubset(job.train_set, range(n_train)),
                                 ItemSubset(job.valid_set, range(n_valid)),
                                 cache_dir=Path(tmp) / tag, progress=False)
            last = result.history.iloc[-1]
            out[f"train_loss_{tag}"] = float(last["train_loss"])
            out[f"valid_loss_{tag}"] = float(last["valid_loss"])
            states.append(load_model(result.last_checkpoint, device="cpu")[0].state_dict())
    shared = sorted(set(states[0]) & set(states[1]))
    diffs = [float((states[0][k].double() - states[1][k].double()).abs().max()) for k in shared]
    out["max_weight_diff"] = max(diffs) if diffs else math.nan
    out["shared_parameters"] = float(len(shared))
    return out


def shared_model_checks(profile: Profile, *, items: int = 32, epochs: int = 1) -> pd.DataFrame:
    """Measure the sharing of :func:`study_models` on the profile's 2-speaker 8 kHz data.

    Rows: DC against itself (the reproducibility floor: 0 on CPU, where training is bitwise
    reproducible; cuDNN kernels are not); Chimera vs M-Chimera at ``w = 0``; Chimera at
    ``w = 1`` vs DC; M-Chimera at ``w = 1`` vs M-DC -- each pair trained side by side
    by :func:`same_training`.
    """
    main = _MAIN
    pairs = {
        "DC vs DC (the same run twice)": (
            _mdc_job(profile, main, "dc"), _mdc_job(profile, main, "dc")),
        "Chimera vs M-Chimera, alpha = 0": (
            _mdc_job(profile, main, "chimera", 0.0, with_sources=True),
            _mdc_job(profile, main, "mchimera", 0.0, with_sources=True)),
        "Chimera alpha = 1 vs DC": (
            _mdc_job(profile, main, "chimera", 1.0, with_sources=True),
            _mdc_job(profile, main, "dc")),
        "M-Chimera alpha = 1 vs M-DC": (
            _mdc_job(profile, main, "mchimera", 1.0, with_sources=True),
            _mdc_job(profile, main, "mdc")),
    }
    rows = {name: same_training(a, b, items=items, epochs=epochs)
            for name, (a, b) in tqdm(pairs.items(), desc="shared-model checks")}
    return pd.DataFrame.from_dict(rows, orient="index")
