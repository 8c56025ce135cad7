"""The natural-voice table and its findings: which results survive the change of voice.

:func:`voices_table` turns :func:`bootsep_lib.studies.voices.run_voices`'s results into one
long table (quantity x engine: mean, 95% CI, n), :func:`findings` writes one paragraph from
those numbers, :func:`write_voices` writes ``figures/voices.{csv,md}``.  Five findings are
checked per engine (each "holds" when its CI lies on the paper's side of 0):

* the spatial stage separates (test SI-SDR above the mixture's, paired over mixtures);
* its mean confidence predicts its SI-SDR (validation r > 0, CI of r from resampled pairs);
* alpha = 1 beats alpha = 0 (paired over test mixtures);
* ground truth beats alpha = 1 (paired);
* the alpha = 1 model beats the unprocessed mixture (paired).

A finding *survives the change of voice* when it holds on every engine.  The spatial SI-SDR
and r of the two engines are also compared directly (an unpaired bootstrap of the difference).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import Profile
from ..eval.stats import bootstrap_ci, format_ci, paired_scores
from ..studies.bootstrap import GT_ALL, spatial_name
from ..studies.voices import VoiceResult, correlation_ci
from .published import BOOTSTRAP_TABLE1, FIG2_R
from .tables import write_table

__all__ = ["QUANTITIES", "voices_table", "readable_table", "findings", "unpaired_difference_ci",
           "setting_note", "write_voices"]

A0, A1 = spatial_name(0.0), spatial_name(1.0)
SPATIAL_VS_MIX = "spatial stage - mixture, SI-SDR (tt)"
CONF_R = "confidence r with SI-SDR (cv)"
A1_VS_A0 = "alpha=1 - alpha=0, SI-SDR (tt)"
GT_VS_A1 = "ground truth - alpha=1, SI-SDR (tt)"
A1_VS_MIX = "alpha=1 - mixture, SI-SDR (tt)"

#: Rows of the table, in order, with the paper's value where it has one.
QUANTITIES: dict[str, float | None] = {
    "spatial stage SI-SDR (tt)": BOOTSTRAP_TABLE1["Spatial algorithm"][2],
    SPATIAL_VS_MIX: None,
    CONF_R: FIG2_R,
    f"{GT_ALL} SI-SDR (tt)": BOOTSTRAP_TABLE1[GT_ALL][2],
    f"{A0} SI-SDR (tt)": BOOTSTRAP_TABLE1[A0][2],
    f"{A1} SI-SDR (tt)": BOOTSTRAP_TABLE1[A1][2],
    A1_VS_A0: BOOTSTRAP_TABLE1[A1][2] - BOOTSTRAP_TABLE1[A0][2],
    GT_VS_A1: BOOTSTRAP_TABLE1[GT_ALL][2] - BOOTSTRAP_TABLE1[A1][2],
    A1_VS_MIX: None,
}
#: The four findings checked on every engine: (row, what it says).
CHECKS = ((SPATIAL_VS_MIX, "the spatial stage beats the mixture"),
          (CONF_R, "confidence predicts the spatial stage's SI-SDR (r > 0)"),
          (A1_VS_A0, "alpha = 1 beats alpha = 0"),
          (GT_VS_A1, "ground truth beats alpha = 1"),
          (A1_VS_MIX, "the alpha = 1 model beats the unprocessed mixture"))


def _spatial_rows(res: VoiceResult, n_boot: int, seed: int) -> dict[str, tuple]:
    tt, cv = res.spatial_test, res.spatial_valid
    mix = res.scores[GT_ALL][["id", "si_sdr_mix"]].rename(columns={"si_sdr_mix": "si_sdr"})
    return {
        "spatial stage SI-SDR (tt)": (*bootstrap_ci(tt["si_sdr"], n_boot=n_boot, seed=seed),
                                      len(tt)),
        SPATIAL_VS_MIX: (*paired_scores(tt[["id", "si_sdr"]], mix, "si_sdr", n_boot=n_boot,
                                        seed=seed), len(tt)),
        CONF_R: (*correlation_ci(cv["confidence"], cv["si_sdr"], n_boot=n_boot, seed=seed),
                 len(cv)),
    }


def _model_rows(res: VoiceResult, n_boot: int, seed: int) -> dict[str, tuple]:
    rows = {}
    for name in (GT_ALL, A0, A1):
        scores = res.scores[name]["si_sdr"]
        rows[f"{name} SI-SDR (tt)"] = (*bootstrap_ci(scores, n_boot=n_boot, seed=seed),
                                       len(scores))
    for row, (a, b) in ((A1_VS_A0, (A1, A0)), (GT_VS_A1, (GT_ALL, A1))):
        rows[row] = (*paired_scores(res.scores[a], res.scores[b], "si_sdr", n_boot=n_boot,
                                    seed=seed), len(res.scores[a]))
    gain = res.scores[A1]["si_sdr"] - res.scores[A1]["si_sdr_mix"]  # same mixture, same row
    rows[A1_VS_MIX] = (*bootstrap_ci(gain, n_boot=n_boot, seed=seed), len(gain))
    return rows


def voices_table(results: dict[str, VoiceResult], *, n_boot: int = 10_000,
                 seed: int = 0) -> pd.DataFrame:
    """One row per (quantity, engine): ``mean``, ``low``, ``high`` (95% CI), ``n``, ``paper``.

    Differences are paired over the same mixtures; r's CI resamples (confidence, SI-SDR) pairs.
    """
    rows = []
    for engine, res in results.items():
        values = {**_spatial_rows(res, n_boot, seed), **_model_rows(res, n_boot, seed)}
        for quantity, paper in QUANTITIES.items():
            mean, low, high, n = values[quantity]
            rows.append({"quantity": quantity, "engine": engine, "mean": mean, "low": low,
                         "high": high, "n": n, "paper": paper})
    return pd.DataFrame(rows)


def readable_table(table: pd.DataFrame) -> pd.DataFrame:
    """Quantities down, engines across (``mean [low, high]``), the paper's value last."""
    digits = {CONF_R: 2}
    cells = table.assign(cell=[
        format_ci(r.mean, r.low, r.high, digits.get(r.quantity, 2),
                  sign=r.quantity in (SPATIAL_VS_MIX, A1_VS_A0, GT_VS_A1, A1_VS_MIX))
        for r in table.itertuples()])
    wide = cells.pivot(index="quantity", columns="engine", values="cell")
    wide = wide.loc[list(dict.fromkeys(table["quantity"])), list(dict.fromkeys(table["engine"]))]
    paper = table.drop_duplicates("quantity").set_index("quantity")["paper"]
    wide["paper"] = [("–" if pd.isna(v) else f"{v:.2f}") for v in paper.loc[wide.index]]
    return wide.rename_axis(columns=None).reset_index()


