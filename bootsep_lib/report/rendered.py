"""Executed notebooks made fit to commit: results kept, machine noise stripped.

:func:`render_notebook` turns a notebook papermill executed (``outputs/<profile>/NN_*.ipynb``)
into the copy committed under ``notebooks/rendered/``, so that a reader on GitHub sees every
figure, table and generated finding without running anything, and a rerun's diff shows only
what changed in the results:

* kept: markdown, code, text / HTML / Markdown / LaTeX outputs, PNG figures (re-encoded with
  a 256-colour palette, :func:`small_png`), errors;
* dropped: papermill's and the kernel's metadata (timings, paths, versions), execution counts,
  stderr streams (progress bars, warnings), widget views (tqdm bars, the slider: their state is
  not saved) -- their plain-text fallback is kept;
* rewritten: absolute paths of this machine (repository, data, cache, outputs, home, temp) become
  ``<repo>``, ``<data>``, ``<cache>``, ``<outputs>``, ``<home>``, ``<tmp>``; audio players that
  embed their WAV as base64 become ``<audio>`` elements linking to a short WAV file written
  beside (``figures/audio/<notebook>_<cell>_<k>.wav``), which JupyterLab plays from the
  repository -- the notebook stays small.

The output is a pure function of the input (sorted keys, fixed names), so rendering twice gives
the same bytes.
"""

from __future__ import annotations

import base64
import copy
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

import nbformat

from .. import paths

__all__ = ["machine_paths", "render_notebook", "scrub_text", "small_png", "ABSOLUTE_PATH"]

#: What an absolute path of a machine looks like in text (used by the tests and the scrubber).
ABSOLUTE_PATH = re.compile(r"(?<![\w.<])/(?:home|root|tmp|work|Users|var|mnt|opt|srv)/[^\s'\"<>]*")

_AUDIO = re.compile(r'src="data:audio/(?P<kind>[\w.+-]+);base64,(?P<data>[A-Za-z0-9+/=\s]+)"')
_KEEP_MIME = ("text/plain", "text/html", "text/markdown", "text/latex", "image/png",
              "image/svg+xml", "application/json")
_WIDGET = "application/vnd.jupyter.widget-view+json"
_PROGRESS = re.compile(r"it/s|s/it|\d+%\|")


def machine_paths() -> dict[str, str]:
    """Absolute paths of this machine and their placeholders, longest first."""
    found = {
        str(paths.repo_root()): "<repo>", str(paths.data_root()): "<data>",
        str(paths.cache_dir()): "<cache>", str(paths.outputs_dir()): "<outputs>",
        str(Path.home()): "<home>", tempfile.gettempdir(): "<tmp>",
    }
    found.update({os.path.realpath(k): v for k, v in list(found.items())})
    return dict(sorted(found.items(), key=lambda kv: -len(kv[0])))


def scrub_text(text: str, replace: Mapping[str, str]) -> str:
    """``text`` with every path of ``replace`` and any other absolute path replaced."""
    for path, name in replace.items():
        if path and path != "/":
            text = text.replace(path, name)
    return ABSOLUTE_PATH.sub("<path>", text)


def small_png(data: str) -> str:
    """A base64 PNG re-encoded with a 256-colour palette (about 2.4x fewer bytes, measured on
    notebook 01's figures; deterministic, so a rerun with the same figure gives the same text)."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(base64.b64decode(data))) as img:
        small = img.convert("RGB").quantize(colors=256)
    out = io.BytesIO()
    small.save(out, format="png", optimize=True)
    return base64.b64encode(out.getvalue()).decode("ascii")


class _AudioSink:
    """Writes the base64 audio sources of one cell's outputs to numbered files, links them."""

    def __init__(self, stem: str, folder: Path, link: str) -> None:
        self.stem, self.folder, self.link, self.count = stem, folder, link, 0

    def __call__(self, html: str) -> str:
        return _AUDIO.sub(self._write, html)

    def _write(self, match: re.Match) -> str:
        name = f"{self.stem}_{self.count}.{match['kind'].replace('x-', '')}"
        self.count += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / name).write_bytes(base64.b64decode(re.sub(r"\s", "", match["data"])))
        return f'src="{self.link}/{name}"'


