"""The spatial stage on every mixture of a split, its label bank, and the microphone-pair study.

Everything here is cached by config: a finished run is read back, never recomputed (unless a
cached file is found damaged: a ``CacheWarning`` names it and the entry is recomputed).  Cached
files live under :func:`bootsep_lib.paths.cache_dir` in a folder named by the hash of every
setting that affects them, and are written atomically.

The spatial stage (Sections 2.1-2.2 of the bootstrapping paper) runs once per split: for every
mixture, a stereo pair (channel 0 and one of the profile's ``other_channels``, fixed per
mixture), spatial clustering, the three confidence terms, and the separation quality of the
masks applied to channel 0; for every alpha of Table 1 the weight sum (Quantity) and the
weighted label quality (Quality).  Its per-bin outputs (pseudo labels, ``C_post``,
ground-truth labels) form the *label bank* that training and the Quality/Quantity columns read
(:func:`bootsep_lib.data.training_set.load_bank`).
"""

from __future__ import annotations

import json
import warnings
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import dsp, spatial, targets
from ..config import Profile, SpatialConfig
from ..data.fingerprint import split_fingerprint
from ..data.subsets import Subset, default_subset, open_split
from ..data.training_set import BANK_KEYS, BankError, load_bank
from ..eval import evaluate_mixture, label_accuracy, partition_quality
from ..spatial import confidence
from ..util.atomic import atomic_write, atomic_write_text, sweep_temp_files
from ..util.cache import CacheWarning, cache_entry, cached_table, stage_key
from ..util.parallel import parallel_map, strided
from .spatial_shards import Result, clear_shards, read_shards, shard_path, write_shard

__all__ = [
    "ALPHAS",
    "correlations",
    "SPATIAL_STAGE_VERSION",
    "SpatialStage",
    "pair_channel",
    "pair_study",
    "spatial_mixture",
    "spatial_stage",
    "spatial_stage_shard",
]

#: Bump when the spatial stage's outputs change meaning, so stale caches are not reused.
SPATIAL_STAGE_VERSION = 1

