"""The runs behind each table and figure: which data, which stage, results as DataFrames.

Everything here is cached by config: a finished run is read back, never recomputed.  Cached
files live under :func:`bootsep_lib.paths.cache_dir` in a folder named by the hash of every
setting that affects them, and are written atomically.

The spatial stage (Sections 2.1-2.2 of the bootstrapping paper) runs once per split: for every
mixture, a stereo pair (channel 0 and one of the profile's ``other_channels``, fixed per
mixture), spatial clustering, the three confidence terms, and the separation quality of the
masks applied to channel 0.  Its per-bin outputs (pseudo labels, ``C_post``, ground-truth
labels) form the *label bank* that training and the Quality/Quantity columns read.
"""

from __future__ import annotations

import json
import os
import warnings
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .. import confidence, dsp, metrics, paths, spatial, targets
from ..config import Profile, SpatialConfig, config_hash
from ..data import MixtureDataset, split_status
from ..util.threads import worker_pool

__all__ = [
    "Subset",
    "SpatialStage",
    "default_subset",
    "open_split",
    "pair_channel",
    "spatial_mixture",
    "spatial_stage",
    "load_bank",
    "pair_study",
    "walkthrough",
    "Walkthrough",
    "spatial_choices",
    "correlations",
    "spatial_findings",
    "ALPHAS",
]

#: Bump when the spatial stage's outputs change meaning, so stale caches are not reused.
SPATIAL_STAGE_VERSION = 1

#: The confidence exponents of Table 1 (alpha = 0: magnitude weights only).
ALPHAS: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0)


@dataclass(frozen=True)
class Subset:
    """One corpus subset: ``{n_speakers}speakers_{condition}/wav{rate}``."""

    n_speakers: int = 2
    condition: str = "anechoic"
    sample_rate: int = 8000


def default_subset(profile: Profile) -> Subset:
    """The profile's first subset (2 speakers, anechoic, 8 kHz for every built-in profile)."""
    return Subset(*profile.data.subsets[0])


def open_split(
    profile: Profile,
    split: str,
    *,
    subset: Subset | None = None,
    channels: str | tuple[int, ...] = "reference",
    return_sources: bool = True,
) -> MixtureDataset:
    """The profile's corpus split as a :class:`~bootsep_lib.data.MixtureDataset`."""
    subset = subset or default_subset(profile)
    return MixtureDataset(
        paths.data_root(profile.data.root),
        split,
        n_speakers=subset.n_speakers,
        condition=subset.condition,
        sample_rate=subset.sample_rate,
        channels=channels,
        return_sources=return_sources,
    )


def pair_channel(mixture_id: str, others: tuple[int, ...], seed: int = 0) -> int:
    """The second channel of a mixture's stereo pair: one of ``others``, fixed per mixture.

    The paper draws "a random other channel" among mics 2-4; we draw it once per mixture from
    a hash of its id and the seed, so every notebook uses the same pair for the same mixture.
    """
    rng = np.random.default_rng([seed, zlib.crc32(mixture_id.encode())])
    return int(others[int(rng.integers(len(others)))])


