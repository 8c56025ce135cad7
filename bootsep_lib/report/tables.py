"""Writing result tables: the numbers as CSV, a readable GitHub-flavoured Markdown beside them.

One writer for every notebook's tables (no ``tabulate`` dependency: the format is small).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from ..util.atomic import atomic_write_text

__all__ = ["markdown_table", "write_table", "budget_text"]


def markdown_table(frame: pd.DataFrame, index: bool = True) -> str:
    """A GitHub-flavoured Markdown table of ``frame`` (cells as ``str``).

    The first column (the index when ``index`` is True) is left-aligned, the others right-aligned;
    ``|`` inside cells is escaped.
    """
    if index:
        frame = frame.reset_index().rename(columns={"index": frame.index.name or ""})

    def cell(value: object) -> str:
        return str(value).replace("|", "\\|")

    header = [cell(c) for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(["---"] + ["--:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |"
              for row in frame.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def write_table(
    table: pd.DataFrame,
    folder: str | os.PathLike,
    name: str,
    *,
    readable: pd.DataFrame | None = None,
    notes: Iterable[str] = (),
    findings: str = "",
    index: bool = True,
) -> list[Path]:
    """Write ``folder/name.csv`` (every number) and ``folder/name.md`` (readable), atomically.

    Parameters
    ----------
    table : pandas.DataFrame
        The numbers.
    folder, name
        Output folder and file stem.
    readable : pandas.DataFrame, optional
        What the Markdown shows (e.g. ``mean [low, high]`` strings); default ``table``.
    notes : iterable of str
        Appended to the Markdown as a bullet list (e.g. generated findings).
    findings : str
        Markdown appended after the notes as it is (e.g. findings with their own heading).
    index : bool
        Whether the index is a column (of the CSV and of the Markdown).

    Returns
    -------
    list of Path
        The two files.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    md = markdown_table(table if readable is None else readable, index=index)
    notes = list(notes)
    if notes:
        md += "\n" + "".join(f"- {line}\n" for line in notes)
    if findings:
        md += "\n" + findings.rstrip("\n") + "\n"
    return [atomic_write_text(folder / f"{name}.{ext}", text)
            for ext, text in (("csv", table.to_csv(index=index)), ("md", md))]


def budget_text(train: object) -> str:
    """How long a :class:`~bootsep_lib.config.TrainConfig` trains, in words (the stopping rule).

    E.g. "at most 100 epochs or 756 optimiser steps (lr halved after 5 epochs without a new
    best validation loss, early stop after 30)".
    """
    cap = getattr(train, "max_steps", None)
    limit = f"at most {train.epochs} epochs" + (f" or {cap:,} optimiser steps" if cap else "")
    return (f"{limit} (lr halved after {train.lr_patience} epochs without a new best "
            f"validation loss, early stop after {train.early_stop_patience})")
