#!/usr/bin/env bash
# Quick start, step 1: install the pinned dependencies into .venv, then run the pipeline.
#   bash setup.sh              install (if needed) and `dvc repro`
#   bash setup.sh --no-repro   install only (what CI does before the tests)
set -euo pipefail
cd "$(dirname "$0")"

python=${PYTHON:-python3.11}
command -v "$python" >/dev/null 2>&1 || python=python3
if ! "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
  echo "error: Python 3.11 is required (found: $("$python" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi

[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
# The pinned scripts, styles and fonts Data Docs and `dvc plots show` load, from the npm registry into
# .venv/share/uwf-web (stages/lib/web_assets.py), so that both pages work offline; skipped when already there.
.venv/bin/python -m stages.lib.web_assets install

if [ "${1:-}" != "--no-repro" ]; then
  # Stage commands call `python`: the environment's bin must come first on PATH.
  PATH="$PWD/.venv/bin:$PATH" .venv/bin/dvc repro
fi
