"""Rendered notebooks: results kept, machine noise stripped, audio moved to small files, and
the same bytes when rendered twice."""

from __future__ import annotations

import base64
import json

import nbformat
import numpy as np
from IPython.display import Audio

from bootsep_lib.plots.audio import audio_table
from bootsep_lib.report.rendered import ABSOLUTE_PATH, render_notebook, scrub_text, small_png


def _png() -> str:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.imshow(np.random.default_rng(0).random((20, 20)), cmap="magma")
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


PNG = _png()


def _executed(tmp_path):
    """An executed notebook with every kind of output papermill leaves."""
    rate = 8000
    tone = np.sin(2 * np.pi * 440 * np.arange(rate // 4) / rate)
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3"},
                   "papermill": {"duration": 12.3, "input_path": "/work/x/nb.ipynb"},
                   "widgets": {"state": {}}}
    code = nbformat.v4.new_code_cell("x = 1", execution_count=7)
    code.metadata = {"papermill": {"duration": 1.2}, "execution": {"iopub.x": "2026"},
                     "tags": ["parameters"]}
    code.outputs = [
        nbformat.v4.new_output("stream", name="stdout",
                               text=f"run dir: {tmp_path}/cache/models/abc\nready\n"),
        nbformat.v4.new_output("stream", name="stderr", text="100%|####| 6/6 [00:01, 5 it/s]"),
        nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Fig>"}),
        nbformat.v4.new_output("display_data", data={"text/html": Audio(tone, rate=rate)
                                                     ._repr_html_(), "text/plain": "<Audio>"}),
        nbformat.v4.new_output("display_data", data={
            "text/html": audio_table([("a", tone), ("b", -tone)], rate).data}),
        nbformat.v4.new_output("display_data", data={
            "application/vnd.jupyter.widget-view+json": {"model_id": "f00"},
            "text/plain": "  0%|          | 0/6 [00:00<?, ?it/s]"}),
        nbformat.v4.new_output("display_data", data={
            "application/vnd.jupyter.widget-view+json": {"model_id": "ba5"},
            "text/plain": "interactive(children=(IntSlider(value=0, max=7), Output()))"}),
        nbformat.v4.new_output("execute_result", execution_count=7,
                               data={"text/plain": "'/home/someone/data/tt'"}),
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("# title"), code]
    path = tmp_path / "run" / "01_demo.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, path)
    return path


def test_scrub_text_replaces_known_and_unknown_paths():
    text = scrub_text("a /srv/x/y b /work/repo/figures/f.png c", {"/work/repo": "<repo>"})
    assert text == "a <path> b <repo>/figures/f.png c"
    assert not ABSOLUTE_PATH.search(text)


def test_render_strips_noise_keeps_results_and_is_stable(tmp_path):
    executed = _executed(tmp_path)
    out = tmp_path / "repo" / "notebooks" / "rendered"
    audio = tmp_path / "repo" / "figures" / "audio"
    mine = {str(tmp_path): "<t>"}
    first = render_notebook(executed, out / executed.name, audio, profile="smoke",
                            replace=mine).read_bytes()
    files = sorted(p.name for p in audio.iterdir())
    second = render_notebook(executed, out / executed.name, audio, profile="smoke",
                             replace=mine).read_bytes()
    assert first == second and sorted(p.name for p in audio.iterdir()) == files
    assert files == ["01_c01_0.wav", "01_c01_1.wav", "01_c01_2.wav"]
    nb = json.loads(first)
    assert nb["metadata"] == {"kernelspec": {"display_name": "Python 3", "language": "python",
                                             "name": "python3"},
                              "language_info": {"name": "python"},
                              "bootsep": {"rendered_profile": "smoke"}}
    cell = nb["cells"][1]
    assert cell["execution_count"] is None and cell["metadata"] == {"tags": ["parameters"]}
    outs = cell["outputs"]
    assert [o.get("name") for o in outs if o["output_type"] == "stream"] == ["stdout"]
    assert "".join(outs[0]["text"]) == "run dir: <t>/cache/models/abc\nready\n"
    texts = json.dumps([o for o in outs if "image/png" not in o.get("data", {})])
    assert "base64" not in texts and not ABSOLUTE_PATH.search(texts)
    assert '../../figures/audio/01_c01_0.wav' in texts
    (shown,) = [o["data"]["image/png"] for o in outs if "image/png" in o.get("data", {})]
    assert shown == small_png(PNG) and len(shown) < len(PNG)  # figures kept, smaller
    plain = ["".join(o["data"].get("text/plain", "")) for o in outs
             if o["output_type"] != "stream"]
    assert any("IntSlider" in p for p in plain) and not any("it/s" in p for p in plain)
    wav = (audio / "01_c01_0.wav").read_bytes()
    assert wav[:4] == b"RIFF" and len(wav) < 10_000
