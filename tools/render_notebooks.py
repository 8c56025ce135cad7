"""Copy the executed notebooks of a run into the repository, stripped of machine noise.

    python tools/render_notebooks.py [--profile laptop] [--outputs DIR] [--to notebooks/rendered]

Reads ``<outputs>/<profile>/NN_*.ipynb`` (what ``./run_all.sh`` executed) and writes
``notebooks/rendered/NN_*.ipynb`` with their audio players' WAVs under ``figures/audio/``
(see :mod:`bootsep_lib.report.rendered`); prints each file and the total size written.
``./run_all.sh`` calls it after every run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bootsep_lib import paths
from bootsep_lib.report.rendered import render_notebook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="laptop")
    parser.add_argument("--outputs", type=Path, default=None,
                        help="folder of executed notebooks (default: <outputs>/<profile>)")
    parser.add_argument("--to", type=Path, default=paths.repo_root() / "notebooks" / "rendered")
    parser.add_argument("--audio", type=Path, default=paths.figures_dir() / "audio")
    args = parser.parse_args(argv)
    source = args.outputs or paths.outputs_dir() / args.profile
    executed = sorted(source.glob("[0-9][0-9]_*.ipynb"))
    if not executed:
        print(f"render_notebooks: no executed notebooks in {source}", file=sys.stderr)
        return 2
    total = 0
    for nb in executed:
        out = render_notebook(nb, args.to / nb.name, args.audio, profile=args.profile)
        total += out.stat().st_size
        print(out)
    audio = sum(p.stat().st_size for p in args.audio.glob("*") if p.is_file())
    print(f"rendered {len(executed)} notebooks: {total / 1e6:.2f} MB, audio {audio / 1e6:.2f} MB",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
