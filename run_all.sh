#!/usr/bin/env bash
# bootsep: set up (if needed), build the data (if missing) and run every notebook.
#
#   ./run_all.sh [--profile smoke|laptop|paper] [--only 04] [--jobs N]   # the main job
#   ./run_all.sh --tests [pytest args...]                                # the test suite
#   ./run_all.sh --setup-only                                            # just the environment
#
# Environment: an already active conda env that has bootsep installed (from environment.yml)
# is used as is; otherwise a .venv/ at the repository root is created with python3 -m venv + pip.
# Override the torch requirement with BOOTSEP_TORCH (default: torch==2.13.0, the CPU wheel on
# this project's machines; on a CUDA machine e.g. BOOTSEP_TORCH="torch==2.13.0" from the CUDA
# index, installed before running this script).
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)

profile=laptop
only=""
jobs=$(nproc 2>/dev/null || echo 2)
mode=run
pytest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile="$2"; shift 2 ;;
    --profile=*) profile="${1#*=}"; shift ;;
    --only) only="$2"; shift 2 ;;
    --only=*) only="${1#*=}"; shift ;;
    --jobs) jobs="$2"; shift 2 ;;
    --jobs=*) jobs="${1#*=}"; shift ;;
    --tests) mode=tests; shift; pytest_args=("$@"); break ;;
    --setup-only) mode=setup; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "run_all.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done

log() { printf '[run_all] %s\n' "$*" >&2; }

# ---------------------------------------------------------------- environment
if [ -n "${CONDA_PREFIX:-}" ] && python -c "import bootsep_lib, papermill, pytest" 2>/dev/null; then
  PY=python
  log "using the active conda environment $CONDA_PREFIX"
else
  VENV="$ROOT/.venv"
  PY="$VENV/bin/python"
  if [ ! -x "$PY" ]; then
    log "creating $VENV"
    python3 -m venv "$VENV"
  fi
  stamp="$VENV/.bootsep-installed"
  want=$(cat pyproject.toml | sha256sum | cut -c1-16)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    log "installing bootsep and its dependencies into $VENV (first run: a few minutes)"
    "$PY" -m pip install --quiet --upgrade pip
    if ! "$PY" -c "import torch" 2>/dev/null; then
      "$PY" -m pip install --quiet "${BOOTSEP_TORCH:-torch==2.13.0}"
    fi
    "$PY" -m pip install --quiet -e ".[notebooks,test]"
    "$PY" -m ipykernel install --sys-prefix --name bootsep --display-name "Python (bootsep)" >/dev/null
    echo "$want" > "$stamp"
  fi
fi
export PYTHONHASHSEED=0
export MPLBACKEND=Agg

case "$mode" in
  setup)
    log "environment ready: $PY  (jupyter lab: $(dirname "$PY")/jupyter lab)"
    exit 0 ;;
  tests)
    # pytest exits 5 when it collects no test: that must fail, not pass silently.
    set +e
    "$PY" -m pytest "${pytest_args[@]}"
    rc=$?
    set -e
    if [ "$rc" -eq 5 ]; then log "pytest collected no tests: failing"; exit 1; fi
    exit "$rc" ;;
esac

# ---------------------------------------------------------------- data, then notebooks
only_args=()
[ -n "$only" ] && only_args=(--only "$only")
exec "$PY" -m bootsep_lib.cli run-all --profile "$profile" --jobs "$jobs" "${only_args[@]}"
