#!/usr/bin/env bash
# The benchmarks (README: `make bench`): JSON lines {name, value, unit} on stdout,
# progress on stderr. PostgreSQL and Redis are started like for the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh requirements-dev.txt >&2
eval "$(scripts/services.sh start)"
export DATABASE_URL=$TEST_DATABASE_URL BENCH_REDIS_URL=${TEST_REDIS_URL%/*}/3
export TEST_DATABASE_NAME=${TEST_DATABASE_NAME:-bench_crosspost_$$}  # scratch databases of this run only
export CROSSPOST_VAR_DIR=${CROSSPOST_VAR_DIR:-$(mktemp -d /tmp/crosspost-bench-var.XXXXXX)}
for bench in tests/bench/bench_*.py; do
  echo "==> $bench" >&2
  (cd tests/bench && ../../.venv/bin/python "$(basename "$bench")")
done