def spatial_mixture(
    mix: np.ndarray,
    sources: np.ndarray,
    sample_rate: int,
    cfg: SpatialConfig,
    pair: tuple[int, int],
    *,
    seed: int = 0,
) -> tuple[dict, dict[str, np.ndarray]]:
    """Spatial separation, confidence and scores of one mixture.

    Parameters
    ----------
    mix : np.ndarray, shape (channels, samples)
    sources : np.ndarray, shape (n_sources, channels, samples)
        Source images (ground truth, used only for scoring and ground-truth labels).
    sample_rate : int
    cfg : SpatialConfig
        Window, hop, ``tau`` and its reference, IPD normalisation, JSD samples.
    pair : (int, int)
        Reference channel and second channel.
    seed : int
        Seed of the EM initialisation and the JSD Monte Carlo.

    Returns
    -------
    row : dict
        Scalars: SI-SDR/SIR/SAR of the estimates and of the mixture (means over sources),
        confidence terms, mean confidence (alpha = 1), label accuracy, fitted fraction, and
        for every alpha in :data:`ALPHAS` the weight sum ``wsum_{alpha}`` (sum of w(alpha),
        Section 2.3; 1 for magnitude weights) and the label quality ``quality_{alpha}``
        (1 - d_chi2 between ground-truth and pseudo labels weighted by w(alpha)).
    arrays : dict of np.ndarray, each (frames, freqs)
        ``labels`` (pseudo labels, int8), ``post`` (C_post, float16), ``truth`` (ground-truth
        labels on the reference channel, int8).
    """
    ref = pair[0]
    spec = dsp.stft(mix[list(pair)], sample_rate, cfg.window_ms, cfg.hop_ms)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", spatial.SpatialWarning)
        result = spatial.spatial_clustering(
            spec, cfg.n_sources, cfg.threshold_db, seed,
            reference=cfg.reference, freq_normalize=cfg.freq_normalize,
        )
        terms = confidence.confidence_terms(result, n_samples=cfg.jsd_samples, seed=seed)
    masked = spatial.apply_masks(result.masks.astype(spec.real.dtype), spec[0])
    estimates = dsp.istft(masked, sample_rate, mix.shape[-1], cfg.window_ms, cfg.hop_ms)
    refs = sources[:, ref]
    scores = metrics.evaluate_mixture(estimates, refs, mix[ref], sample_rate)
    src_spec = dsp.stft(refs, sample_rate, cfg.window_ms, cfg.hop_ms)
    truth = targets.ground_truth_labels(src_spec)
    magnitude = np.abs(spec[0])
    per_alpha = {}
    for alpha in ALPHAS:
        w = targets.bootstrap_weights(magnitude, terms.cl, terms.jsd, terms.post, alpha)
        per_alpha[f"wsum_{alpha:g}"] = float(w.sum())
        per_alpha[f"quality_{alpha:g}"] = (
            metrics.partition_quality(truth, result.labels, w) if w.sum() > 0 else 0.0
        )
    row = {
        "pair": int(pair[1]),
        "si_sdr": float(scores["si_sdr"].mean()),
        "si_sir": float(scores["si_sir"].mean()),
        "si_sar": float(scores["si_sar"].mean()),
        "si_sdr_mix": float(scores["si_sdr_mix"].mean()),
        "conf_cl": terms.cl,
        "conf_jsd": terms.jsd,
        "conf_post": float(terms.post.mean()),
        "confidence": terms.mean(1.0),
        "label_accuracy": metrics.label_accuracy(truth, result.labels, magnitude, cfg.n_sources),
        "fit_fraction": float(result.fit_bins.mean()),
        "degenerate": bool(result.degenerate),
        **per_alpha,
    }
    arrays = {
        "labels": result.labels.astype(np.int8),
        "post": terms.post.astype(np.float16),
        "truth": truth.astype(np.int8),
    }
    return row, arrays


@dataclass
class SpatialStage:
    """Results of the spatial stage on one split.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per mixture (``id`` plus the columns of :func:`spatial_mixture`).
    bank : dict of np.ndarray
        Per-bin arrays of every mixture concatenated along frames (``labels``, ``post``,
        ``truth``: (total_frames, freqs)) and ``offsets`` (n_mixtures + 1,)
        so that mixture ``i`` is ``[offsets[i]:offsets[i + 1]]``.
    folder : Path
        The cache folder.
    """

    table: pd.DataFrame
    bank: dict[str, np.ndarray]
    folder: Path

    def arrays(self, index: int) -> dict[str, np.ndarray]:
        """The per-bin arrays of mixture ``index``, each (frames, freqs)."""
        lo, hi = self.bank["offsets"][index], self.bank["offsets"][index + 1]
        return {k: v[lo:hi] for k, v in self.bank.items() if k != "offsets"}


def _stage_worker(args: tuple) -> list[tuple[int, dict, dict]]:
    profile, split, subset, indices = args
    cfg = profile.spatial
    ds = open_split(profile, split, subset=subset, channels=tuple(range(
        1 + max(cfg.other_channels))))
    out = []
    for i in indices:
        item = ds[i]
        pair = (cfg.reference_channel, pair_channel(item["id"], cfg.other_channels,
                                                    profile.data.seed))
        row, arrays = spatial_mixture(
            item["mix"].numpy().astype(np.float64), item["sources"].numpy().astype(np.float64),
            subset.sample_rate, cfg, pair, seed=profile.data.seed,
        )
        out.append((i, {"id": item["id"], **row}, arrays))
    return out


