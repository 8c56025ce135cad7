"""Findings of the learning curves, generated from the numbers (notebook 06).

Two questions, each answered with paired bootstrap CIs over the same validation mixtures:

* **Does an arm still improve at the end?**  The change of its validation SI-SDR from the
  snapshot nearest three quarters of its steps to its last snapshot.
* **How do the gaps between arms move with budget?**  For every pair of arms with snapshots at
  common steps: the gap at the common step nearest half of their last common step, at that last
  step, and the change between the two (per mixture, a difference of differences).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from ..eval.stats import bootstrap_ci, format_ci

__all__ = ["still_improving", "gap_table", "curve_findings"]


def _at(scores: pd.DataFrame, arm: str, step: int) -> pd.Series:
    """Per-mixture SI-SDR of ``arm`` at ``step``, indexed by mixture id."""
    rows = scores[(scores["arm"] == arm) & (scores["step"] == step)]
    return rows.set_index("id")["si_sdr"].sort_index()


def _nearest(steps: np.ndarray, target: float) -> int:
    return int(steps[np.argmin(np.abs(steps - target))])


def still_improving(scores: pd.DataFrame, *, n_boot: int = 2_000, seed: int = 0) -> pd.DataFrame:
    """Per arm: the last snapshot's SI-SDR and the change over its last quarter of steps.

    Parameters
    ----------
    scores : pandas.DataFrame
        ``Curves.scores``: ``arm``, ``step``, ``id``, ``si_sdr``.

    Returns
    -------
    pandas.DataFrame
        Index ``arm``; ``from_step``, ``last_step``, ``last`` / ``last_low`` / ``last_high``
        (mean SI-SDR at the last snapshot with its CI) and ``change`` / ``change_low`` /
        ``change_high`` (paired, last minus ``from_step``).
    """
    rows = {}
    for arm, part in scores.groupby("arm", sort=False):
        steps = np.unique(part["step"].to_numpy())
        last = int(steps[-1])
        start = _nearest(steps[:-1], 0.75 * last) if steps.size > 1 else last
        end_scores, start_scores = _at(scores, arm, last), _at(scores, arm, start)
        change = bootstrap_ci((end_scores - start_scores).to_numpy(), n_boot=n_boot, seed=seed)
        final = bootstrap_ci(end_scores.to_numpy(), n_boot=n_boot, seed=seed)
        rows[arm] = {"from_step": start, "last_step": last,
                     **dict(zip(("last", "last_low", "last_high"), final, strict=True)),
                     **dict(zip(("change", "change_low", "change_high"), change, strict=True))}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("arm")


def gap_table(scores: pd.DataFrame, *, n_boot: int = 2_000, seed: int = 0) -> pd.DataFrame:
    """Gaps between every pair of arms at half and at all of their common budget.

    Returns
    -------
    pandas.DataFrame
        One row per pair ``(a, b)`` with at least two common positive steps: ``half_step``,
        ``gap_half`` (+ ``_low`` / ``_high``: mean of ``a - b`` per mixture), ``end_step``,
        ``gap_end`` (+ CI) and ``change`` (+ CI: ``gap_end - gap_half``, paired).
    """
    arms = list(dict.fromkeys(scores["arm"]))
    rows = []
    for a, b in itertools.combinations(arms, 2):
        common = np.intersect1d(scores.loc[scores["arm"] == a, "step"].unique(),
                                scores.loc[scores["arm"] == b, "step"].unique())
        common = common[common > 0]
        if common.size < 2:
            continue
        end = int(common[-1])
        half = _nearest(common[:-1], end / 2)
        gap_half = _at(scores, a, half) - _at(scores, b, half)
        gap_end = _at(scores, a, end) - _at(scores, b, end)
        row = {"a": a, "b": b, "half_step": half, "end_step": end}
        for name, values in (("gap_half", gap_half), ("gap_end", gap_end),
                             ("change", gap_end - gap_half)):
            mean, low, high = bootstrap_ci(values.to_numpy(), n_boot=n_boot, seed=seed)
            row.update({name: mean, f"{name}_low": low, f"{name}_high": high})
        rows.append(row)
    return pd.DataFrame(rows)


def _trend_word(low: float, high: float) -> str:
    if low > 0:
        return "still improving"
    if high < 0:
        return "getting worse"
    return "flat within noise"


def _gap_word(row: pd.Series) -> str:
    """How a pair's gap moves from half to all of the common budget, in words."""
    low, high = row["change_low"], row["change_high"]
    if low <= 0 <= high:
        return "about the same at both budgets (the change's CI spans 0)"
    half, end = row["gap_half"], row["gap_end"]
    if half * end < 0:
        shape = "the sign flips"
    else:
        shape = "the gap widens" if abs(end) > abs(half) else "the gap narrows"
    change = format_ci(row["change"], low, high, sign=True)
    return f"it moves {change} dB towards {row['a'] if low > 0 else row['b']} ({shape})"


def curve_findings(
    summary: pd.DataFrame, scores: pd.DataFrame, *, n_boot: int = 2_000, seed: int = 0
) -> str:
    """Markdown bullets: per arm, is it still improving; per pair, how the gap moves.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`bootsep_lib.studies.curves.curve_summary` (paper values, fits, stop reasons).
    scores : pandas.DataFrame
        ``Curves.scores`` (per mixture).
    """
    trend = still_improving(scores, n_boot=n_boot, seed=seed)
    first = summary.groupby("arm", sort=False).first()
    lines = []
    for arm, row in trend.iterrows():
        info = first.loc[arm]
        if np.isfinite(info["fit_a"]):
            fit = (f"; a saturating fit puts its plateau at {info['fit_a']:.2f} dB "
                   f"(τ = {info['fit_tau']:.0f} steps — an extrapolation)")
        elif np.isfinite(info["fit_tau"]):
            fit = (f"; no plateau is claimed: a saturating fit's time constant "
                   f"({info['fit_tau']:.0f} steps) exceeds half the observed steps")
        else:
            fit = ""
        lines.append(
            f"- **{arm}**: {format_ci(row['last'], row['last_low'], row['last_high'])} dB at "
            f"step {int(row['last_step'])} ({info['stop_reason'] or 'not finished'}); from step "
            f"{int(row['from_step'])} to the end it moved "
            f"{format_ci(row['change'], row['change_low'], row['change_high'], sign=True)} dB: "
            f"**{_trend_word(row['change_low'], row['change_high'])}**{fit}. The paper's "
            f"final test SI-SDR: {info['paper_si_sdr']:.1f} dB.")
    for _, row in gap_table(scores, n_boot=n_boot, seed=seed).iterrows():
        lines.append(
            f"- {row['a']} − {row['b']}: "
            f"{format_ci(row['gap_half'], row['gap_half_low'], row['gap_half_high'], sign=True)}"
            f" dB at step {int(row['half_step'])}, "
            f"{format_ci(row['gap_end'], row['gap_end_low'], row['gap_end_high'], sign=True)}"
            f" dB at step {int(row['end_step'])}: {_gap_word(row)}.")
    return "\n".join(lines)
