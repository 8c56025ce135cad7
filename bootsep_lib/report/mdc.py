"""The M-DC study in words: findings, how the setup differs from the paper's, readable tables.

Every sentence is generated from the tables of :mod:`bootsep_lib.studies.mdc` and
:mod:`bootsep_lib.studies.mdc_cosines`; what differs from the paper's setup is read from the
profile and :mod:`bootsep_lib.report.published`.
"""

from __future__ import annotations

import pandas as pd

from .. import dsp
from ..config import Profile
from ..eval.stats import format_ci
from .published import MDC_DATA, MDC_NETWORK, MDC_STFT_SAMPLES, MDC_TRAINING
from .tables import budget_text

__all__ = ["findings", "differences_from_paper", "mdc_table_markdown", "pair_table_markdown"]

_LABELS = {"dc": "DC", "mdc": "M-DC", "chimera": "Chimera", "mchimera": "M-Chimera"}
_METRIC_LABELS = {"si_sdr": "SI-SDR", "sdr": "SDR", "sir": "SIR", "sar": "SAR", "stoi": "STOI"}


def _verdict(low: float, high: float) -> str:
    if low > 0:
        return "better"
    if high < 0:
        return "worse"
    return "no significant difference"


def _check_lines(checks: pd.DataFrame) -> list[str]:
    """One sentence per pair of :func:`~bootsep_lib.studies.mdc_checks.shared_model_checks`."""
    lines = []
    for name, row in checks.iterrows():
        same_loss = (row["train_loss_a"] == row["train_loss_b"]
                     and row["valid_loss_a"] == row["valid_loss_b"])
        lines.append(
            f"{name}: trained side by side, training and validation losses "
            f"{'identical' if same_loss else 'differ'}, shared weights differ by at most "
            f"{row['max_weight_diff']:.3g}."
        )
    return lines


def _table_lines(table: pd.DataFrame) -> list[str]:
    """SI-SDR per configuration, the tally of significant cells, the trend with N."""
    si = table[table["metric"] == "si_sdr"]
    lines = [
        f"{row.n_speakers} speakers, {row.sample_rate // 1000} kHz: M-DC - DC SI-SDR "
        f"= {format_ci(row.diff, row.diff_low, row.diff_high, sign=True)} dB over {row.n} test "
        f"mixtures ({_verdict(row.diff_low, row.diff_high)}; paper {row.paper_diff:+.2f} dB; "
        f"ours DC {row.dc:.2f} / M-DC {row.mdc:.2f} dB, paper {row.paper_dc:.2f} / "
        f"{row.paper_mdc:.2f})."
        for row in si.itertuples()
    ]
    wins = table[table["diff_low"] > 0]
    losses = table[table["diff_high"] < 0]
    lines.append(
        f"Across {len(table)} (configuration, metric) cells M-DC is significantly better in "
        f"{len(wins)}, significantly worse in {len(losses)}; the paper reports M-DC higher "
        f"in {int((table['paper_diff'] > 0).sum())} of them."
    )
    by_n = si.groupby("n_speakers")["diff"].mean()
    if {2, 3} <= set(by_n.index):
        smaller = "smaller" if by_n[3] < by_n[2] else "not smaller"
        lines.append(
            f"Mean SI-SDR gain of M-DC: {by_n[2]:+.2f} dB with 2 speakers, {by_n[3]:+.2f} dB "
            f"with 3 -- {smaller} with 3 speakers (the paper's Eq. 6-8 predict a smaller "
            f"gain as N grows)."
        )
    return lines


def _best_gap(best: dict[str, pd.Series], metric: str) -> str:
    """Best M-Chimera against best Chimera: the gap and whether their CIs overlap."""
    chim, mchim = best["chimera"], best["mchimera"]
    gap = mchim[metric] - chim[metric]
    overlap = (mchim[f"{metric}_low"] <= chim[f"{metric}_high"]
               and chim[f"{metric}_low"] <= mchim[f"{metric}_high"])
    same = mchim["run_id"] == chim["run_id"]
    return (f"Best M-Chimera - best Chimera = {gap:+.2f} dB"
            + (" (the same shared model)" if same else
               f" ({'overlapping' if overlap else 'disjoint'} CIs)")
            + "; the paper reports M-Chimera's best above Chimera's best.")