def _display_data(raw: dict, replace: Mapping[str, str], audio: _AudioSink) -> dict:
    """The kept MIME bundles of a display output (widget views: a slider's text only)."""
    if _WIDGET in raw:  # widget state is not saved: keep a slider's text, drop progress bars
        plain = "".join(raw.get("text/plain", ""))
        if not plain or _PROGRESS.search(plain):
            return {}
        raw = {"text/plain": plain}
    data = {}
    for mime, value in raw.items():
        if mime not in _KEEP_MIME:
            continue
        text = value if isinstance(value, str | dict) else "".join(value)
        if mime == "text/html":
            text = audio(text)
        if mime.startswith("text/"):
            text = scrub_text(text, replace)
        elif mime == "image/png":
            text = small_png(text)
        data[mime] = text
    return data


def _output(out: dict, replace: Mapping[str, str], audio: _AudioSink) -> dict | None:
    """One cell output, stripped (None: dropped)."""
    kind = out.get("output_type")
    if kind == "stream":
        if out.get("name") == "stderr":
            return None
        return {"output_type": "stream", "name": out["name"],
                "text": scrub_text("".join(out["text"]), replace)}
    if kind == "error":
        return {"output_type": "error", "ename": out["ename"],
                "evalue": scrub_text(out["evalue"], replace),
                "traceback": [scrub_text(t, replace) for t in out["traceback"]]}
    data = _display_data(out.get("data", {}), replace, audio)
    if not data:
        return None
    return {"output_type": "display_data", "data": data, "metadata": {}}


def render_notebook(
    executed: str | os.PathLike,
    out_path: str | os.PathLike,
    audio_dir: str | os.PathLike,
    *,
    profile: str,
    replace: Mapping[str, str] | None = None,
) -> Path:
    """Write the stripped copy of an executed notebook (see the module docstring).

    Parameters
    ----------
    executed : path-like
        A notebook executed by :func:`bootsep_lib.runall.run_notebooks`.
    out_path : path-like
        Where the rendered notebook goes.
    audio_dir : path-like
        Folder of its audio files (linked relative to ``out_path``).
    profile : str
        Recorded in the notebook's metadata (``bootsep.rendered_profile``).
    replace : mapping, optional
        Absolute path -> placeholder (default :func:`machine_paths`).

    Returns
    -------
    Path
        ``out_path``.
    """
    out_path, audio_dir = Path(out_path), Path(audio_dir)
    replace = machine_paths() if replace is None else replace
    nb = nbformat.read(executed, as_version=4)
    link = os.path.relpath(audio_dir, out_path.parent).replace(os.sep, "/")
    stem = out_path.stem[:2]
    for old in audio_dir.glob(f"{stem}_*"):
        old.unlink()
    cells = []
    for index, cell in enumerate(nb.cells):
        cell = copy.deepcopy(cell)
        cell.metadata = {k: v for k, v in cell.metadata.items() if k == "tags"}
        cell.pop("id", None)
        if cell.cell_type == "code":
            cell.source = scrub_text(cell.source, replace)  # papermill's injected parameters
            cell.execution_count = None
            sink = _AudioSink(f"{stem}_c{index:02d}", audio_dir, link)
            outs = [_output(o, replace, sink) for o in cell.get("outputs", [])]
            cell.outputs = [nbformat.from_dict(o) for o in outs if o is not None]
        cells.append(cell)
    nb.cells = cells
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python",
                                  "name": "python3"},
                   "language_info": {"name": "python"},
                   "bootsep": {"rendered_profile": profile}}
    nb.nbformat, nb.nbformat_minor = 4, 4
    out_path.parent.mkdir(parents=True, exist_ok=True)
    text = nbformat.writes(nb, version=4)
    out_path.write_text(text if text.endswith("\n") else text + "\n")
    return out_path
