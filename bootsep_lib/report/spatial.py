"""Generated findings of the spatial stage (notebook 02): prose written from the numbers."""

from __future__ import annotations

import pandas as pd

from ..config import Profile
from ..eval.stats import format_ci
from ..studies.spatial_stage import correlations
from .published import BOOTSTRAP_TABLE1, FIG2_R

__all__ = ["spatial_findings"]


def spatial_findings(profile: Profile, valid: pd.DataFrame, test_summary: pd.Series) -> str:
    """Markdown findings of notebook 02, generated from the numbers.

    Parameters
    ----------
    profile : Profile
    valid : pandas.DataFrame
        The validation spatial-stage table (``confidence``, ``si_sdr`` per mixture).
    test_summary : pandas.Series
        The test row of :func:`~bootsep_lib.studies.summarize` (``si_sdr``,
        ``si_sdr_low``, ``si_sdr_high``).
    """
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
        f"* Spatial algorithm on the test set: SI-SDR {format_ci(sdr, low, high)} dB "
        f"(paper {paper_sdr} dB): {versus}",
        f"* What differs from the paper: synthetic eSpeak NG voices instead of WSJ0, "
        f"{profile.data.n_valid} / {profile.data.n_test} validation / test mixtures instead of "
        f"5,000 / 3,000, arrays of radius {r_lo:g}-{r_hi:g} cm instead of 7.5-12.5 cm, and "
        f"{ipd} (notebook 01 measures both choices).",
    ])
