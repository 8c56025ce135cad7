"""Table 1 of the bootstrapping paper in words: findings, the setting, readable tables.

Every sentence is generated from the numbers of :mod:`bootsep_lib.studies.bootstrap` (paired
bootstrap CIs over test mixtures, :func:`bootsep_lib.eval.stats.paired_scores`), judged
against the paper's ordering (:data:`~bootsep_lib.report.published.BOOTSTRAP_TABLE1`), so the
findings say what this run shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import PROFILES, Geometry, Profile
from ..eval.stats import format_ci
from ..studies.bootstrap import (
    GT_ALL,
    GT_SUBSET,
    METRICS,
    MIXTURE,
    SPATIAL,
    spatial_name,
)
from ..studies.ensembles import Ensembles, ensemble_name
from ..studies.seeds import as_seed_scores, seeded_difference
from .published import BOOTSTRAP_TABLE1
from .tables import budget_text

__all__ = [
    "Comparison",
    "compare",
    "alpha_sweep_findings",
    "ensemble_findings",
    "setting_text",
    "format_table",
]

_VOICES = {"espeak": "synthetic eSpeak NG voices", "flite": "synthetic flite voices",
           "kokoro": "synthetic Kokoro voices"}


# -- paired comparisons against the paper's ordering -------------------------------------------
@dataclass(frozen=True)
class Comparison:
    """Paired comparison of two systems on the same mixtures (mean difference ``a - b``).

    ``verdict`` is ``"holds"`` when the 95% CI excludes 0 on the side the paper reports,
    ``"reversed"`` when it excludes 0 on the other side, ``"inconclusive"`` otherwise; with
    ``expect="similar"`` (the paper reports the two on par) it is ``"holds"`` when the CI
    includes 0 and ``"differs"`` otherwise.  The CI resamples the seeds both systems share and
    the test mixtures (:func:`~bootsep_lib.studies.seeds.seeded_difference`); ``wins`` of
    ``n_seeds`` seeds have ``a`` above ``b``.
    """

    a: str
    b: str
    mean: float
    low: float
    high: float
    paper: float | None
    expect: str
    verdict: str
    wins: int = 1
    n_seeds: int = 1

    def difference(self) -> str:
        """``"+m.mm dB [+l.ll, +h.hh]"``: the mean difference and its 95% CI."""
        mean, interval = format_ci(self.mean, self.low, self.high, sign=True).split(" ", 1)
        return f"{mean} dB {interval}"

    def seed_count(self) -> str:
        """``"a > b in 3 of 3 seeds"`` (``"one seed"`` when only one is shared)."""
        if self.n_seeds == 1:
            return "one seed"
        return f"{self.a} > {self.b} in {self.wins} of {self.n_seeds} seeds"

    def sentence(self) -> str:
        """One markdown bullet describing the comparison."""
        paper = "" if self.paper is None else f" (paper: {self.paper:+.1f} dB)"
        head = f"- **{self.a} vs {self.b}**{paper}: {self.difference()}, {self.seed_count()}"
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
    scores: dict[str, pd.DataFrame] | dict[str, dict[int, pd.DataFrame]],
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
        :data:`~bootsep_lib.report.published.BOOTSTRAP_TABLE1`.
    scores : dict of name -> per-mixture DataFrame (``id`` and ``metric``)
        Or name -> (seed -> per-mixture DataFrame): the seeds both systems share are
        compared, each with its own seed (the same initial weights in both arms).
    metric : str
    expect : {"greater", "less", "similar"}, optional
        What the paper reports for ``a`` relative to ``b``; default: the sign of the paper's
        difference.
    n_boot, seed
        Of :func:`~bootsep_lib.eval.stats.paired_scores` (which raises when the two tables
        hold different mixtures).
    """
    seeded = as_seed_scores({a: scores[a], b: scores[b]})
    d = seeded_difference(seeded[a], seeded[b], metric, n_boot=n_boot, seed=seed)
    pa, pb = _paper_value(a, metric), _paper_value(b, metric)
    paper = None if pa is None or pb is None else pa - pb
    if expect is None:
        if paper is None or paper == 0:
            raise ValueError(f"the paper gives no ordering of {a!r} and {b!r}: pass expect")
        expect = "greater" if paper > 0 else "less"
    return Comparison(a, b, d.mean, d.low, d.high, paper, expect,
                      _verdict(d.low, d.high, expect), d.wins, d.n_seeds)


def _verdict(low: float, high: float, expect: str) -> str:
    """The :class:`Comparison` verdict of a CI ``[low, high]`` of ``a - b``."""
    if expect == "similar":
        return "holds" if low <= 0 <= high else "differs"
    if expect not in ("greater", "less"):
        raise ValueError(f"expect must be 'greater', 'less' or 'similar', got {expect!r}")
    above, below = low > 0, high < 0
    if not (above or below):
        return "inconclusive"
    return "holds" if above == (expect == "greater") else "reversed"