def _save_atomic_npy(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, array)
    os.replace(tmp, path)


BANK_KEYS = ("labels", "post", "truth", "offsets")


def load_bank(folder: Path, split: str) -> dict[str, np.ndarray]:
    """The label bank of a finished spatial stage, memory-mapped (read-only)."""
    return {k: np.load(folder / f"{split}_{k}.npy", mmap_mode="r") for k in BANK_KEYS}


def spatial_stage(
    profile: Profile,
    split: str,
    *,
    subset: Subset | None = None,
    jobs: int = 1,
    limit: int | None = None,
    progress: bool = True,
) -> SpatialStage:
    """Run (or read back) the spatial stage on every mixture of a split.

    Parameters
    ----------
    profile : Profile
    split : {"tr", "cv", "tt"}
    subset : Subset, optional
        Default: the profile's first subset.
    jobs : int
        Worker processes.
    limit : int, optional
        Only the first ``limit`` mixtures (exploration; cached separately).
    progress : bool
        Show a tqdm bar.

    Returns
    -------
    SpatialStage
    """
    subset = subset or default_subset(profile)
    ds = open_split(profile, split, subset=subset, return_sources=False)
    n = len(ds) if limit is None else min(limit, len(ds))
    key = config_hash({
        "version": SPATIAL_STAGE_VERSION, "data": asdict(profile.data), "subset": asdict(subset),
        "spatial": asdict(profile.spatial), "split": split, "n": n,
    })
    folder = paths.cache_dir() / "spatial" / key
    table_path = folder / f"{split}.csv"
    if table_path.exists():  # written last: the bank files before it are complete
        return SpatialStage(pd.read_csv(table_path), load_bank(folder, split), folder)

    folder.mkdir(parents=True, exist_ok=True)
    jobs = max(1, min(jobs, n))
    chunks = [list(range(n))[k::jobs * 4] for k in range(jobs * 4)]
    chunks = [c for c in chunks if c]
    tasks = [(profile, split, subset, c) for c in chunks]
    results: list[tuple[int, dict, dict]] = []
    bar = tqdm(total=n, desc=f"spatial stage {split}", disable=not progress)
    if jobs == 1:
        for t in tasks:
            results.extend(_stage_worker(t))
            bar.update(len(t[-1]))
    else:
        with worker_pool(jobs) as pool:
            for part in pool.map(_stage_worker, tasks):
                results.extend(part)
                bar.update(len(part))
    bar.close()
    results.sort(key=lambda r: r[0])
    table = pd.DataFrame([r[1] for r in results])
    lengths = [r[2]["labels"].shape[0] for r in results]
    bank = {k: np.concatenate([r[2][k] for r in results]) for k in results[0][2]}
    bank["offsets"] = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    (folder / "config.json").write_text(json.dumps({
        "profile": profile.name, "split": split, "subset": asdict(subset),
        "spatial": asdict(profile.spatial), "n": n,
    }, indent=2))
    for k in BANK_KEYS:
        _save_atomic_npy(folder / f"{split}_{k}.npy", bank[k])
    tmp = table_path.with_name(f".{table_path.name}.tmp")
    table.to_csv(tmp, index=False)
    os.replace(tmp, table_path)
    return SpatialStage(table, bank, folder)


