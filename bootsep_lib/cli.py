"""Command line: ``bootsep make-data | train | separate | run-all``.

Each subcommand is a thin wrapper over a library function; ``bootsep <cmd> --help`` lists the
options.  Sizes come from a named profile (``--profile smoke|laptop|paper``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import paths
from .profiles import PROFILES, get_profile

__all__ = ["main", "build_parser"]


def _add_profile(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", default="laptop", choices=sorted(PROFILES),
                   help="named scale profile (default: laptop)")


def _jobs_default() -> int:
    return max(1, os.cpu_count() or 1)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bootsep", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("make-data", help="synthesize and spatialize the embedded corpus")
    _add_profile(p)
    p.add_argument("--root", type=Path, default=None,
                   help="output root (default: $BOOTSEP_DATA or <repo>/data)")
    p.add_argument("--speakers", type=int, choices=(2, 3), default=None,
                   help="only the subsets with this many speakers")
    p.add_argument("--condition", choices=("anechoic", "reverb"), default=None)
    p.add_argument("--rate", type=int, choices=(8000, 16000), default=None)
    p.add_argument("--engine", default=None, help="speech engine (espeak, kokoro, flite)")
    p.add_argument("--jobs", type=int, default=_jobs_default())

    p = sub.add_parser("run-all", help="data if missing, then every notebook via papermill")
    _add_profile(p)
    p.add_argument("--jobs", type=int, default=_jobs_default())
    p.add_argument("--only", default=None, help="comma-separated notebook numbers, e.g. 04")
    return parser


def _make_data(args: argparse.Namespace) -> int:
    from . import make_data

    profile = get_profile(args.profile)
    data = profile.data
    subsets = [
        s for s in data.subsets
        if (args.speakers is None or s[0] == args.speakers)
        and (args.condition is None or s[1] == args.condition)
        and (args.rate is None or s[2] == args.rate)
    ]
    if not subsets:
        # Asked for a subset the profile does not list: build exactly that one.
        subsets = [(args.speakers or 2, args.condition or "anechoic", args.rate or 8000)]
    overrides = {"subsets": tuple(subsets)}
    if args.engine:
        overrides["engine"] = args.engine
    data = get_profile(profile, data=overrides).data
    root = args.root if args.root is not None else paths.data_root(data.root)
    make_data.build_all(data, root=root, jobs=args.jobs)
    print(root)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``bootsep`` command."""
    args = build_parser().parse_args(argv)
    if args.command == "make-data":
        return _make_data(args)
    if args.command == "run-all":
        from .runall import main_run_all

        return main_run_all(get_profile(args.profile), args.jobs, args.only)
    raise AssertionError(args.command)  # argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