# -- findings -----------------------------------------------------------------------------------
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
    evaluations : dict of name -> (dict of seed -> per-mixture DataFrame)
        The per-mixture scores behind it, per seed (a bare DataFrame is one seed).
    profile : Profile
        For the sentence on the setting.
    n_train : int
        Training mixtures of the ground-truth (all) model.
    n_boot, seed
        Of the paired hierarchical bootstrap CIs (seeds and test mixtures resampled).
    """
    scores = as_seed_scores(evaluations)
    every_seed = sorted({s for by_seed in scores.values() for s in by_seed})
    first = next(iter(next(iter(scores.values())).values()))
    scores[MIXTURE] = dict.fromkeys(every_seed, _mixture_scores(first))
    alphas = table["alpha"].dropna().sort_values()
    names = list(alphas.index)
    kw = {"n_boot": n_boot, "seed": seed}
    lines = ["### Findings (generated from the table above)", ""]
    pairs = [(spatial_name(1.0), spatial_name(0.0), None),
             (spatial_name(1.0), spatial_name(0.5), None),
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
        listed = "; ".join(f"{c.a}: {c.difference()}" for c in losers)
        which = "No" if len(losers) == len(beats) else "Not every"
        lines.append(f"- **{which} bootstrapped model beats the unprocessed mixture** with the "
                     f"95% CI of its paired SI-SDR improvement above 0: {listed}.")
    lines += _training_lines(table)
    lines += ["", setting_text(profile, n_train=n_train, n_test=len(first))]
    return "\n".join(lines)


def _training_lines(table: pd.DataFrame) -> list[str]:
    """Which models have how many seeds, and the subset model's steps against alpha = 1's."""
    if "n_seeds" not in table:
        return []
    models = table[table["n_seeds"].notna()]
    counts = models["n_seeds"].astype(int)
    lines = []
    for n, group in models.groupby(counts):
        lines.append(f"- **{n} seed{'s' if n > 1 else ''}**: {', '.join(group.index)} "
                     f"(seeds {group['seeds'].iloc[0]}).")
    ref = spatial_name(1.0)
    if GT_SUBSET in models.index and ref in models.index:
        sub, one = models.loc[GT_SUBSET], models.loc[ref]
        lines.append(f"- **Budget of the subset model**: {sub['steps_mean']:.0f} optimiser "
                     f"steps on average ({sub['stop_reason']}) against {one['steps_mean']:.0f} "
                     f"for {ref} ({one['stop_reason']}).")
    return lines


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
        f"{budget_text(t)} of batch {t.batch_size} × {t.crop_frames} frames instead of "
        f"{pt.epochs} epochs of batch {pt.batch_size} × {pt.crop_frames}; and arrays of radius "
        f"{100 * radius[0]:g}–{100 * radius[1]:g} cm instead of the recipe's "
        f"{100 * recipe[0]:g}–{100 * recipe[1]:g} cm.  Where a comparison has several seeds, "
        "its CI resamples seeds and test mixtures together; a one-seed comparison's CI covers "
        "test mixtures only, not seed noise."
    )


# -- tables on disk -----------------------------------------------------------------------------
_LABELS = {"quality": "Quality", "quantity": "Quantity", "si_sdr": "SI-SDR", "si_sir": "SI-SIR",
           "si_sar": "SI-SAR"}


def _number(value: float, digits: int) -> str:
    return "–" if pd.isna(value) else f"{value:.{digits}f}"


def format_table(table: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """Table 1 as strings: ``mean [low, high]`` cells beside the paper's values.

    Quality and Quantity get three decimals (as in the paper), metrics ``digits``; missing
    values read "–".  The training columns, when present, say how many seeds each row
    averages, the optimiser steps of each seed's run and why each run stopped.
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
                "–" if pd.isna(v) else format_ci(v, lo, hi, d)
                for v, lo, hi in zip(table[col], table[f"{col}_low"], table[f"{col}_high"],
                                     strict=True)]
        else:
            out[label] = [_number(v, d) for v in table[col]]
        out[f"{label} (paper)"] = [_number(v, 3 if d == 3 else 1) for v in table[f"paper_{col}"]]
    out["n"] = table["n"].astype(str)
    for col, label in (("n_seeds", "seeds"), ("steps", "steps (per seed)"),
                       ("stop_reason", "stopped by")):
        if col in table:
            out[label] = ["–" if pd.isna(v) else (f"{v:.0f}" if col == "n_seeds" else str(v))
                          for v in table[col]]
    return out
