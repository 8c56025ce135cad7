"""Every number the two papers publish, to print beside ours (facts, not results of ours).

The one file of published numbers; it imports nothing of the package, so any room may read it.

* Bootstrapping paper: Seetharaman, Wichern, Le Roux, Pardo, ICASSP 2019 -- Table 1 (SI-SDR,
  SI-SIR, SI-SAR in dB on spatialized wsj0-2mix, anechoic, 8 kHz) and Fig. 2 (r = 0.36).  Its
  training setup is the ``paper`` profile (:data:`bootsep_lib.config.PROFILES`).
* M-DC paper: Tanaka et al., Interspeech 2021 -- Table 1 (DC vs M-DC, wsj0-2mix / wsj0-3mix)
  and the setup of its Section 3.  Fig. 2 (Chimera vs M-Chimera) is printed as a plot only, so
  no numbers of it are recorded here.
"""

from __future__ import annotations

import pandas as pd

__all__ = [
    "BOOTSTRAP_TABLE1",
    "FIG2_R",
    "MDC_DATA",
    "MDC_NETWORK",
    "MDC_STFT_SAMPLES",
    "MDC_TABLE1",
    "MDC_TRAINING",
    "MUSIC_BOOTSTRAP",
    "TEACHER_ISSUE_ANCHORS",
    "TEACHER_PAPER_SPATIAL",
    "TEACHER_PAPER_STUDENT",
    "bootstrap_table1",
]

# -- the bootstrapping paper --------------------------------------------------------------------
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


# -- the M-DC paper -----------------------------------------------------------------------------
#: Table 1 of the M-DC paper (wsj0-2mix / wsj0-3mix, 4x600 BLSTM, D = 40): means over the test
#: set, keyed by ``(n_speakers, sample_rate)``, then ``"dc"`` / ``"mdc"``, then metric (SI-SDR,
#: SDR, SIR, SAR in dB; STOI in [0, 1]).
MDC_TABLE1: dict[tuple[int, int], dict[str, dict[str, float]]] = {
    (2, 8000): {
        "dc": {"si_sdr": 8.863, "sdr": 9.402, "sir": 17.810, "sar": 10.473, "stoi": 0.858},
        "mdc": {"si_sdr": 9.321, "sdr": 9.843, "sir": 18.372, "sar": 10.837, "stoi": 0.870},
    },
    (2, 16000): {
        "dc": {"si_sdr": 6.923, "sdr": 7.417, "sir": 15.923, "sar": 8.548, "stoi": 0.810},
        "mdc": {"si_sdr": 7.347, "sdr": 7.827, "sir": 16.405, "sar": 8.907, "stoi": 0.822},
    },
    (3, 8000): {
        "dc": {"si_sdr": 2.390, "sdr": 3.271, "sir": 10.041, "sar": 5.376, "stoi": 0.675},
        "mdc": {"si_sdr": 2.455, "sdr": 3.331, "sir": 10.121, "sar": 5.423, "stoi": 0.677},
    },
    (3, 16000): {
        "dc": {"si_sdr": 0.889, "sdr": 1.705, "sir": 8.629, "sar": 3.900, "stoi": 0.611},
        "mdc": {"si_sdr": 0.882, "sdr": 1.701, "sir": 8.645, "sar": 3.874, "stoi": 0.611},
    },
}

#: The M-DC paper's STFT (Section 3.1): square-root Hann window of 256 samples, hop 64, at both
#: sampling rates (32 / 8 ms at 8 kHz, 16 / 4 ms at 16 kHz).
MDC_STFT_SAMPLES = (256, 64)

#: The M-DC paper's data, network and schedule (Section 3), as the findings quote them.
MDC_DATA = "wsj0-2mix / wsj0-3mix, 30 h / 10 h / 5 h"
MDC_NETWORK = "4 x 600, D = 40"
MDC_TRAINING = ("RMSprop at 1e-4, batch 32, lr halved after 5 stalls, stopped after 30 "
                "stalls")

# -- the teacher study (notebook 07) -------------------------------------------------------------
#: The bootstrapping paper's spatial algorithm (SI-SDR, dB): Table 1 on anechoic mixtures, and
#: the SDR it reports on reverberant ones (Section 3, why it restricts itself to anechoic data).
TEACHER_PAPER_SPATIAL = {"anechoic": 4.3, "reverb": 1.1}

#: The paper's bootstrapped student with alpha = 1 (Table 1), anechoic.
TEACHER_PAPER_STUDENT = {"anechoic": 2.9}

#: Issue 12's first trial (30 laptop test mixtures, stereo mics 1-2, 30 iterations, SI-SDR vs
#: the reference-mic source images), by room and teacher name of bootsep_lib.spatial.
TEACHER_ISSUE_ANCHORS = {
    "anechoic": {"ipd-gmm": 4.2, "auxiva-2ch": 17.2, "ilrma-2ch": 17.1, "fastmnmf2-2ch": 19.4},
    "reverb": {"ipd-gmm": 1.6, "auxiva-2ch": 2.0, "ilrma-2ch": 1.8, "fastmnmf2-2ch": 2.6},
}

#: Seetharaman et al. 2020, music bootstrapping (MUSDB18 test SI-SDR, dB): a student ~1 dB above
#: its primitive teacher.
MUSIC_BOOTSTRAP = {"teacher": 4.37, "student": 5.32, "ground truth": 7.97}
