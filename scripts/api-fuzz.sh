#!/usr/bin/env bash
# API fuzzing: schemathesis (pinned in requirements-dev.txt) against a live server on a
# throw-away SQLite database seeded with seed_demo, signed in as the demo user with a JWT.
# Every operation of /api/schema/ is called with generated valid and invalid input; the run
# fails on any server error, any answer the schema does not document, any response body
# that breaks the schema, and valid input refused / invalid input accepted.
#
#   scripts/api-fuzz.sh                  # as scripts/test.sh runs it
#   API_FUZZ_EXAMPLES=200 API_FUZZ_SEED=7 scripts/api-fuzz.sh   # a longer or different run
#   scripts/api-fuzz.sh --max-failures 1                         # extra arguments go to `schemathesis run`
#
# Configuration (auth, per-operation exceptions with their reasons): scripts/schemathesis.toml.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh requirements-dev.txt
PY=.venv/bin/python
EXAMPLES=${API_FUZZ_EXAMPLES:-25}
SEED=${API_FUZZ_SEED:-20261205}

# scripts/test.sh gives a CROSSPOST_VAR_DIR to throw away; run alone, a temporary folder.
WORK=$(mktemp -d "${CROSSPOST_VAR_DIR:-${TMPDIR:-/tmp}}/api-fuzz.XXXXXX")
free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
DEAD=http://127.0.0.1:$(free_port)  # nothing listens here: every outside service the API might call is refused at once

# Only what this server needs, set outright so neither the caller's environment nor a .env can
# reach it: its own database and files, a filesystem broker nobody consumes, no real platform,
# proxy checker or translation provider, and throttles and the login lockout out of the way
# (429s and lockouts have their own tests; here they would only stop the run).
server_env=(
  env CROSSPOST_VAR_DIR="$WORK" DATABASE_URL="sqlite:///$WORK/api-fuzz.sqlite3"
  MEDIA_ROOT="$WORK/files" STATIC_ROOT="$WORK/static" S3_BUCKET= REDIS_URL= CELERY_BROKER_URL=filesystem://
  DEBUG=0 SECURE_SSL_REDIRECT=0 ALLOWED_HOSTS=127.0.0.1
  SECRET_KEY="$("$PY" -c 'import secrets; print(secrets.token_urlsafe(50))')"
  FIELD_ENCRYPTION_KEYS="$("$PY" -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
  DEMO_PASSWORD="${DEMO_PASSWORD:=api-fuzz-$RANDOM$RANDOM}"
  API_THROTTLE_USER=1000000/min API_THROTTLE_ANON=1000000/min API_THROTTLE_AUTH=1000000/min LOGIN_FAILURE_LIMIT=1000000
  TELEGRAM_API_BASE_URL="$DEAD" VK_API_BASE_URL="$DEAD" INSTAGRAM_GRAPH_BASE_URL="$DEAD" TIKTOK_API_BASE_URL="$DEAD"
  YOUTUBE_API_BASE_URL="$DEAD" PINTEREST_API_BASE_URL="$DEAD" GOOGLE_OAUTH_TOKEN_URL="$DEAD/token"
  TIKTOK_OAUTH_TOKEN_URL="$DEAD/token" OPENAI_BASE_URL="$DEAD" DEEPL_SERVER_URL="$DEAD" WB_CARD_BASE_URL="$DEAD"
  ZOOM_API_BASE_URL="$DEAD/v2" ZOOM_OAUTH_URL="$DEAD/oauth/token" YANDEX_DISK_API_BASE_URL="$DEAD/v1/disk" STUDIO_HTTP_TIMEOUT_SECONDS=2
  PROXY_CHECK_URL="$DEAD/ip" PROXY_CHECK_TIMEOUT_SECONDS=2 HTTP_TIMEOUT_SECONDS=2 INSTAGRAM_PRIVATE_REQUEST_DELAY_SECONDS=0
  DEEPL_API_KEY= OPENAI_API_KEY= TELEGRAM_ADMIN_BOT_TOKEN= SENTRY_DSN=
)
export DEMO_PASSWORD

"${server_env[@]}" "$PY" manage.py migrate --noinput -v0
"${server_env[@]}" "$PY" manage.py seed_demo >/dev/null
"${server_env[@]}" .venv/bin/gunicorn crosspost.wsgi:application --bind "127.0.0.1:$PORT" --workers 2 --threads 2 \
  --timeout 60 --limit-request-line 8190 >"$WORK/web.log" 2>&1 &
server=$!
pids=()
stop() {
  kill "$server" "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop EXIT

ready=no
for _ in $(seq 150); do
  if curl -fs -o /dev/null "http://127.0.0.1:$PORT/api/schema/"; then ready=yes; break; fi
  kill -0 "$server" 2>/dev/null || break
  sleep 0.2
done
if [ "$ready" = no ]; then
  echo "the API server did not start:" >&2
  cat "$WORK/web.log" >&2
  exit 1
fi

# Two schemathesis processes, each on about half of the operations, keep both cores busy (its
# own --workers are threads, and Python 3.11's ast module is not safe in several threads at once).
FIRST_HALF="^/api/v1/(accounts|groups|proxies|media|auth)/"
HALVES=(--include-path-regex --exclude-path-regex)
echo "==> schemathesis against http://127.0.0.1:$PORT (seed $SEED, $EXAMPLES examples per operation; server log: $WORK/web.log)"
# Unique Idempotency-Keys per request (why: scripts/schemathesis_hooks.py).
export SCHEMATHESIS_HOOKS=scripts/schemathesis_hooks.py
for i in 0 1; do
  .venv/bin/schemathesis --config-file scripts/schemathesis.toml run "http://127.0.0.1:$PORT/api/schema/" \
    "${HALVES[$i]}" "$FIRST_HALF" --checks all --max-examples "$EXAMPLES" --seed "$SEED" --workers 1 \
    --generation-database none --report junit --report-dir "$WORK/report-$i" --no-color "$@" >"$WORK/schemathesis-$i.log" 2>&1 &
  pids+=($!)
done
status=0
for i in 0 1; do
  wait "${pids[$i]}" || status=1
  echo "--- schemathesis ${HALVES[$i]} $FIRST_HALF"
  cat "$WORK/schemathesis-$i.log"
done
if grep -q "Traceback" "$WORK/web.log"; then
  echo "The server logged errors (a 5xx the checks may have attributed to a single case):" >&2
  grep -B2 -A30 "Internal Server Error" "$WORK/web.log" | tail -n 80 >&2
  status=1
fi
exit "$status"
