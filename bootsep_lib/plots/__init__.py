"""One function per figure, one style (matplotlib + seaborn).

Every figure function returns a :class:`matplotlib.figure.Figure` and draws nothing else;
notebooks show it and :func:`save` writes it (PNG + PDF, atomically) to the figures folder.
Submodules by stage: :mod:`.spatial` (notebooks 01-02), and one per later notebook.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
import seaborn as sns
from matplotlib.figure import Figure

from ..util import atomic_write

__all__ = ["CMAP", "use_style", "save"]

CMAP = "magma"


def use_style() -> None:
    """The project's plotting style (seaborn ``whitegrid``, notebook context)."""
    sns.set_theme(style="whitegrid", context="notebook", palette="deep")
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "savefig.bbox": "tight"})


#: savefig metadata per format: no creation date in PDFs (reruns give the same bytes).
_METADATA = {"pdf": {"CreationDate": None}}


def save(fig: Figure, folder: str | os.PathLike, name: str, formats=("png", "pdf")) -> list[Path]:
    """Write ``fig`` as ``folder/name.{png,pdf}`` atomically; returns the paths.

    PDFs carry no creation date, so a rerun with unchanged results rewrites the same bytes.
    """
    folder = Path(folder)
    return [atomic_write(folder / f"{name}.{ext}",
                         lambda tmp, ext=ext: fig.savefig(tmp, format=ext,
                                                          metadata=_METADATA.get(ext)))
            for ext in formats]
