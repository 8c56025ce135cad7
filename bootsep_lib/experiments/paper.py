"""Numbers published in the two papers, to print beside ours (facts, not results of ours).

Bootstrapping paper: Seetharaman, Wichern, Le Roux, Pardo, ICASSP 2019, Table 1 (SI-SDR,
SI-SIR, SI-SAR in dB on spatialized wsj0-2mix, anechoic, 8 kHz) and Fig. 2 (r = 0.36).
"""

from __future__ import annotations

import pandas as pd

__all__ = ["BOOTSTRAP_TABLE1", "FIG2_R", "bootstrap_table1"]

#: Pearson r between mean confidence and SDR of the spatial algorithm (validation set).
FIG2_R = 0.36

#: Table 1 of the bootstrapping paper: approach -> (quality, quantity, SDR, SIR, SAR).
BOOTSTRAP_TABLE1: dict[str, tuple[float | None, float | None, float, float, float]] = {
    "DC w/ ground truth (all)": (1.000, 1.000, 9.2, 22.4, 9.5),
    "DC w/ ground truth (subset)": (1.000, 0.050, 2.5, 11.5, 3.3),
    "DC w/ estimates, alpha=0": (0.303, 1.000, 1.8, 11.9, 2.8),
    "DC w/ estimates, alpha=0.5": (0.362, 0.205, 2.8, 13.5, 3.6),
    "DC w/ estimates, alpha=1": (0.387, 0.054, 2.9, 13.5, 3.7),
    "DC w/ estimates, alpha=2": (0.400, 0.005, 1.8, 11.5, 2.7),
    "Spatial algorithm": (None, None, 4.3, 17.3, 5.6),
    "Ensemble (oracle, alpha=1)": (None, None, 6.2, 19.6, 7.0),
    "Ensemble (random, alpha=1)": (None, None, 3.6, 15.4, 4.6),
    "Ensemble (conf., alpha=1)": (None, None, 5.0, 18.3, 5.9),
}


def bootstrap_table1() -> pd.DataFrame:
    """Table 1 of the bootstrapping paper as a DataFrame (columns prefixed ``paper_``)."""
    return pd.DataFrame.from_dict(
        BOOTSTRAP_TABLE1, orient="index",
        columns=["paper_quality", "paper_quantity", "paper_si_sdr", "paper_si_sir",
                 "paper_si_sar"],
    ).rename_axis("approach")
