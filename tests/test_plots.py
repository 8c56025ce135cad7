"""Figures: a rerun with the same numbers writes the same bytes (no dates, seeded bootstraps)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bootsep_lib import plots  # noqa: E402
from bootsep_lib.plots import spatial as splots  # noqa: E402


def _pairs() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 200
    return pd.DataFrame({"distance": rng.uniform(0.01, 0.25, n),
                         "tdoa_gap": rng.uniform(0.0, 8.0, n),
                         "si_sdr": rng.normal(4.0, 3.0, n)})


def test_saving_the_same_figure_twice_gives_the_same_bytes(tmp_path):
    written = {}
    for run in ("a", "b"):
        fig = splots.pair_spacing(_pairs())  # seaborn bootstraps its CIs: seeded
        written[run] = plots.save(fig, tmp_path / run, "pairs")
        plt.close(fig)
    for first, second in zip(written["a"], written["b"], strict=True):
        assert first.suffix == second.suffix
        assert first.read_bytes() == second.read_bytes(), first.suffix
    assert b"CreationDate" not in written["a"][1].read_bytes()