def _chimera_lines(chimera: pd.DataFrame, metric: str) -> list[str]:
    """The best head weight of each system (column ``alpha``) and the gap between the bests."""
    best = {}
    lines = []
    for system, group in chimera.groupby("system"):
        top = group.loc[group[metric].idxmax()]
        best[system] = top
        ci = format_ci(top[metric], top[f"{metric}_low"], top[f"{metric}_high"])
        head = "K-means on the DC head" if top["head"] == "dc" else "MI head"
        mean, interval = ci.split(" ", 1)
        lines.append(f"{_LABELS[system]}: best alpha = {top['alpha']:g} with {mean} dB "
                     f"{interval} ({head}).")
    if {"chimera", "mchimera"} <= set(best):
        lines.append(_best_gap(best, metric))
    return lines


def _bootstrapped_line(boot: pd.DataFrame) -> str:
    """Bootstrapped M-DC against bootstrapped DC (the paper's method, not the resampling)."""
    d = boot.loc["mdc - dc"]
    return (
        f"Bootstrapped (spatial pseudo labels, alpha = 1 weights): M-DC - DC SI-SDR = "
        f"{format_ci(d['mean'], d['low'], d['high'], sign=True)} dB over {int(d['n'])} mixtures "
        f"({_verdict(d['low'], d['high'])}); DC {boot.loc['dc', 'mean']:.2f} dB, "
        f"M-DC {boot.loc['mdc', 'mean']:.2f} dB."
    )


def _pair_lines(pairs: pd.DataFrame) -> list[str]:
    """One sentence per seeded DC / M-DC pair: the difference, its CI and the seed count."""
    lines = []
    for r in pairs.itertuples():
        paper = ("beyond the papers" if pd.isna(r.paper_diff)
                 else f"paper {r.paper_diff:+.2f} dB")
        against = ""
        if pd.notna(r.paper_diff) and (r.diff_high < 0 < r.paper_diff
                                       or r.paper_diff < 0 < r.diff_low):
            against = " -- against the paper"
        lines.append(
            f"{r.pair[0].upper()}{r.pair[1:]}: M-DC - DC SI-SDR = "
            f"{format_ci(r.diff, r.diff_low, r.diff_high, sign=True)} dB over {r.n_seeds} "
            f"seeds x {r.n} test mixtures ({_verdict(r.diff_low, r.diff_high)}{against}; "
            f"M-DC > DC in {r.mdc_wins} of {r.n_seeds} seeds; {paper}); DC "
            f"{format_ci(r.dc, r.dc_low, r.dc_high)} dB, M-DC "
            f"{format_ci(r.mdc, r.mdc_low, r.mdc_high)} dB."
        )
    return lines


def _geometry_lines(geometry: pd.DataFrame) -> list[str]:
    """Median angle between embeddings of different speakers against the target angle."""
    return [
        f"{_LABELS[row.loss]}, {row.n_speakers} speakers: median angle between "
        f"embeddings of different speakers {row.median_angle:.0f} deg (target "
        f"{row.target_angle:.0f} deg); {100 * row.share_obtuse:.0f}% of the pairs "
        f"beyond 90 deg."
        for row in geometry.itertuples()
    ]


def findings(
    table: pd.DataFrame | None = None,
    chimera: pd.DataFrame | None = None,
    boot: pd.DataFrame | None = None,
    geometry: pd.DataFrame | None = None,
    checks: pd.DataFrame | None = None,
    *,
    pairs: pd.DataFrame | None = None,
    metric: str = "si_sdr",
) -> list[str]:
    """Sentences stating what the numbers show (every number read from the tables).

    Parameters
    ----------
    table : output of :func:`~bootsep_lib.studies.mdc.mdc_table`, optional
    chimera : output of :func:`~bootsep_lib.studies.mdc.chimera_table` for ``metric``, optional
    boot : output of :func:`~bootsep_lib.studies.mdc.bootstrap_comparison`, optional
    geometry : output of :func:`~bootsep_lib.studies.mdc_cosines.cosine_summary`, optional
    checks : output of :func:`~bootsep_lib.studies.mdc_checks.shared_model_checks`, optional
    pairs : output of :func:`~bootsep_lib.studies.mdc_seeds.pair_table`, optional
        The seeded DC / M-DC pairs (means over seeds, hierarchical CIs, seed counts).
    metric : str
        The column of ``chimera``.

    Returns
    -------
    list of str
        One finding per line (Markdown-ready).
    """
    lines: list[str] = []
    if checks is not None and not checks.empty:
        lines += _check_lines(checks)
    if table is not None and not table.empty:
        lines += _table_lines(table)
    if chimera is not None and not chimera.empty:
        lines += _chimera_lines(chimera, metric)
    if pairs is not None and not pairs.empty:
        lines += _pair_lines(pairs)
    if boot is not None:
        lines.append(_bootstrapped_line(boot))
    if geometry is not None and not geometry.empty:
        lines += _geometry_lines(geometry)
    return lines