def _pair_worker(args: tuple) -> list[dict]:
    profile, split, subset, indices = args
    cfg = profile.spatial
    ds = open_split(profile, split, subset=subset,
                    channels=tuple(range(profile.data.geometry.n_mics)))
    meta = ds.load_metadata().set_index("id")
    out = []
    for i in indices:
        item = ds[i]
        mix = item["mix"].numpy().astype(np.float64)
        sources = item["sources"].numpy().astype(np.float64)
        mics = np.asarray(meta.loc[item["id"], "mic_positions"], dtype=np.float64)  # (3, mics)
        srcs = np.asarray(meta.loc[item["id"], "source_positions"], dtype=np.float64)  # (n, 3)
        pairs = [(a, b) for a in range(mix.shape[0]) for b in range(a + 1, mix.shape[0])]
        for a, b in pairs:
            row, _ = spatial_mixture(mix, sources, subset.sample_rate, cfg, (a, b),
                                     seed=profile.data.seed)
            d = float(np.linalg.norm(mics[:, a] - mics[:, b]))
            # time differences of arrival of each source on this pair, in samples
            tdoa = [(np.linalg.norm(s - mics[:, b]) - np.linalg.norm(s - mics[:, a]))
                    / 343.0 * subset.sample_rate for s in srcs]
            out.append({"id": item["id"], "mic_a": a, "mic_b": b, "distance": d,
                        "tdoa_gap": float(abs(tdoa[0] - tdoa[1])), **row})
    return out