def unpaired_difference_ci(a: np.ndarray, b: np.ndarray, *, n_boot: int = 10_000,
                           ci: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """Bootstrap CI of ``mean(a) - mean(b)`` for independent samples (each resampled alone)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    rng = np.random.default_rng(seed)
    diffs = (a[rng.integers(0, a.size, (n_boot, a.size))].mean(axis=1)
             - b[rng.integers(0, b.size, (n_boot, b.size))].mean(axis=1))
    low, high = np.quantile(diffs, [(1 - ci) / 2, (1 + ci) / 2])
    return float(a.mean() - b.mean()), float(low), float(high)


def _holds(row: pd.Series) -> bool:
    return bool(row["low"] > 0)


def findings(table: pd.DataFrame, results: dict[str, VoiceResult], *, n_boot: int = 10_000,
             seed: int = 0) -> str:
    """One paragraph: per finding, on which engines it holds (with its numbers), and whether
    it survives the change of voice; then how far the spatial stage moved between engines."""
    engines = list(dict.fromkeys(table["engine"]))
    by = table.set_index(["quantity", "engine"])
    sentences = []
    for quantity, text in CHECKS:
        held = [e for e in engines if _holds(by.loc[(quantity, e)])]
        numbers = "; ".join(
            f"{e} {format_ci(*by.loc[(quantity, e), ['mean', 'low', 'high']], digits=2)}"
            for e in engines)
        verdict = ("survives the change of voice" if len(held) == len(engines)
                   else f"holds on {', '.join(held)} only" if held else "holds on no engine")
        sentences.append(f"{text[0].upper()}{text[1:]}: {verdict} ({numbers}).")
    if len(engines) == 2:
        a, b = (results[e] for e in engines)
        diff = unpaired_difference_ci(a.spatial_test["si_sdr"], b.spatial_test["si_sdr"],
                                      n_boot=n_boot, seed=seed)
        moved = "differs" if diff[1] > 0 or diff[2] < 0 else "does not differ detectably"
        sentences.append(f"The spatial stage's SI-SDR {moved} between {engines[0]} and "
                         f"{engines[1]} ({format_ci(*diff, sign=True)} dB, "
                         "unpaired bootstrap: different mixtures).")
    return " ".join(sentences)


def setting_note(profile: Profile) -> str:
    """What was run: corpus sizes, speakers, utterances, network and schedule, seeds."""
    v, m = profile.voices, profile.model
    return (f"Setting (profile {profile.name!r}): per engine {v.n_train} / {v.n_valid} / "
            f"{v.n_test} mixtures (tr / cv / tt; 2 speakers, anechoic, 8 kHz), "
            f"{v.speakers_train} / {v.speakers_valid} / {v.speakers_test} disjoint speakers with "
            f"{v.utterances_per_speaker} utterances each ({v.words_per_utterance[0]}-"
            f"{v.words_per_utterance[1]} words); {m.layers}x{m.units} BLSTM, D = "
            f"{m.embedding_dim}, {v.epochs} epochs, batch {profile.train.batch_size}; one seed "
            f"per model ({profile.train.seed}). The paper: spatialized wsj0-2mix, 20,000 "
            "training mixtures, 4x300 BLSTM, 100 epochs.")


def write_voices(results: dict[str, VoiceResult], figures: str | os.PathLike, *,
                 profile: Profile | None = None, n_boot: int = 10_000
                 ) -> tuple[list[Path], str]:
    """Write ``voices.csv`` (every number) and ``voices.md`` (table, findings, setting)."""
    table = voices_table(results, n_boot=n_boot)
    text = findings(table, results, n_boot=n_boot)
    notes = (text,) if profile is None else (text, setting_note(profile))
    files = write_table(table, figures, "voices", readable=readable_table(table),
                        notes=notes, index=False)
    return files, text
