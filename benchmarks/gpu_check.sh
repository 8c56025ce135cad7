#!/usr/bin/env bash
# The GPU check: set-up with the machine's torch, then benchmarks/gpu_check.py (corpus, paper-
# shape training with AMP, resume, DDP, torchrun, separate); one PASS/FAIL/SKIP line per step,
# last line "N passed, M failed"; at most about 8 minutes.
#
#   benchmarks/gpu_check.sh [gpu_check.py options, e.g. --cpu --budget 120]
#   PYTHON=/usr/bin/python3.12 benchmarks/gpu_check.sh   # an interpreter that already has the
#                                                        # deps (no package index needed)
# Without PYTHON: BOOTSEP_SYSTEM_TORCH=1 ./run_all.sh --setup-only (a .venv that sees the
# machine's torch), then its python.
set -uo pipefail
cd "$(dirname "$0")/.."
setup_timeout=${GPU_CHECK_SETUP_TIMEOUT:-300}
prior="0,0"
if [ -n "${PYTHON:-}" ]; then
  PY="$PYTHON"
else
  if timeout "$setup_timeout" env BOOTSEP_SYSTEM_TORCH=1 ./run_all.sh --setup-only >/dev/null 2>&1; then
    PY=.venv/bin/python
  else
    echo "FAIL setup ./run_all.sh --setup-only failed (offline? set PYTHON=<python with the deps>)"
    echo "0 passed, 1 failed"
    exit 1
  fi
fi
if info=$(PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" timeout 120 "$PY" -c '
import sys, torch, numpy, scipy, soundfile, pandas, bootsep_lib
cuda = torch.cuda.is_available()
name = torch.cuda.get_device_name(0).replace(" ", "_") if cuda else "none"
print("python=%s torch=%s cuda=%s gpus=%d gpu=%s" % (sys.version.split()[0], torch.__version__,
      cuda, torch.cuda.device_count(), name))
' 2>&1); then
  echo "PASS setup $info"
  prior="1,0"
else
  echo "FAIL setup $PY cannot import the deps: $(printf '%s' "$info" | tail -n 1)"
  prior="0,1"
fi
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" timeout 540 "$PY" benchmarks/gpu_check.py --prior "$prior" "$@"
rc=$?
if [ "$rc" -eq 124 ]; then echo "FAIL driver timed out"; exit 1; fi
exit "$rc"
