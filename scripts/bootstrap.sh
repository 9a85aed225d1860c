#!/usr/bin/env bash
# Create .venv and install the Python dependencies (idempotent: skips when
# requirements files have not changed since the last install).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
REQS=${1:-requirements-dev.txt}
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(cat requirements.txt "$REQS" | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "==> installing Python packages from $REQS"
  .venv/bin/pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
  .venv/bin/pip install -q -r "$REQS" 2>&1 | grep -v '^WARNING: Location' || true
  .venv/bin/python -c "import django, rest_framework, celery" # fail loudly if the install did not work
  rm -f .venv/.installed-*
  touch "$stamp"
fi
