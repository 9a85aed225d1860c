#!/usr/bin/env bash
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh requirements-dev.txt
for b in tests/bench/bench_*.py; do [ -e "$b" ] || continue; .venv/bin/python "$b"; done
