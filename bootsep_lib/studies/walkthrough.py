"""The spatial stage up close (notebook 01): one mixture's intermediates, and the open choices.

:func:`walkthrough` keeps every intermediate of the spatial stage on one mixture;
:func:`spatial_choices` measures the stage under the two choices the paper leaves open (array
geometry and IPD normalisation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import spatial
from ..config import Profile
from ..data import split_status
from ..data.subsets import Subset, default_subset, open_split
from ..eval import evaluate_mixture
from ..eval.stats import bootstrap_ci
from ..spatial import confidence
from .spatial_stage import pair_channel, spatial_stage

__all__ = ["Walkthrough", "spatial_choices", "walkthrough"]


@dataclass
class Walkthrough:
    """Every intermediate of the spatial stage on one mixture (notebook 01).

    Attributes
    ----------
    mixture_id : str
    pair : (int, int)
    spec : np.ndarray, complex, shape (2, frames, freqs)
        STFT of the stereo pair.
    theta : np.ndarray, shape (frames, freqs)
        IPD (Eq. 1), normalised as the profile says.
    fit_bins : np.ndarray, bool, shape (frames, freqs)
        Bins above ``tau`` (Eq. 2).
    result : bootsep_lib.spatial.SpatialResult
    terms : bootsep_lib.spatial.confidence.ConfidenceTerms
    estimates, references : np.ndarray, shape (n_sources, samples)
        Masked reference channel and the sources' reference-channel images.
    mixture : np.ndarray, shape (channels, samples)
        All channels read (at least the pair).
    scores : dict of np.ndarray
        :func:`bootsep_lib.eval.evaluate_mixture` of the estimates.
    metadata : dict
        The mixture's metadata row (empty for foreign data).
    """

    mixture_id: str
    pair: tuple[int, int]
    spec: np.ndarray
    theta: np.ndarray
    fit_bins: np.ndarray
    result: spatial.SpatialResult
    terms: confidence.ConfidenceTerms
    estimates: np.ndarray
    references: np.ndarray
    mixture: np.ndarray
    scores: dict
    metadata: dict


def walkthrough(profile: Profile, index: int = 0, split: str = "tt",
                subset: Subset | None = None) -> Walkthrough:
    """Run the spatial stage on one mixture and keep every intermediate (notebook 01)."""
    subset = subset or default_subset(profile)
    cfg = profile.spatial
    ds = open_split(profile, split, subset=subset,
                    channels=tuple(range(1 + max(cfg.other_channels))))
    if not 0 <= index < len(ds):
        raise IndexError(f"mixture index {index} out of range: {split} has {len(ds)} mixtures")
    item = ds[index]
    mix = item["mix"].numpy().astype(np.float64)
    refs = item["sources"].numpy().astype(np.float64)[:, cfg.reference_channel]
    pair = (cfg.reference_channel, pair_channel(item["id"], cfg.other_channels,
                                                profile.data.seed))
    separation = spatial.separate_pair(mix, subset.sample_rate, cfg, pair, profile.data.seed)
    spec, result, estimates = separation.spec, separation.result, separation.estimates
    terms = confidence.confidence_terms(result, n_samples=cfg.jsd_samples,
                                        seed=profile.data.seed)
    scores = evaluate_mixture(estimates, refs, mix[pair[0]], subset.sample_rate)
    meta = {}
    if split_status(ds.folder) != "foreign":
        meta = ds.load_metadata().set_index("id").loc[item["id"]].to_dict()
    return Walkthrough(
        item["id"], pair, spec, spatial.ipd(spec, cfg.freq_normalize),
        spatial.fit_mask(spec, cfg.threshold_db, cfg.reference), result, terms, estimates,
        refs, mix, scores, meta,
    )


def spatial_choices(
    profile: Profile,
    *,
    n_mixtures: int | None = None,
    jobs: int = 1,
    progress: bool = True,
) -> pd.DataFrame:
    """The spatial stage under the two open choices, measured on test mixtures (notebook 01).

    Geometry: the profile's arrays vs the spatialized wsj0-2mix recipe (radius 7.5-12.5 cm);
    IPD: the paper's text (no normalisation) vs the authors' code (divided by omega + 1).
    The recipe-geometry corpus is built (cached) beside the profile's, with the same seed,
    speakers and sentences, for the first ``n_mixtures`` test mixtures.

    Returns
    -------
    pandas.DataFrame
        One row per combination: ``geometry``, ``ipd``, mean and 95% CI of SI-SDR, mean
        SI-SIR / SI-SAR, label accuracy, Pearson r (and p) of confidence vs SI-SDR, ``n``.
    """
    from scipy.stats import pearsonr

    from ..config import Geometry, get_profile
    from ..data import build_subset

    n = n_mixtures or profile.data.n_test
    subset = default_subset(profile)
    recipe = get_profile(profile, data={
        "root": f"{profile.data.root}-recipe-geometry", "geometry": Geometry(), "n_test": n,
        "subsets": (tuple(profile.data.subsets[0]),),
    })
    build_subset(recipe.data, subset.n_speakers, subset.condition,
                           subset.sample_rate, "tt", jobs=jobs, progress=progress)
    rows = []
    for base in (recipe, profile):
        r_lo, r_hi = (100 * r for r in base.data.geometry.array_radius)
        owner = "wsj0-2mix recipe" if base is recipe else "this profile"
        label = f"{owner} (r = {r_lo:g}-{r_hi:g} cm)"
        for ipd_name, normalise in (("paper text", False), ("authors' code: / (omega+1)", True)):
            variant = get_profile(base, spatial={"freq_normalize": normalise})
            t = spatial_stage(variant, "tt", jobs=jobs, limit=n, progress=progress).table
            mean, low, high = bootstrap_ci(t["si_sdr"].to_numpy())
            r = pearsonr(t["confidence"], t["si_sdr"]) if len(t) > 2 else (np.nan, np.nan)
            rows.append({
                "geometry": label, "ipd": ipd_name, "si_sdr": mean, "si_sdr_low": low,
                "si_sdr_high": high, "si_sir": t["si_sir"].mean(), "si_sar": t["si_sar"].mean(),
                "label_accuracy": t["label_accuracy"].mean(), "r": float(r[0]),
                "p": float(r[1]), "n": len(t),
                "is_profile": base is profile and normalise == profile.spatial.freq_normalize,
            })
    return pd.DataFrame(rows)
