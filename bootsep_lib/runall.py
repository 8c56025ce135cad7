"""Run the numbered notebooks end to end with papermill (what ``./run_all.sh`` does).

Order: build the profile's data if missing (resumable), then every ``notebooks/NN_*.ipynb`` in
order with the profile as a papermill parameter.  Executed copies go to
``outputs/<profile>/``; tables and figures go to the figures folder, with a manifest
(``manifest.json``: profile, git commit, date, wall time per notebook, machine).  The first
failing notebook stops the run with a non-zero exit that names it.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from . import paths
from .config import Profile
from .util import atomic_write_text

__all__ = ["NotebookRun", "find_notebooks", "run_notebooks", "select_notebooks",
           "write_manifest"]


#: Startup code of papermill's kernels: every figure still open at the end of a cell is shown
#: as a PNG, so the executed (and rendered) copies show the figures.  The inline backend would
#: do that too, but under it notebook 01's slider cell hangs papermill (seen 3 times of 5), so the
#: kernels keep run_all.sh's Agg backend and this hook shows the figures.
SHOW_FIGURES = """
def _bootsep_show_figures():
    import io
    import sys

    if "matplotlib.pyplot" not in sys.modules:
        return
    import matplotlib.pyplot as plt
    from IPython.display import Image, display

    for num in plt.get_fignums():
        fig = plt.figure(num)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=fig.dpi, bbox_inches="tight")
        display(Image(data=buf.getvalue(), format="png"))
    plt.close("all")


get_ipython().events.register("post_execute", _bootsep_show_figures)
"""


def _kernel_ipython_dir(folder: Path) -> Path:
    """An IPython folder whose startup file is :data:`SHOW_FIGURES` (``IPYTHONDIR``)."""
    startup = folder / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-bootsep-show-figures.py").write_text(SHOW_FIGURES)
    return folder


@dataclass
class NotebookRun:
    """Outcome of one executed notebook."""

    number: str
    source: Path
    output: Path
    seconds: float
    ok: bool


def select_notebooks(folder: Path, only: str | None = None) -> list[Path]:
    """Numbered notebooks ``NN_*.ipynb`` in ``folder``, sorted; ``only`` keeps numbers listed
    in a comma-separated string (``"04"`` or ``"01,02"``).

    Raises
    ------
    ValueError
        ``only`` lists no number (``""``), or a number no notebook has.
    """
    found = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if only is None:
        return found
    wanted = {s.strip().zfill(2) for s in only.split(",") if s.strip()}
    if not wanted:
        raise ValueError(f"--only {only!r}: give notebook numbers, e.g. --only 04 or 01,02")
    unknown = wanted - {p.name[:2] for p in found}
    if unknown:
        numbers = ", ".join(sorted(unknown))
        raise ValueError(f"--only: no notebook numbered {numbers} in {folder}")
    return [p for p in found if p.name[:2] in wanted]


def find_notebooks(folder: Path, only: str | None = None) -> list[Path]:
    """:func:`select_notebooks`, exiting (``SystemExit`` with the message) on a bad ``only``."""
    try:
        return select_notebooks(folder, only)
    except ValueError as exc:
        raise SystemExit(str(exc)) from exc


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=paths.repo_root(),
            capture_output=True, text=True, check=True,
        )
        dirty = subprocess.run(  # figures/ is what the run itself rewrites: not "dirty"
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
             ":(exclude)figures"], cwd=paths.repo_root(),
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _update_manifest(figures: Path, change) -> Path:
    """Read ``figures/manifest.json`` (or start one), apply ``change(manifest)``, write it."""
    path = figures / "manifest.json"
    manifest = json.loads(path.read_text()) if path.exists() else {"notebooks": {}}
    change(manifest)
    return atomic_write_text(path, json.dumps(manifest, indent=2, sort_keys=True) + "\n",
                             fsync=True)


def write_manifest(figures: Path, profile: Profile, runs: list[NotebookRun]) -> Path:
    """Merge this run's entries into ``figures/manifest.json`` (one entry per notebook)."""
    return _update_manifest(figures, lambda manifest: manifest["notebooks"].update({
        run.source.stem: _notebook_entry(profile, run) for run in runs}))


