"""Copy the generated tables and findings of ``figures/`` into the README's result blocks.

    python tools/readme_results.py           # rewrite README.md's blocks from figures/
    python tools/readme_results.py --check   # exit 1 naming the blocks that differ

A block is ``<!-- from figures/NAME.md -->`` ... ``<!-- end -->`` (see
:mod:`bootsep_lib.report.readme`).  Run it after a laptop ``./run_all.sh``.
"""

from __future__ import annotations

import argparse
import sys

from bootsep_lib import paths
from bootsep_lib.report.readme import ReadmeError, refresh
from bootsep_lib.util.atomic import atomic_write_text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale blocks")
    args = parser.parse_args(argv)
    root = paths.repo_root()
    readme = root / "README.md"
    try:
        fresh, stale = refresh(readme, root)
        if args.check:
            for path in stale:
                print(f"readme_results: the README block of {path} differs from the file")
            return 1 if stale else 0
        atomic_write_text(readme, fresh)
    except ReadmeError as err:
        print(f"readme_results: {err}", file=sys.stderr)
        return 2
    print(f"readme_results: {len(stale)} block(s) updated: {', '.join(stale) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
