"""The two entry points: run_all.sh's argument handling and the no-tests guard."""

from __future__ import annotations

import subprocess

import pytest

from bootsep_lib import paths
from bootsep_lib.runall import find_notebooks

SCRIPT = paths.repo_root() / "run_all.sh"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=600,
        cwd=paths.repo_root(),
    )


def test_pytest_collecting_nothing_fails():
    """pytest's exit 5 (no tests) must not pass silently."""
    result = _run("--tests", "-q", "tests/test_profiles.py", "-k", "no_such_test_name")
    assert result.returncode == 1, result.stderr
    assert "collected no tests" in result.stderr


def test_unknown_argument_is_rejected():
    result = _run("--frobnicate")
    assert result.returncode == 2
    assert "unknown argument" in result.stderr


def test_only_rejects_missing_notebook(tmp_path):
    (tmp_path / "01_a.ipynb").write_text("{}")
    assert [p.name for p in find_notebooks(tmp_path, "1")] == ["01_a.ipynb"]
    with pytest.raises(SystemExit, match="07"):
        find_notebooks(tmp_path, "07")
