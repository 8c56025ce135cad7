#!/usr/bin/env bash
# bootsep: set up (if needed), build the data (if missing) and run every notebook.
#
#   ./run_all.sh [--profile smoke|laptop|paper] [--only 04] [--jobs N]   # the main job
#   ./run_all.sh --tests [pytest args...]                                # the test suite
#   ./run_all.sh --setup-only                                            # just the environment
#   ./run_all.sh --pretrained [...]   use the shipped models (models/) where their config id matches
#   ./run_all.sh --tests --browser [pytest args...]   also the JupyterLab check in headless Chromium
#   ./run_all.sh --export-models [...]   after the notebooks, write models/<profile>-*.{pt,json,md}
#
# Environment: an already active conda env that has bootsep installed (from environment.yml)
# is used as is; otherwise a .venv/ at the repository root is created with python3 -m venv + pip.
#   BOOTSEP_TORCH="torch==2.13.0 [pip options]"  the torch requirement (default torch==2.13.0, the
#        CPU wheel here); it may carry pip options, e.g. "torch==2.13.0 --index-url <CUDA index>".
#   BOOTSEP_SYSTEM_TORCH=1   make the venv see the interpreter's site-packages, so a CUDA torch the
#        machine already has is used instead of installing one (python3 must be that interpreter).
#   BOOTSEP_WHEELS=<folder>  install offline from a folder of wheels (pip --no-index --find-links).
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
    --only) only="${2-}"; only_given=1; shift 2 ;;
    --only=*) only="${1#*=}"; only_given=1; shift ;;
    --jobs) jobs="$2"; shift 2 ;;
    --jobs=*) jobs="${1#*=}"; shift ;;
    --tests) mode=tests; shift
      if [ "${1-}" = --browser ]; then export BOOTSEP_BROWSER=1; shift; fi
      pytest_args=("$@"); break ;;
    --setup-only) mode=setup; shift ;;
    --pretrained) pretrained=1; shift ;;
    --export-models) export_models=1; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "run_all.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done

log() { printf '[run_all] %s\n' "$*" >&2; }
die() { printf 'run_all.sh: %s\n' "$*" >&2; exit 2; }

# Reject bad arguments before any set-up or data build.
case "$jobs" in ''|*[!0-9]*|0) die "--jobs must be a positive integer, got '$jobs'" ;; esac
if [ "$mode" = run ]; then
  if [ "${only_given:-0}" = 1 ]; then
    [ -n "${only//[ ,]/}" ] || die "--only needs notebook numbers, e.g. --only 04 or --only 01,02"
    for n in ${only//,/ }; do
      case "$n" in [0-9]|[0-9][0-9]) ;; *) die "--only: '$n' is not a notebook number" ;; esac
      nn=$(printf '%02d' "$((10#$n))")
      compgen -G "notebooks/${nn}_*.ipynb" >/dev/null || die "--only: no notebook numbered $nn in notebooks/"
    done
  fi
fi

# ---------------------------------------------------------------- environment
if [ -n "${CONDA_PREFIX:-}" ] && python -c "import bootsep_lib, papermill, pytest" 2>/dev/null; then
  PY=python
  log "using the active conda environment $CONDA_PREFIX"
else
  VENV="$ROOT/.venv"
  PY="$VENV/bin/python"
  if [ ! -x "$PY" ]; then
    log "creating $VENV"
    venv_opts=()
    [ "${BOOTSEP_SYSTEM_TORCH:-0}" = 1 ] && venv_opts=(--system-site-packages)
    python3 -m venv "${venv_opts[@]}" "$VENV"
  fi
  pip_opts=(--quiet)
  [ -n "${BOOTSEP_WHEELS:-}" ] && pip_opts+=(--no-index --find-links "$BOOTSEP_WHEELS")
  stamp="$VENV/.bootsep-installed"
  want=$(cat pyproject.toml | sha256sum | cut -c1-16)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    log "installing bootsep and its dependencies into $VENV (first run: a few minutes)"
    [ -n "${BOOTSEP_WHEELS:-}" ] || "$PY" -m pip install --quiet --upgrade pip
    if "$PY" -c "import torch" 2>/dev/null; then
      log "using the installed torch $("$PY" -c 'import torch; print(torch.__version__, "cuda" if torch.cuda.is_available() else "cpu")')"
    else
      read -r -a torch_req <<< "${BOOTSEP_TORCH:-torch==2.13.0}"
      "$PY" -m pip install "${pip_opts[@]}" "${torch_req[@]}"
    fi
    "$PY" -m pip install "${pip_opts[@]}" -e ".[notebooks,test]"
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
[ "${pretrained:-0}" = 1 ] && only_args+=(--pretrained)
"$PY" -m bootsep_lib.cli run-all --profile "$profile" --jobs "$jobs" "${only_args[@]}"
# The executed notebooks, stripped of machine paths and timings, into notebooks/rendered/.
"$PY" tools/render_notebooks.py --profile "$profile"
# The shipped models and their cards, from this run's cache and tables (only when asked).
if [ "${export_models:-0}" = 1 ]; then
  "$PY" -m bootsep_lib.cli export-models --profile "$profile" --jobs "$jobs"
fi