#: The confidence exponents of Table 1 (alpha = 0: magnitude weights only).
ALPHAS: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0)


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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", spatial.SpatialWarning)
        separation = spatial.separate_pair(mix, sample_rate, cfg, pair, seed)
        result, estimates, spec = separation.result, separation.estimates, separation.spec
        terms = confidence.confidence_terms(result, n_samples=cfg.jsd_samples, seed=seed)
    refs = sources[:, ref]
    scores = evaluate_mixture(estimates, refs, mix[ref], sample_rate)
    src_spec = dsp.stft(refs, sample_rate, cfg.window_ms, cfg.hop_ms)
    truth = targets.ground_truth_labels(src_spec)
    magnitude = np.abs(spec[0])
    per_alpha = {}
    for alpha in ALPHAS:
        w = targets.bootstrap_weights(magnitude, terms.cl, terms.jsd, terms.post, alpha)
        per_alpha[f"wsum_{alpha:g}"] = float(w.sum())
        per_alpha[f"quality_{alpha:g}"] = (
            partition_quality(truth, result.labels, w) if w.sum() > 0 else 0.0
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
        "label_accuracy": label_accuracy(truth, result.labels, magnitude, cfg.n_sources),
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


def _stage_worker(args: tuple) -> list[Result]:
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


def _stage_folder(profile: Profile, split: str, subset: Subset,
                  limit: int | None) -> tuple[int, Path]:
    """The number of mixtures and the cache folder of a split's spatial stage."""
    ds = open_split(profile, split, subset=subset, return_sources=False)
    n = len(ds) if limit is None else min(limit, len(ds))
    key = stage_key("spatial", SPATIAL_STAGE_VERSION, {
        "corpus": split_fingerprint(ds.folder), "seed": profile.data.seed,
        "subset": asdict(subset), "spatial": asdict(profile.spatial), "split": split, "n": n,
    })
    return n, cache_entry("spatial", key)


def _compute(profile: Profile, split: str, subset: Subset, indices: list[int], jobs: int,
             progress: bool) -> list[Result]:
    """The spatial stage of the mixtures ``indices``, over ``jobs`` worker processes."""
    if not indices:
        return []
    jobs = max(1, min(jobs, len(indices)))
    tasks = [(profile, split, subset, [indices[k] for k in chunk])
             for chunk in strided(len(indices), jobs * 4)]
    parts = parallel_map(_stage_worker, tasks, jobs=jobs, progress=progress,
                         desc=f"spatial stage {split}", weight=lambda task: len(task[-1]))
    return [r for part in parts for r in part]


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

    Mixtures that shards of :func:`spatial_stage_shard` already hold are taken from them, not
    recomputed (the shards are deleted once the stage is written).

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
    n, folder = _stage_folder(profile, split, subset, limit)
    stage = _read_stage(folder, split)
    if stage is not None:
        return stage
    sweep_temp_files(folder)  # what a killed run left in the bank folder
    found = read_shards(folder, split, n)
    missing = [i for i in range(n) if i not in found]
    computed = _compute(profile, split, subset, missing, jobs, progress)
    results = sorted([*found.values(), *computed], key=lambda r: r[0])
    table = pd.DataFrame([r[1] for r in results])
    bank = _bank(results)
    _write_stage(folder, profile, split, subset, n, table, bank)
    clear_shards(folder, split)
    return SpatialStage(table, bank, folder)


def spatial_stage_shard(
    profile: Profile,
    split: str,
    rank: int,
    world: int,
    *,
    subset: Subset | None = None,
    jobs: int = 1,
    progress: bool = True,
) -> Path | None:
    """Compute rank ``rank``'s share (mixtures ``rank::world``) of a split's spatial stage.

    Every rank of a data-parallel run calls this before rank 0 calls :func:`spatial_stage`,
    which joins the shards; nothing is computed when the stage or this shard is already there.

    Returns
    -------
    Path or None
        The shard file written (or found), ``None`` when the whole stage is cached.
    """
    subset = subset or default_subset(profile)
    n, folder = _stage_folder(profile, split, subset, None)
    if (folder / f"{split}.csv").exists():
        return None
    path = shard_path(folder, split, rank, world)
    if not path.exists():
        mine = list(range(n))[rank::world]
        write_shard(path, _compute(profile, split, subset, mine, jobs, progress))
    return path


def _read_stage(folder: Path, split: str) -> SpatialStage | None:
    """The finished stage cached in ``folder``; ``None`` if absent or damaged (with a warning).

    The table is written last, so its presence means the bank files were complete; a bank
    file or table damaged since (cut short, emptied, inconsistent) is reported with a
    :class:`~bootsep_lib.util.cache.CacheWarning` naming the entry, and recomputed.
    """
    table_path = folder / f"{split}.csv"
    if not table_path.exists():
        return None
    try:
        table = pd.read_csv(table_path)
        bank = load_bank(folder, split)
        if len(bank["offsets"]) != len(table) + 1:
            raise BankError(f"{table_path} lists {len(table)} mixtures, the bank's offsets "
                            f"{len(bank['offsets']) - 1}")
    except (OSError, ValueError) as err:  # BankError, pandas' parser errors
        warnings.warn(f"spatial-stage cache entry {folder} ({split}) is damaged ({err}); "
                      "recomputing it", CacheWarning, stacklevel=3)
        return None
    return SpatialStage(table, bank, folder)


def _bank(results: list[tuple[int, dict, dict]]) -> dict[str, np.ndarray]:
    """The per-bin arrays of every mixture concatenated along frames, with their offsets."""
    lengths = [r[2]["labels"].shape[0] for r in results]
    bank = {k: np.concatenate([r[2][k] for r in results]) for k in results[0][2]}
    bank["offsets"] = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return bank


def _save_npy(path: Path, array: np.ndarray) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:  # a file object: np.save would add ".npy" to a path
            np.save(fh, array)

    atomic_write(path, write)


def _write_stage(folder: Path, profile: Profile, split: str, subset: Subset, n: int,
                 table: pd.DataFrame, bank: dict[str, np.ndarray]) -> None:
    """Write the config, the bank files and, last, the table that marks the stage complete."""
    atomic_write_text(folder / "config.json", json.dumps({
        "profile": profile.name, "split": split, "subset": asdict(subset),
        "spatial": asdict(profile.spatial), "n": n,
    }, indent=2))
    for k in BANK_KEYS:
        _save_npy(folder / f"{split}_{k}.npy", bank[k])
    atomic_write(folder / f"{split}.csv", lambda tmp: table.to_csv(tmp, index=False))


def _pair_worker(args: tuple) -> list[dict]:
    profile, split, subset, indices = args
    cfg = profile.spatial
    ds = open_split(profile, split, subset=subset,
                    channels=tuple(range(len(profile.data.channels or range(
                        profile.data.geometry.n_mics)))))
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
    folder = open_split(profile, split, subset=subset, return_sources=False).folder
    key = stage_key("pairs", SPATIAL_STAGE_VERSION, {
        "corpus": split_fingerprint(folder), "seed": profile.data.seed,
        "subset": asdict(subset), "spatial": asdict(profile.spatial),
        "split": split, "limit": limit,
    })

    def compute() -> pd.DataFrame:
        n = min(limit, len(open_split(profile, split, subset=subset, return_sources=False)))
        tasks = [(profile, split, subset, chunk) for chunk in strided(n, max(1, min(jobs, n)))]
        parts = parallel_map(_pair_worker, tasks, jobs=jobs, progress=progress,
                             desc="pair study", weight=lambda task: len(task[-1]))
        rows = [row for part in parts for row in part]
        return pd.DataFrame(rows).sort_values(["id", "mic_a", "mic_b"], ignore_index=True)

    return cached_table(cache_entry("pairs", key, ".csv"), compute)


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
