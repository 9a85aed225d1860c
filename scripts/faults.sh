#!/usr/bin/env bash
# The fault run (README: `make faults`): 500 executions through the real engine while workers
# are SIGKILLed, Redis and PostgreSQL restart and the platform fails ~10 % of the time; asserts
# no duplicate, nothing lost, a reason for every failure and workers consuming again within 30 s
# of Redis coming back. JSON lines {name, value, unit} on stdout, progress on stderr; exits 1
# when a guarantee is broken. It runs its own PostgreSQL and Redis (it restarts them), never the
# test servers, and stops them at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh requirements-dev.txt >&2
export CROSSPOST_SERVICES_DIR=${FAULTS_SERVICES_DIR:-/tmp/crosspost-faults-services}
export PG_PORT=${FAULTS_PG_PORT:-55442} REDIS_PORT=${FAULTS_REDIS_PORT:-56389}
trap 'scripts/services.sh stop' EXIT
eval "$(scripts/services.sh start)"
export DATABASE_URL=$TEST_DATABASE_URL FAULTS_REDIS_URL=$TEST_REDIS_URL
export CROSSPOST_VAR_DIR=${CROSSPOST_VAR_DIR:-$(mktemp -d /tmp/crosspost-faults-var.XXXXXX)}
echo "==> fault run (logs in $CROSSPOST_VAR_DIR)" >&2
.venv/bin/python -m tests.faults.fault_run
