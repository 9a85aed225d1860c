#!/usr/bin/env bash
# The test command (README: `make test`). Runs ruff, the migrations and schema
# checks, the suite on SQLite, then the PostgreSQL/Redis-marked tests against real
# servers it starts itself, then schemathesis against a live server
# (scripts/api-fuzz.sh). Extra arguments go to both pytest runs.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh requirements-dev.txt
scripts/system-deps.sh
eval "$(scripts/services.sh start)"
export CROSSPOST_REQUIRE_SERVICES=1 TEST_REDIS_URL
export CROSSPOST_VAR_DIR=${CROSSPOST_VAR_DIR:-$(mktemp -d /tmp/crosspost-test-var.XXXXXX)}
PYTEST=(.venv/bin/python -m pytest)
WORKERS=${TEST_WORKERS:-2}

echo "==> lint and migrations"
.venv/bin/ruff check .
# Imports point down the floors of ARCHITECTURE.md (contracts in .importlinter).
.venv/bin/lint-imports
.venv/bin/python manage.py makemigrations --check --dry-run >/dev/null \
  || { echo "models changed without a migration: run manage.py makemigrations" >&2; exit 1; }
.venv/bin/python manage.py spectacular --validate --fail-on-warn --file "$CROSSPOST_VAR_DIR/schema.yml" \
  || { echo "the OpenAPI schema has warnings (see above)" >&2; exit 1; }

echo "==> pass 1: SQLite (everything not needing PostgreSQL)"
"${PYTEST[@]}" -n "$WORKERS" -m "not postgres" "$@"

echo "==> pass 2: PostgreSQL (tests marked postgres)"
# A database of this run's own: another run on the same server (a second checkout, a bench) keeps its.
CROSSPOST_DB_PASS=postgres DATABASE_URL="$TEST_DATABASE_URL" TEST_DATABASE_NAME="test_crosspost_$$" \
  "${PYTEST[@]}" -m postgres "$@"

echo "==> pass 3: the live API against its OpenAPI schema (schemathesis)"
scripts/api-fuzz.sh
