"""The two entry points: run_all.sh's argument handling and the no-tests guard."""

from __future__ import annotations

import json
import subprocess

import pytest

from bootsep_lib import paths, runall
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


def test_git_commit_is_dirty_for_code_not_for_figures(tmp_path, monkeypatch):
    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path,
                       check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "table.md").write_text("old\n")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", ".")
    git("commit", "-qm", "first")
    monkeypatch.setattr(paths, "repo_root", lambda: tmp_path)
    clean = runall._git_commit()
    assert len(clean) >= 7 and not clean.endswith("-dirty")
    (tmp_path / "figures" / "table.md").write_text("new\n")  # what a run rewrites
    assert runall._git_commit() == clean
    (tmp_path / "code.py").write_text("x = 2\n")
    assert runall._git_commit() == clean + "-dirty"


def test_record_data_build_merges_into_the_manifest(tmp_path):
    from bootsep_lib.config import get_profile

    (tmp_path / "manifest.json").write_text('{"notebooks": {"01_x": {"wall_seconds": 3}}}')
    runall.record_data_build(tmp_path, get_profile("smoke"), 12.4)
    runall.record_data_build(tmp_path, get_profile("laptop"), 230.6)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["data_build_seconds"] == {"smoke": 12, "laptop": 231}
    assert manifest["notebooks"] == {"01_x": {"wall_seconds": 3}}