def pair_study(
    profile: Profile,
    split: str = "tt",
    *,
    subset: Subset | None = None,
    limit: int = 60,
    jobs: int = 1,
    progress: bool = True,
) -> pd.DataFrame:
    """Spatial clustering on every microphone pair of the first ``limit`` mixtures.

    The 8-mic arrays hold pairs from about 1 to 25 cm apart, so one corpus shows how the
    spatial stage depends on the spacing (spatial aliasing starts at ``c / 2d``) and on the
    gap between the sources' time differences of arrival (front/back ambiguity).  Cached.

    Returns
    -------
    pandas.DataFrame
        One row per (mixture, pair): ``mic_a``, ``mic_b``, ``distance`` (m), ``tdoa_gap``
        (samples), and the columns of :func:`spatial_mixture` (masks applied to ``mic_a``).
    """
    subset = subset or default_subset(profile)
    key = config_hash({
        "version": SPATIAL_STAGE_VERSION, "kind": "pairs", "data": asdict(profile.data),
        "subset": asdict(subset), "spatial": asdict(profile.spatial),
        "split": split, "limit": limit,
    })
    path = paths.cache_dir() / "pairs" / f"{key}.csv"
    if path.exists():
        return pd.read_csv(path)
    ds = open_split(profile, split, subset=subset, return_sources=False)
    n = min(limit, len(ds))
    jobs = max(1, min(jobs, n))
    tasks = [(profile, split, subset, list(range(n))[k::jobs]) for k in range(jobs)]
    rows: list[dict] = []
    with tqdm(total=n, desc="pair study", disable=not progress) as bar:
        if jobs == 1:
            for t in tasks:
                rows.extend(_pair_worker(t))
                bar.update(len(t[3]))
        else:
            with worker_pool(jobs) as pool:
                for t, part in zip(tasks, pool.map(_pair_worker, tasks), strict=True):
                    rows.extend(part)
                    bar.update(len(t[3]))
    table = pd.DataFrame(rows).sort_values(["id", "mic_a", "mic_b"], ignore_index=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    table.to_csv(tmp, index=False)
    os.replace(tmp, path)
    return table


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
    terms : bootsep_lib.confidence.ConfidenceTerms
    estimates, references : np.ndarray, shape (n_sources, samples)
        Masked reference channel and the sources' reference-channel images.
    mixture : np.ndarray, shape (channels, samples)
        All channels read (at least the pair).
    scores : dict of np.ndarray
        :func:`bootsep_lib.metrics.evaluate_mixture` of the estimates.
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
    spec = dsp.stft(mix[list(pair)], subset.sample_rate, cfg.window_ms, cfg.hop_ms)
    result = spatial.spatial_clustering(spec, cfg.n_sources, cfg.threshold_db, profile.data.seed,
                                        reference=cfg.reference,
                                        freq_normalize=cfg.freq_normalize)
    terms = confidence.confidence_terms(result, n_samples=cfg.jsd_samples,
                                        seed=profile.data.seed)
    masked = spatial.apply_masks(result.masks.astype(spec.real.dtype), spec[0])
    estimates = dsp.istft(masked, subset.sample_rate, mix.shape[-1], cfg.window_ms,
                            cfg.hop_ms)
    scores = metrics.evaluate_mixture(estimates, refs, mix[pair[0]], subset.sample_rate)
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
            mean, low, high = metrics.bootstrap_ci(t["si_sdr"].to_numpy())
            r = pearsonr(t["confidence"], t["si_sdr"]) if len(t) > 2 else (np.nan, np.nan)
            rows.append({
                "geometry": label, "ipd": ipd_name, "si_sdr": mean, "si_sdr_low": low,
                "si_sdr_high": high, "si_sir": t["si_sir"].mean(), "si_sar": t["si_sar"].mean(),
                "label_accuracy": t["label_accuracy"].mean(), "r": float(r[0]),
                "p": float(r[1]), "n": len(t),
                "is_profile": base is profile and normalise == profile.spatial.freq_normalize,
            })
    return pd.DataFrame(rows)


def correlations(table: pd.DataFrame, target: str = "si_sdr") -> pd.DataFrame:
    """Pearson r and p between each confidence column and ``target`` (Fig. 2 and its terms).

    Columns used: ``confidence`` (Eq. 7 mean, alpha = 1), ``conf_cl`` (Eq. 4),
    ``conf_jsd`` (Eq. 5), ``conf_post`` (Eq. 6 mean).
    """
    from scipy.stats import pearsonr

    rows = []
    for col, name in (("confidence", "C (Eq. 7), mean"), ("conf_cl", "C_cl (Eq. 4)"),
                      ("conf_jsd", "C_JSD (Eq. 5)"), ("conf_post", "C_post (Eq. 6), mean")):
        values = table[col].to_numpy()
        if len(values) > 2 and np.ptp(values) > 0:
            r, p = pearsonr(values, table[target])
        else:
            r, p = np.nan, np.nan
        rows.append({"term": name, "column": col, "r": float(r), "p": float(p)})
    return pd.DataFrame(rows)


def spatial_findings(profile: Profile, valid: pd.DataFrame, test_summary: pd.Series) -> str:
    """Markdown findings of notebook 02, generated from the numbers.

    Parameters
    ----------
    profile : Profile
    valid : pandas.DataFrame
        The validation spatial-stage table (``confidence``, ``si_sdr`` per mixture).
    test_summary : pandas.Series
        The test row of :func:`~bootsep_lib.experiments.summarize` (``si_sdr``,
        ``si_sdr_low``, ``si_sdr_high``).
    """
    from .paper import BOOTSTRAP_TABLE1, FIG2_R

    paper_sdr = BOOTSTRAP_TABLE1["Spatial algorithm"][2]
    corr = correlations(valid).set_index("column").loc["confidence"]
    r, p = corr["r"], corr["p"]
    if r > 0 and p < 1e-3:
        verdict = "the correlation is positive and significant at p < 0.001."
    else:
        verdict = "the correlation does **not** reach p < 0.001 here."
    sdr, low, high = (test_summary[k] for k in ("si_sdr", "si_sdr_low", "si_sdr_high"))
    if low >= paper_sdr:
        versus = "above the paper's, with the CI clear of it."
    elif sdr >= paper_sdr:
        versus = "above the paper's on average, but the CI includes it."
    else:
        versus = "below the paper's."
    r_lo, r_hi = (100 * x for x in profile.data.geometry.array_radius)
    ipd = ("the IPD divided by omega + 1 as in the authors' code"
           if profile.spatial.freq_normalize else "the IPD as in the paper's text")
    return "\n".join([
        f"* Confidence vs SI-SDR on {len(valid)} validation mixtures: r = {r:.2f}, "
        f"p = {p:.1e} (paper: r = {FIG2_R}); {verdict}",
        f"* Spatial algorithm on the test set: {sdr:.2f} dB SI-SDR [{low:.2f}, {high:.2f}] "
        f"(paper {paper_sdr} dB): {versus}",
        f"* What differs from the paper: synthetic eSpeak NG voices instead of WSJ0, "
        f"{profile.data.n_valid} / {profile.data.n_test} validation / test mixtures instead of "
        f"5,000 / 3,000, arrays of radius {r_lo:g}-{r_hi:g} cm instead of 7.5-12.5 cm, and "
        f"{ipd} (notebook 01 measures both choices).",
    ])
