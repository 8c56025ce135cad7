"""JupyterLab in a real browser: notebook 01 run in headless Chromium with the bootsep kernel.

Starts ``jupyter lab`` from the set-up environment (the interpreter running the tests), opens a
copy of notebook 01 set to the smoke profile and the "Python (bootsep)" kernel in headless
Chromium (Debian's ``chromium`` + ``chromium-driver``, driven by selenium), runs every cell
through JupyterLab's own "run all cells" command and asserts that the kernel starts, no cell
errs, the figures render and the audio players and the slider exist; the screenshot goes to
``figures/browser_check.png``.  Skipped unless ``BOOTSEP_BROWSER=1``
(``./run_all.sh --tests --browser tests/browser``).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from bootsep_lib import paths

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(os.environ.get("BOOTSEP_BROWSER") != "1",
                       reason="the browser check runs with BOOTSEP_BROWSER=1 "
                       "(./run_all.sh --tests --browser tests/browser)"),
]

CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
KERNEL_NAME, KERNEL_DISPLAY = "bootsep", "Python (bootsep)"
RUN_TIMEOUT_S = 900

#: JavaScript: the state of the open notebook, from JupyterLab's own models.
STATE_JS = """
const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
if (!w || !w.content || !w.sessionContext) { return null; }
const kernel = w.sessionContext.session && w.sessionContext.session.kernel;
const cells = w.content.widgets.filter(c => c.model.type === 'code').map(c => ({
  count: c.model.executionCount,
  errors: c.model.outputs.toJSON().filter(o => o.output_type === 'error')
            .map(o => o.ename + ': ' + o.evalue)}));
return {kernel: kernel ? kernel.status : null, name: w.sessionContext.kernelDisplayName,
        busy: w.sessionContext.kernelChangedSignal ? null : null, cells: cells,
        images: document.querySelectorAll('.jp-RenderedImage img').length,
        audio: document.querySelectorAll('audio').length,
        sliders: document.querySelectorAll('.widget-slider').length};
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _notebook_copy(folder: Path) -> Path:
    """Notebook 01 with the smoke profile in its parameters cell and the bootsep kernel."""
    nb = nbformat.read(paths.repo_root() / "notebooks" / "01_spatial_clustering.ipynb", 4)
    (params,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    params.source += f'\nprofile = "smoke"\njobs = 2\nfigures_dir = "{folder / "figures"}"\n'
    (folder / "figures").mkdir()
    nb.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": KERNEL_DISPLAY,
                                 "language": "python"}
    path = folder / "01_browser.ipynb"
    nbformat.write(nb, path)
    return path


def _lab(folder: Path, port: int, token: str) -> subprocess.Popen:
    settings = folder / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    # Every cell in the DOM (no windowing), so players and figures below the fold are counted.
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    news = folder / "settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)  # no "get notified about Jupyter news?" pop-up in the screenshot
    (news / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    env = {**os.environ, "PYTHONPATH": str(paths.repo_root()), "MPLBACKEND": "module://"
           "matplotlib_inline.backend_inline", "JUPYTERLAB_SETTINGS_DIR": str(folder / "settings"),
           "JUPYTER_RUNTIME_DIR": str(folder / "runtime")}
    jupyter = Path(sys.executable).with_name("jupyter")
    cmd = [str(jupyter), "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
           f"--ServerApp.token={token}", f"--ServerApp.root_dir={folder}",
           "--expose-app-in-browser", "--allow-root"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                            stderr=open(folder / "lab.log", "w"))  # noqa: SIM115


def _driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1800",
                "--disable-dev-shm-usage"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(str(DRIVER)), options=opts)


def _shrink(png: Path) -> None:
    """Store the screenshot with a 256-colour palette (a third of the bytes; text stays sharp)."""
    from PIL import Image

    with Image.open(png) as img:
        small = img.convert("RGB").quantize(colors=256)
    small.save(png, optimize=True)


def _wait(driver, done, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        state = driver.execute_script(STATE_JS)
        if state is not None and done(state):
            return state
        time.sleep(1.0)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last state "
                         f"{driver.execute_script(STATE_JS)}")


def test_notebook_01_runs_in_jupyterlab_in_chromium(tmp_path, smoke_data):
    pytest.importorskip("selenium", reason="pip install selenium (the [browser] extra)")
    if not (CHROMIUM.exists() and DRIVER.exists()):
        pytest.skip("apt-get install -y chromium chromium-driver")
    start = time.perf_counter()
    nb = _notebook_copy(tmp_path)
    port, token = _free_port(), secrets.token_hex(16)
    lab = _lab(tmp_path, port, token)
    driver = None
    try:
        driver = _driver()
        url = f"http://127.0.0.1:{port}/lab/tree/{nb.name}?token={token}"
        for _ in range(60):  # the server needs a few seconds to listen
            try:
                driver.get(url)
                break
            except Exception:  # noqa: BLE001 -- connection refused until it listens
                time.sleep(1.0)
        state = _wait(driver, lambda s: s["kernel"] == "idle", 180, "the kernel to start")
        assert state["name"] == KERNEL_DISPLAY
        driver.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells');")
        state = _wait(driver, lambda s: s["kernel"] == "idle" and all(
            c["count"] is not None for c in s["cells"]), RUN_TIMEOUT_S, "every cell to run")
        errors = [e for c in state["cells"] for e in c["errors"]]
        assert not errors, errors
        assert state["images"] >= 5, state
        assert state["audio"] >= 4, state
        assert state["sliders"] >= 1, state
        shot = paths.figures_dir() / "browser_check.png"
        slider = driver.find_element("css selector", ".widget-slider")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", slider)
        time.sleep(1.0)
        driver.save_screenshot(str(shot))
        _shrink(shot)
        print(f"browser check: {time.perf_counter() - start:.0f} s, {len(state['cells'])} code "
              f"cells, {state['images']} figures, {state['audio']} players, screenshot {shot}")
    finally:
        if driver is not None:
            driver.quit()
        lab.terminate()
        try:
            lab.wait(timeout=20)
        except subprocess.TimeoutExpired:
            lab.kill()
        shutil.rmtree(tmp_path / "runtime", ignore_errors=True)