def differences_from_paper(profile: Profile) -> list[str]:
    """How this run's setup differs from the M-DC paper's (Section 3), read from the profile."""
    data, model, train = profile.data, profile.mdc_model, profile.mdc_train
    secondary = data.secondary_sizes or (data.n_train, data.n_valid, data.n_test)
    window, hop = profile.spatial.window_ms, profile.spatial.hop_ms
    sizes = [(rate, *dsp.stft_params(rate, window, hop)) for rate in (8000, 16000)]
    stft = ", ".join(f"{n} / {h} samples at {rate // 1000} kHz" for rate, n, h in sizes)
    paper_window, paper_hop = MDC_STFT_SAMPLES
    return [
        f"Speech: synthetic {data.engine} voices ({data.speakers_train} training speakers), "
        "not WSJ0 read speech.",
        f"Data: {secondary[0]} / {secondary[1]} training / validation mixtures for every "
        f"model of the study; tested on {data.n_test} mixtures for 2 speakers at 8 kHz and "
        f"{secondary[2]} for the other three configurations; the paper: {MDC_DATA}.",
        f"Network: {model.layers} x {model.units} BLSTM, D = {model.embedding_dim}; the paper: "
        f"{MDC_NETWORK}.",
        f"Training: {train.optimizer} at lr {train.lr:g}, batch {train.batch_size} x "
        f"{train.crop_frames} frames, {budget_text(train)}; the paper: {MDC_TRAINING}.",
        f"STFT: periodic Hann window of {window:g} ms and hop {hop:g} ms at every rate, i.e. "
        f"{stft}; the paper: square-root Hann, {paper_window} / {paper_hop} samples at both "
        f"rates (so 16 / 4 ms at 16 kHz: our 16 kHz models see twice the frequency "
        "resolution and half the time resolution of the paper's).",
        "Training weights: magnitude weights |X| / sum |X| on every bin (the bootstrapping "
        "paper's Eq. 8 with C = 1).",
        f"Seeds: DC and M-DC at 2 speakers / 8 kHz and the bootstrapped pair are trained "
        f"under seeds {', '.join(map(str, profile.evidence.seeds))} (the same for both arms); "
        "every other model of the study has one seed, so its CIs cover test mixtures only.",
    ]


def mdc_table_markdown(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`~bootsep_lib.studies.mdc.mdc_table` for reading: ``mean [low, high]`` cells."""
    rows = []
    for r in table.itertuples():
        d = 3 if r.metric == "stoi" else 2
        rows.append({
            "configuration": f"{r.n_speakers} speakers, {r.sample_rate // 1000} kHz",
            "metric": _METRIC_LABELS.get(r.metric, r.metric),
            "DC": format_ci(r.dc, r.dc_low, r.dc_high, d),
            "M-DC": format_ci(r.mdc, r.mdc_low, r.mdc_high, d),
            "M-DC - DC": format_ci(r.diff, r.diff_low, r.diff_high, d, sign=True),
            "paper DC": f"{r.paper_dc:.3f}",
            "paper M-DC": f"{r.paper_mdc:.3f}",
            **({"steps DC / M-DC": f"{r.dc_steps} / {r.mdc_steps}",
                "stopped by DC / M-DC": f"{r.dc_stop_reason} / {r.mdc_stop_reason}"}
               if hasattr(r, "dc_steps") else {}),
        })
    return pd.DataFrame(rows)


def pair_table_markdown(pairs: pd.DataFrame) -> pd.DataFrame:
    """:func:`~bootsep_lib.studies.mdc_seeds.pair_table` for reading (SI-SDR, dB)."""
    rows = []
    for r in pairs.itertuples():
        row = {
            "pair": r.pair,
            "DC": format_ci(r.dc, r.dc_low, r.dc_high),
            "M-DC": format_ci(r.mdc, r.mdc_low, r.mdc_high),
            "M-DC - DC": format_ci(r.diff, r.diff_low, r.diff_high, sign=True),
            "M-DC > DC": f"{r.mdc_wins} of {r.n_seeds} seeds",
            "paper M-DC - DC": "–" if pd.isna(r.paper_diff) else f"{r.paper_diff:+.2f}",
            "n": str(r.n),
        }
        if hasattr(r, "dc_steps"):
            row.update({"seeds": r.seeds, "steps DC": r.dc_steps, "steps M-DC": r.mdc_steps,
                        "stopped by DC / M-DC": f"{r.dc_stop_reason} / {r.mdc_stop_reason}"})
        rows.append(row)
    return pd.DataFrame(rows)
