"""Table 1 of the bootstrapping paper: the alpha sweep (top half) and the ensembles (bottom).

Top half (notebook 04).  Deep clustering models that share architecture and initial weights
(:func:`~bootsep_lib.experiments.training.run_config` takes both from the profile) are trained
on the profile's training split with ground-truth labels (all mixtures, and a subset as large
as the alpha = 1 model's effective training set) or with the spatial stage's pseudo labels
weighted by ``w(alpha)`` for every alpha in :data:`ALPHAS`, then evaluated on channel 0 of
every test mixture.  Two columns describe the training data of each model (Section 3.4):

* **Quantity**: ``sum_i w_i(alpha)`` over the training set relative to the ground-truth model's.
  Magnitude weights sum to 1 per mixture, so the ground-truth model's total is the number of
  training mixtures and Quantity is the mean of the per-mixture ``wsum_{alpha}``.
* **Quality**: ``1 - d_chi2`` between ground-truth and pseudo labels weighted by ``sqrt(w)``
  (per mixture in the spatial stage's ``quality_{alpha}``), averaged over the training set
  with each mixture weighted by its ``wsum_{alpha}``.

Bottom half (notebook 05).  The spatial algorithm (stereo), the bootstrapped alpha = 1 model
(channel 0) and three ensembles of the two: *oracle* (the better of the two per mixture),
*random* (a seeded coin per mixture) and *confidence* (the spatial output where its mean
confidence lies above the bottom quartile of the **validation** set's mean confidences, else
the model).

Every table is a DataFrame of means with bootstrap 95% CIs and the paper's numbers in adjacent
``paper_*`` columns; the findings are text generated from these numbers by
:func:`alpha_sweep_findings` and :func:`ensemble_findings`, so they say what this run shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import metrics
from ..config import PROFILES, Geometry, Profile
from ..engine import TrainResult
from .evaluation import evaluate_model, summarize
from .paper import BOOTSTRAP_TABLE1, bootstrap_table1
from .spatial_stage import ALPHAS
from .training import ModelJob, TrainingSet, run_config, train_many

__all__ = [
    "GT_ALL",
    "GT_SUBSET",
    "MIXTURE",
    "SPATIAL",
    "MIN_SUBSET_MIXTURES",
    "Table1Model",
    "Ensembles",
    "Comparison",
    "spatial_name",
    "ensemble_name",
    "bootstrapped_model",
    "quality_quantity",
    "subset_size",
    "table1_models",
    "model_quality_quantity",
    "train_models",
    "evaluate_models",
    "alpha_sweep_table",
    "confidence_threshold",
    "ensemble_systems",
    "ensemble_table",
    "compare",
    "alpha_sweep_findings",
    "ensemble_findings",
    "setting_text",
    "format_table",
]

#: Row names, as in :data:`~bootsep_lib.experiments.paper.BOOTSTRAP_TABLE1`.
GT_ALL = "DC w/ ground truth (all)"
GT_SUBSET = "DC w/ ground truth (subset)"
SPATIAL = "Spatial algorithm"
MIXTURE = "Unprocessed mixture"

#: Smallest ground-truth subset ("a handful of mixtures"), whatever the alpha = 1 Quantity.
MIN_SUBSET_MIXTURES = 8

#: Metrics of Table 1 (per-mixture means over sources).
METRICS = ("si_sdr", "si_sir", "si_sar")

_VOICES = {"espeak": "synthetic eSpeak NG voices", "flite": "synthetic flite voices",
           "kokoro": "synthetic Kokoro voices"}


def spatial_name(alpha: float) -> str:
    """Row name of the model trained on spatial estimates with exponent ``alpha``."""
    return f"DC w/ estimates, alpha={alpha:g}"


def ensemble_name(kind: str, alpha: float = 1.0) -> str:
    """Row name of an ensemble: ``kind`` in {"oracle", "random", "conf."}."""
    return f"Ensemble ({kind}, alpha={alpha:g})"


# -- the models of Table 1 ----------------------------------------------------------------------
@dataclass(frozen=True)
class Table1Model:
    """One deep clustering model of Table 1.

    Attributes
    ----------
    name : str
        Row name (:data:`GT_ALL`, :data:`GT_SUBSET` or :func:`spatial_name`).
    targets : {"ground_truth", "spatial"}
    alpha : float
        Confidence exponent of the weights (spatial targets only).
    limit : int, optional
        Train on the first ``limit`` training mixtures only (the ground-truth subset model).
    """

    name: str
    targets: str
    alpha: float = 0.0
    limit: int | None = None

    def job(self, profile: Profile, *, jobs: int = 1) -> ModelJob:
        """The model's training job on the ``tr`` split, validated on all of ``cv``.

        The alpha = 1 model is built exactly as notebook 03 builds it, so both share one
        config hash and one cached run.
        """
        if self.targets == "spatial":
            train = TrainingSet(profile, "tr", targets="spatial", alpha=self.alpha, jobs=jobs)
            valid = TrainingSet(profile, "cv", targets="spatial", alpha=self.alpha, jobs=jobs)
        else:
            train = TrainingSet(profile, "tr", targets="ground_truth", limit=self.limit)
            valid = TrainingSet(profile, "cv", targets="ground_truth")
        return ModelJob(run_config(profile, train), train, valid)


def bootstrapped_model(alpha: float = 1.0) -> Table1Model:
    """The model trained on spatial estimates with weights ``w(alpha)``."""
    return Table1Model(spatial_name(alpha), "spatial", float(alpha))


def quality_quantity(train_table: pd.DataFrame, alphas: tuple[float, ...] = ALPHAS) -> pd.DataFrame:
    """Quality and Quantity of the spatial labels of a training set, per alpha (Section 3.4).

    Parameters
    ----------
    train_table : pandas.DataFrame
        The spatial stage's table of the training split: ``wsum_{alpha}`` (sum of ``w(alpha)``
        over the mixture's bins) and ``quality_{alpha}`` (``1 - d_chi2`` of the mixture).
    alphas : tuple of float

    Returns
    -------
    pandas.DataFrame
        Index ``alpha``; ``quality`` (mean of ``quality_{alpha}`` weighted by ``wsum_{alpha}``;
        NaN if every weight is zero), ``quantity`` (``sum wsum_{alpha}`` divided by the number
        of mixtures, the ground-truth model's total weight) and ``weight_sum``.
    """
    n = len(train_table)
    if n == 0:
        raise ValueError("the training table is empty")
    rows = {}
    for alpha in alphas:
        w = train_table[f"wsum_{alpha:g}"].to_numpy(dtype=np.float64)
        q = train_table[f"quality_{alpha:g}"].to_numpy(dtype=np.float64)
        total = float(w.sum())
        quality = float(np.sum(w * q) / total) if total > 0 else float("nan")
        rows[float(alpha)] = {"quality": quality, "quantity": total / n, "weight_sum": total}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("alpha")


def subset_size(quantity: float, n_train: int, minimum: int = MIN_SUBSET_MIXTURES) -> int:
    """Mixtures of a ground-truth subset whose Quantity matches ``quantity``.

    ``round(quantity * n_train)``, at least ``minimum`` and at most ``n_train``.
    """
    if n_train < 1:
        raise ValueError("n_train must be positive")
    return int(min(n_train, max(minimum, round(quantity * n_train))))


def table1_models(
    train_table: pd.DataFrame,
    alphas: tuple[float, ...] = ALPHAS,
    *,
    match_alpha: float = 1.0,
    minimum: int = MIN_SUBSET_MIXTURES,
) -> list[Table1Model]:
    """The models of Table 1 (top): ground truth (all, subset) and one per alpha.

    The subset's size is this training set's Quantity at ``match_alpha`` times its number
    of mixtures (:func:`subset_size`), not the paper's 5%.
    """
    quantity = quality_quantity(train_table, (match_alpha,)).loc[match_alpha, "quantity"]
    limit = subset_size(quantity, len(train_table), minimum)
    return [
        Table1Model(GT_ALL, "ground_truth"),
        Table1Model(GT_SUBSET, "ground_truth", limit=limit),
        *(bootstrapped_model(a) for a in alphas),
    ]


def model_quality_quantity(
    model: Table1Model, train_table: pd.DataFrame
) -> tuple[float, float]:
    """(Quality, Quantity) of a model's training labels; ground truth has Quality 1."""
    n = len(train_table)
    if model.targets == "ground_truth":
        used = n if model.limit is None else min(model.limit, n)
        return 1.0, used / n
    row = quality_quantity(train_table, (model.alpha,)).loc[model.alpha]
    return float(row["quality"]), float(row["quantity"])


def train_models(
    profile: Profile, models: list[Table1Model], *, jobs: int = 1, progress: bool = True
) -> dict[str, TrainResult]:
    """Train (or read from the cache) every model, ``jobs`` at a time; results by name."""
    job_list = [m.job(profile, jobs=jobs) for m in models]
    results = train_many(job_list, jobs=jobs, progress=progress)
    return {m.name: r for m, r in zip(models, results, strict=True)}


def evaluate_models(
    profile: Profile,
    results: dict[str, TrainResult],
    *,
    split: str = "tt",
    jobs: int = 1,
    progress: bool = True,
) -> dict[str, pd.DataFrame]:
    """Per-mixture scores (channel 0 of every mixture of ``split``) of every trained model."""
    return {name: evaluate_model(profile, r.run_dir, split=split, jobs=jobs, progress=progress)
            for name, r in results.items()}


def _with_paper(summary: pd.DataFrame) -> pd.DataFrame:
    """Join the paper's columns and put each next to ours."""
    table = summary.join(bootstrap_table1(), how="left").rename_axis("approach")
    order = [c for c in ("alpha", "spatial_share") if c in table]
    for col in ("quality", "quantity", *METRICS):
        if col in table:
            order += [c for c in (col, f"{col}_low", f"{col}_high") if c in table]
            order.append(f"paper_{col}")
    return table[order + ["n"]]


def alpha_sweep_table(
    models: list[Table1Model],
    evaluations: dict[str, pd.DataFrame],
    train_table: pd.DataFrame,
    *,
    n_boot: int = 10_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Table 1, top half: one row per model plus the unprocessed mixture.

    Parameters
    ----------
    models : list of Table1Model
    evaluations : dict of name -> per-mixture DataFrame
        :func:`evaluate_models`' output (``si_sdr``, ``si_sir``, ``si_sar``, ``si_sdr_mix``).
    train_table : pandas.DataFrame
        The spatial stage's table of the training split (for Quality and Quantity).
    n_boot, seed
        Bootstrap resamples and seed of the CIs.

    Returns
    -------
    pandas.DataFrame
        Index ``approach``; ``alpha`` (NaN for ground truth), ``quality``, ``quantity``,
        each metric with ``_low`` / ``_high`` 95% CI bounds, the paper's ``paper_*`` values
        beside each, and ``n`` (test mixtures).  The mixture row has SI-SDR only (its SI-SAR
        is unbounded: a sum of the references has no artifacts).
    """
    summary = summarize({m.name: evaluations[m.name] for m in models}, METRICS,
                        n_boot=n_boot, seed=seed)
    for m in models:
        summary.loc[m.name, ["quality", "quantity"]] = model_quality_quantity(m, train_table)
        summary.loc[m.name, "alpha"] = m.alpha if m.targets == "spatial" else np.nan
    mix = evaluations[models[0].name]["si_sdr_mix"].to_numpy()
    mean, low, high = metrics.bootstrap_ci(mix, n_boot=n_boot, seed=seed)
    summary.loc[MIXTURE, ["si_sdr", "si_sdr_low", "si_sdr_high", "n"]] = [mean, low, high, len(mix)]
    summary["n"] = summary["n"].astype(int)
    return _with_paper(summary)


# -- ensembles ----------------------------------------------------------------------------------
def confidence_threshold(valid_table: pd.DataFrame, quantile: float = 0.25) -> float:
    """Switching point of the confidence ensemble: a quantile of the validation confidences.

    Parameters
    ----------
    valid_table : pandas.DataFrame
        The spatial stage's table of the **validation** split (column ``confidence``, the
        mean confidence of each mixture).  Test data never enter the threshold.
    quantile : float
        0.25: the bottom quartile, as in the paper.
    """
    values = valid_table["confidence"].to_numpy(dtype=np.float64)
    if values.size == 0:
        raise ValueError("the validation table is empty")
    return float(np.quantile(values, quantile))


@dataclass
class Ensembles:
    """The spatial algorithm, a bootstrapped model and their ensembles on one test set.

    Attributes
    ----------
    per_mixture : pandas.DataFrame
        One row per test mixture (sorted by ``id``): ``confidence``, ``spatial_{metric}``,
        ``model_{metric}`` and booleans ``{oracle,random,conf}_spatial`` (True where the
        ensemble takes the spatial output).
    systems : dict of name -> DataFrame
        Per-mixture ``id`` and metrics of each system (for :func:`summarize`).
    threshold : float
        The confidence threshold, from the validation set.
    alpha : float
        The bootstrapped model's alpha.
    """

    per_mixture: pd.DataFrame
    systems: dict[str, pd.DataFrame]
    threshold: float
    alpha: float


def ensemble_systems(
    spatial_test: pd.DataFrame,
    model_test: pd.DataFrame,
    spatial_valid: pd.DataFrame,
    *,
    alpha: float = 1.0,
    quantile: float = 0.25,
    seed: int = 0,
) -> Ensembles:
    """The spatial algorithm, the model and the oracle / random / confidence ensembles.

    Parameters
    ----------
    spatial_test : pandas.DataFrame
        Spatial stage table of the test split (``id``, ``confidence``, metrics).
    model_test : pandas.DataFrame
        :func:`evaluate_model` table of the bootstrapped model on the same split.
    spatial_valid : pandas.DataFrame
        Spatial stage table of the validation split: the only input of the threshold.
    alpha : float
        The model's alpha (for the row names).
    quantile : float
        Quantile of the validation confidences below which the model is used.
    seed : int
        Seed of the random ensemble's coins.

    Returns
    -------
    Ensembles
    """
    threshold = confidence_threshold(spatial_valid, quantile)
    left = spatial_test[["id", "confidence", *METRICS]].rename(
        columns={m: f"spatial_{m}" for m in METRICS})
    right = model_test[["id", *METRICS]].rename(columns={m: f"model_{m}" for m in METRICS})
    if set(left["id"]) != set(right["id"]) or len(left) != len(right):
        raise ValueError("the spatial and model tables must hold the same test mixtures")
    table = left.merge(right, on="id", validate="one_to_one").sort_values("id", ignore_index=True)
    rng = np.random.default_rng(seed)
    table["oracle_spatial"] = table["spatial_si_sdr"] >= table["model_si_sdr"]
    table["random_spatial"] = rng.random(len(table)) < 0.5
    table["conf_spatial"] = table["confidence"] > threshold

    def pick(choice: pd.Series) -> pd.DataFrame:
        out = {"id": table["id"]}
        for m in METRICS:
            out[m] = np.where(choice, table[f"spatial_{m}"], table[f"model_{m}"])
        return pd.DataFrame(out)

    systems = {
        SPATIAL: pick(pd.Series(True, index=table.index)),
        spatial_name(alpha): pick(pd.Series(False, index=table.index)),
        ensemble_name("oracle", alpha): pick(table["oracle_spatial"]),
        ensemble_name("random", alpha): pick(table["random_spatial"]),
        ensemble_name("conf.", alpha): pick(table["conf_spatial"]),
    }
    return Ensembles(table, systems, threshold, float(alpha))


def ensemble_table(ensembles: Ensembles, *, n_boot: int = 10_000, seed: int = 0) -> pd.DataFrame:
    """Table 1, bottom half (with the bootstrapped model's row for reference).

    Returns
    -------
    pandas.DataFrame
        Index ``approach``; ``spatial_share`` (fraction of test mixtures that take the spatial
        output), each metric with its 95% CI bounds and the paper's value, and ``n``.
    """
    summary = summarize(ensembles.systems, METRICS, n_boot=n_boot, seed=seed)
    share = {SPATIAL: 1.0, spatial_name(ensembles.alpha): 0.0}
    for kind, col in (("oracle", "oracle_spatial"), ("random", "random_spatial"),
                      ("conf.", "conf_spatial")):
        share[ensemble_name(kind, ensembles.alpha)] = float(ensembles.per_mixture[col].mean())
    summary["spatial_share"] = pd.Series(share)
    return _with_paper(summary)


# -- findings -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Comparison:
    """Paired comparison of two systems on the same mixtures (mean difference ``a - b``).

    ``verdict`` is ``"holds"`` when the 95% CI excludes 0 on the side the paper reports,
    ``"reversed"`` when it excludes 0 on the other side, ``"inconclusive"`` otherwise; with
    ``expect="similar"`` (the paper reports the two on par) it is ``"holds"`` when the CI
    includes 0 and ``"differs"`` otherwise.
    """

    a: str
    b: str
    mean: float
    low: float
    high: float
    paper: float | None
    expect: str
    verdict: str

    def sentence(self) -> str:
        """One markdown bullet describing the comparison."""
        paper = "" if self.paper is None else f" (paper: {self.paper:+.1f} dB)"
        head = (f"- **{self.a} vs {self.b}**{paper}: {self.mean:+.2f} dB "
                f"[{self.low:+.2f}, {self.high:+.2f}]")
        if self.expect == "similar":
            tail = {"holds": "on par as in the paper (the 95% CI includes 0).",
                    "differs": "not on par, unlike the paper (the 95% CI excludes 0)."}
        else:
            side = "above" if self.expect == "greater" else "below"
            other = "below" if self.expect == "greater" else "above"
            tail = {
                "holds": f"the paper's ordering holds (the 95% CI lies {side} 0).",
                "reversed": f"the paper's ordering is reversed (the 95% CI lies {other} 0).",
                "inconclusive": "inconclusive: the 95% CI includes 0.",
            }
        return f"{head} — {tail[self.verdict]}"


def _paper_value(name: str, metric: str = "si_sdr") -> float | None:
    row = BOOTSTRAP_TABLE1.get(name)
    if row is None:
        return None
    return row[2 + METRICS.index(metric)]


def compare(
    a: str,
    b: str,
    scores: dict[str, pd.DataFrame],
    *,
    metric: str = "si_sdr",
    expect: str | None = None,
    n_boot: int = 10_000,
    seed: int = 0,
) -> Comparison:
    """Paired bootstrap comparison of systems ``a`` and ``b`` against the paper's ordering.

    Parameters
    ----------
    a, b : str
        System names: keys of ``scores`` and, for the paper's side, of
        :data:`~bootsep_lib.experiments.paper.BOOTSTRAP_TABLE1`.
    scores : dict of name -> per-mixture DataFrame (``id`` and ``metric``)
    metric : str
    expect : {"greater", "less", "similar"}, optional
        What the paper reports for ``a`` relative to ``b``; default: the sign of the paper's
        difference.
    n_boot, seed
        Of :func:`~bootsep_lib.metrics.paired_difference_ci`.
    """
    joined = scores[a][["id", metric]].merge(scores[b][["id", metric]], on="id",
                                             suffixes=("_a", "_b"), validate="one_to_one")
    if len(joined) != len(scores[a]) or len(joined) != len(scores[b]):
        raise ValueError(f"{a!r} and {b!r} were scored on different mixtures")
    mean, low, high = metrics.paired_difference_ci(
        joined[f"{metric}_a"], joined[f"{metric}_b"], n_boot=n_boot, seed=seed)
    pa, pb = _paper_value(a, metric), _paper_value(b, metric)
    paper = None if pa is None or pb is None else pa - pb
    if expect is None:
        if paper is None or paper == 0:
            raise ValueError(f"the paper gives no ordering of {a!r} and {b!r}: pass expect")
        expect = "greater" if paper > 0 else "less"
    if expect == "similar":
        verdict = "holds" if low <= 0 <= high else "differs"
    elif expect in ("greater", "less"):
        above, below = low > 0, high < 0
        if not (above or below):
            verdict = "inconclusive"
        else:
            verdict = "holds" if above == (expect == "greater") else "reversed"
    else:
        raise ValueError(f"expect must be 'greater', 'less' or 'similar', got {expect!r}")
    return Comparison(a, b, mean, low, high, paper, expect, verdict)


def _mixture_scores(evaluation: pd.DataFrame) -> pd.DataFrame:
    """The unprocessed mixture as a "system": its SI-SDR per mixture."""
    return pd.DataFrame({"id": evaluation["id"], "si_sdr": evaluation["si_sdr_mix"]})


def _trend(values: np.ndarray, paper: np.ndarray, what: str, direction: str) -> str:
    """One bullet: does ``values`` move strictly in ``direction`` along alpha?"""
    steps = np.diff(values)
    ok = bool(np.all(steps > 0)) if direction == "rises" else bool(np.all(steps < 0))
    ours = " → ".join(f"{v:.3f}" for v in values)
    theirs = " → ".join(f"{v:.3f}" for v in paper)
    verb = direction if ok else f"does not strictly {direction[:-1]}"
    agree = "as in the paper" if ok else "unlike the paper"
    return (f"- **{what} {verb} with α**, {agree}: {ours} (paper: {theirs}); totals over the "
            "training set, without sampling error.")


def alpha_sweep_findings(
    table: pd.DataFrame,
    evaluations: dict[str, pd.DataFrame],
    profile: Profile,
    *,
    n_train: int,
    n_boot: int = 10_000,
    seed: int = 0,
) -> str:
    """Markdown findings of the alpha sweep, generated from the numbers.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`alpha_sweep_table`'s output.
    evaluations : dict of name -> per-mixture DataFrame
        The per-mixture scores behind it (paired comparisons need them).
    profile : Profile
        For the sentence on the setting.
    n_train : int
        Training mixtures of the ground-truth (all) model.
    n_boot, seed
        Of the paired bootstrap CIs.
    """
    scores = dict(evaluations)
    first = next(iter(evaluations.values()))
    scores[MIXTURE] = _mixture_scores(first)
    alphas = table["alpha"].dropna().sort_values()
    names = list(alphas.index)
    kw = {"n_boot": n_boot, "seed": seed}
    lines = ["### Findings (generated from the table above)", ""]
    pairs = [(spatial_name(1.0), spatial_name(0.0), None),
             (spatial_name(2.0), spatial_name(1.0), None),
             (GT_ALL, spatial_name(1.0), None),
             (GT_SUBSET, spatial_name(1.0), "similar")]
    for a, b, expect in pairs:
        if a in scores and b in scores:
            lines.append(compare(a, b, scores, expect=expect, **kw).sentence())
    rows = table.loc[names]
    if len(rows) > 1:
        lines.append(_trend(rows["quality"].to_numpy(), rows["paper_quality"].to_numpy(),
                            "Quality", "rises"))
        lines.append(_trend(rows["quantity"].to_numpy(), rows["paper_quantity"].to_numpy(),
                            "Quantity", "falls"))
    beats = [compare(name, MIXTURE, scores, expect="greater", **kw) for name in names]
    losers = [c for c in beats if c.verdict != "holds"]
    if not losers:
        lines.append("- **Every bootstrapped model beats the unprocessed mixture** with the 95% "
                     "CI of its paired SI-SDR improvement above 0.")
    else:
        listed = "; ".join(f"{c.a}: {c.mean:+.2f} dB [{c.low:+.2f}, {c.high:+.2f}]"
                           for c in losers)
        which = "No" if len(losers) == len(beats) else "Not every"
        lines.append(f"- **{which} bootstrapped model beats the unprocessed mixture** with the "
                     f"95% CI of its paired SI-SDR improvement above 0: {listed}.")
    lines += ["", setting_text(profile, n_train=n_train, n_test=len(first))]
    return "\n".join(lines)


def ensemble_findings(
    ensembles: Ensembles,
    profile: Profile,
    *,
    n_train: int,
    n_boot: int = 10_000,
    seed: int = 0,
) -> str:
    """Markdown findings of the ensembles, generated from the per-mixture scores.

    Parameters
    ----------
    ensembles : Ensembles
    profile : Profile
        For the sentence on the setting.
    n_train : int
        Training mixtures of the bootstrapped model.
    n_boot, seed
        Of the paired bootstrap CIs.
    """
    alpha = ensembles.alpha
    model = spatial_name(alpha)
    conf, oracle, rand = (ensemble_name(k, alpha) for k in ("conf.", "oracle", "random"))
    kw = {"n_boot": n_boot, "seed": seed}
    pm = ensembles.per_mixture
    n = len(pm)
    lines = ["### Findings (generated from the table above)", ""]
    for a, b in ((conf, SPATIAL), (conf, model), (conf, rand), (rand, SPATIAL),
                 (oracle, conf), (SPATIAL, model)):
        lines.append(compare(a, b, ensembles.systems, **kw).sentence())
    lines.append(
        f"- The confidence rule (threshold {ensembles.threshold:.3g}, the bottom quartile of the "
        f"validation set's mean confidences) kept the spatial output for "
        f"{int(pm['conf_spatial'].sum())} of {n} test mixtures "
        f"({pm['conf_spatial'].mean():.0%}); the oracle would keep it for "
        f"{pm['oracle_spatial'].mean():.0%}.")
    lines += ["", setting_text(profile, n_train=n_train, n_test=n)]
    return "\n".join(lines)


def setting_text(profile: Profile, *, n_train: int, n_test: int) -> str:
    """A sentence on how this run's setting differs from the paper's (read from the profile)."""
    paper = PROFILES["paper"]
    m, t = profile.model, profile.train
    pm, pt = paper.model, paper.train
    voices = _VOICES.get(profile.data.engine, f"{profile.data.engine} voices")
    radius = profile.data.geometry.array_radius
    recipe = Geometry().array_radius
    return (
        f"**Setting, not the paper's:** profile `{profile.name}` uses {voices} instead of WSJ0 "
        f"read speech; {n_train:,} training and {n_test:,} test mixtures instead of "
        f"{paper.data.n_train:,} and {paper.data.n_test:,}; a {m.layers}×{m.units} BLSTM with "
        f"D = {m.embedding_dim} instead of {pm.layers}×{pm.units} with D = {pm.embedding_dim}; "
        f"at most {t.epochs} epochs of batch {t.batch_size} × {t.crop_frames} frames instead of "
        f"{pt.epochs} epochs of batch {pt.batch_size} × {pt.crop_frames}; and arrays of radius "
        f"{100 * radius[0]:g}–{100 * radius[1]:g} cm instead of the recipe's "
        f"{100 * recipe[0]:g}–{100 * recipe[1]:g} cm.  One seed per model: differences "
        "between models also hold seed noise, which these CIs (over test mixtures) do not cover."
    )


# -- tables on disk -----------------------------------------------------------------------------
_LABELS = {"quality": "Quality", "quantity": "Quantity", "si_sdr": "SI-SDR", "si_sir": "SI-SIR",
           "si_sar": "SI-SAR"}


def _number(value: float, digits: int) -> str:
    return "–" if pd.isna(value) else f"{value:.{digits}f}"


def format_table(table: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """Table 1 as strings: ``mean [low, high]`` cells beside the paper's values.

    Quality and Quantity get three decimals (as in the paper), metrics ``digits``; missing
    values read "–".
    """
    out = pd.DataFrame(index=table.index)
    if "spatial_share" in table:
        out["Spatial share"] = [_number(100 * v, 0) + ("%" if pd.notna(v) else "")
                                for v in table["spatial_share"]]
    for col, label in _LABELS.items():
        if col not in table:
            continue
        d = 3 if col in ("quality", "quantity") else digits
        if f"{col}_low" in table:
            out[f"{label} [95% CI]"] = [
                "–" if pd.isna(v) else f"{v:.{d}f} [{lo:.{d}f}, {hi:.{d}f}]"
                for v, lo, hi in zip(table[col], table[f"{col}_low"], table[f"{col}_high"],
                                     strict=True)]
        else:
            out[label] = [_number(v, d) for v in table[col]]
        out[f"{label} (paper)"] = [_number(v, 3 if d == 3 else 1) for v in table[f"paper_{col}"]]
    out["n"] = table["n"].astype(str)
    return out