def _notebook_entry(profile: Profile, run: NotebookRun) -> dict:
    return {
        "profile": profile.name,
        "git_commit": _git_commit(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": round(run.seconds, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
        "python": platform.python_version(),
    }


def record_data_build(figures: Path, profile: Profile, seconds: float) -> Path:
    """Record the wall time of building ``profile``'s corpus in ``figures/manifest.json``."""
    return _update_manifest(figures, lambda manifest: manifest.setdefault(
        "data_build_seconds", {}).update({profile.name: round(seconds)}))


def _corpus_complete(profile: Profile) -> bool:
    from .data import SPLITS, split_status, subset_dir

    root = paths.data_root(profile.data.root)
    return all(split_status(subset_dir(root, n, cond, rate) / split) in ("complete", "foreign")
               for n, cond, rate in profile.data.subsets for split in SPLITS)


def run_notebooks(
    profile: Profile,
    *,
    only: str | None = None,
    jobs: int = 1,
    notebooks_dir: Path | None = None,
    output_dir: Path | None = None,
    figures: Path | None = None,
    log=print,
) -> list[NotebookRun]:
    """Execute the numbered notebooks in order with papermill.

    Parameters
    ----------
    profile : Profile
        Passed to every notebook as the ``profile`` parameter (by name).
    only : str, optional
        Comma-separated notebook numbers to run.
    jobs : int
        Passed as the ``jobs`` parameter (parallel processes for data and training).
    notebooks_dir, output_dir, figures : Path, optional
        Defaults: ``<repo>/notebooks``, ``<outputs>/<profile>``, ``<repo>/figures``.

    Returns
    -------
    list of NotebookRun
        Raises ``SystemExit`` naming the notebook when one fails.
    """
    import papermill

    notebooks_dir = notebooks_dir or paths.repo_root() / "notebooks"
    output_dir = output_dir or paths.outputs_dir() / profile.name
    figures = figures or paths.figures_dir()
    output_dir.mkdir(parents=True, exist_ok=True)
    figures.mkdir(parents=True, exist_ok=True)

    parameters = {"profile": profile.name, "jobs": int(jobs), "figures_dir": str(figures)}
    # Figures in the executed copies: papermill's kernels inherit IPYTHONDIR (see SHOW_FIGURES).
    previous = os.environ.get("IPYTHONDIR")
    hook = tempfile.TemporaryDirectory(prefix="bootsep-ipython-")
    os.environ["IPYTHONDIR"] = str(_kernel_ipython_dir(Path(hook.name)))
    runs: list[NotebookRun] = []
    try:
        for nb in find_notebooks(notebooks_dir, only):
            out = output_dir / nb.name
            log(f"running {nb.name} (profile {profile.name}) -> {out}")
            start = time.perf_counter()
            try:
                papermill.execute_notebook(str(nb), str(out), parameters=parameters,
                                           kernel_name="python3", cwd=str(notebooks_dir),
                                           progress_bar=False)
            except Exception as exc:  # papermill raises PapermillExecutionError with the cell
                seconds = time.perf_counter() - start
                runs.append(NotebookRun(nb.name[:2], nb, out, seconds, ok=False))
                _summary(runs, figures, log)
                msg = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
                raise SystemExit(
                    f"notebook {nb.name} failed after {seconds:.0f} s (executed copy: {out})\n{msg}"
                ) from exc
            runs.append(NotebookRun(nb.name[:2], nb, out, time.perf_counter() - start, ok=True))
            write_manifest(figures, profile, runs[-1:])  # now, so an interrupted run keeps it
    finally:
        if previous is None:
            os.environ.pop("IPYTHONDIR", None)
        else:
            os.environ["IPYTHONDIR"] = previous
        hook.cleanup()
    _summary(runs, figures, log)
    return runs


def _summary(runs: list[NotebookRun], figures: Path, log) -> None:
    if not runs:
        return
    log("")
    log(f"{'notebook':<40} {'status':<7} {'wall':>8}  executed copy")
    for r in runs:
        status = "ok" if r.ok else "FAILED"
        log(f"{r.source.name:<40} {status:<7} {r.seconds:>7.0f}s  {r.output}")
    total = sum(r.seconds for r in runs)
    log(f"{'total':<40} {'':<7} {total:>7.0f}s")
    log(f"tables and figures: {figures}")


def main_run_all(profile: Profile, jobs: int, only: str | None) -> int:
    """Data if missing, then the notebooks.  Returns a process exit code."""
    from .data import build_all

    find_notebooks(paths.repo_root() / "notebooks", only)  # a bad --only: before any work
    start = time.perf_counter()
    root = paths.data_root(profile.data.root)
    print(f"[run_all] data: {root} (profile {profile.name}, {jobs} jobs)", file=sys.stderr)
    complete_before = _corpus_complete(profile)
    build_all(profile.data, root=root, jobs=jobs)
    seconds = time.perf_counter() - start
    print(f"[run_all] data ready in {seconds:.0f} s", file=sys.stderr)
    if not complete_before:  # a build (not a check of a finished corpus): worth recording
        record_data_build(paths.figures_dir(), profile, seconds)
    def log(line: str) -> None:
        print(f"[run_all] {line}", file=sys.stderr)

    run_notebooks(profile, only=only, jobs=jobs, log=log)
    print(f"[run_all] finished in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return 0
