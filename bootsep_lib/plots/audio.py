"""Audio players for the notebooks: a labelled table of ``<audio>`` elements, one per signal.

:func:`audio_table` returns one HTML output (IPython's :class:`~IPython.display.Audio` players in
a table), so that :mod:`bootsep_lib.report.rendered` can move each player's WAV into a small file
beside the committed notebook.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["audio_table"]


def audio_table(named: Sequence[tuple[str, np.ndarray]], rate: int):
    """One HTML table: a label and a player for each ``(name, signal)``.

    Parameters
    ----------
    named : sequence of (str, np.ndarray of shape (samples,))
    rate : int
        Sample rate of every signal.

    Returns
    -------
    IPython.display.HTML
    """
    from html import escape

    from IPython.display import HTML, Audio

    rows = "".join(
        f"<tr><td style='text-align:left'>{escape(name)}</td>"
        f"<td>{Audio(np.asarray(signal, dtype=np.float64), rate=rate)._repr_html_()}</td></tr>"
        for name, signal in named)
    return HTML(f"<table class='bootsep-audio'>{rows}</table>")
