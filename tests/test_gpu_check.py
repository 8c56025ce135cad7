"""The GPU check script: its shell syntax, and its CPU-runnable steps end to end."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "gpu_check.sh"


def test_gpu_check_shell_syntax():
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)
    assert os.access(SCRIPT, os.X_OK)


@pytest.mark.slow
def test_gpu_check_cpu_mode(tmp_path):
    env = dict(os.environ, PYTHON=sys.executable)
    proc = subprocess.run(
        [str(SCRIPT), "--cpu", "--budget", "240", "--jobs", "2", "--work", str(tmp_path)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=400,
    )
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    status = {line.split()[1]: line.split()[0] for line in lines
              if line.split()[0] in ("PASS", "FAIL", "SKIP")}
    expected = {"setup", "corpus", "spatial", "train", "resume", "ddp_gloo", "torchrun",
                "separate"}
    assert {k for k, v in status.items() if v == "PASS"} == expected, proc.stdout
    assert status["ddp_nccl"] == "SKIP"
    assert re.fullmatch(r"8 passed, 0 failed", lines[-1])
    assert re.search(r"^PASS resume .*max_abs_weight_diff=0$", proc.stdout, re.M), proc.stdout
