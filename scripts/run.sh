#!/usr/bin/env bash
# The run command (README: `make run`): set up and start Crosspost on embedded
# defaults — SQLite, local files, the filesystem Celery broker, the sandbox
# platform. Starts web + worker + beat (the last two under scripts/supervise.sh, which restarts
# them when they exit); Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."

HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
export DEMO_PASSWORD=${DEMO_PASSWORD:-crosspost-demo}

scripts/bootstrap.sh requirements.txt
PY=.venv/bin/python
mkdir -p var/log

echo "==> migrating the database"
$PY manage.py migrate --noinput -v0
echo "==> seeding the demo workspace"
$PY manage.py seed_demo
$PY manage.py setup_periodic_tasks
$PY manage.py collectstatic --noinput -v0

pids=()
stop() { echo; echo "==> stopping"; kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap stop EXIT INT TERM

.venv/bin/gunicorn crosspost.wsgi:application --bind "$HOST:$PORT" --workers 2 --threads 4 \
  --access-logfile var/log/web-access.log --error-logfile var/log/web.log &
pids+=($!)
# The worker and beat are restarted whenever they exit (a crash, or a worker that stopped
# consuming and exited by itself); each restart is logged in their log.
scripts/supervise.sh worker .venv/bin/celery -A crosspost worker -Q high,normal,low,media --concurrency 2 --loglevel INFO \
  >var/log/worker.log 2>&1 &
pids+=($!)
scripts/supervise.sh beat .venv/bin/celery -A crosspost beat --loglevel INFO >var/log/beat.log 2>&1 &
pids+=($!)

# The first worker and beat heartbeats take a few seconds: wait for a green /health/.
healthy=no
for _ in $(seq 120); do
  if curl -fs -o /dev/null "http://$HOST:$PORT/health/"; then healthy=yes; break; fi
  sleep 0.5
done
if [ "$healthy" = no ]; then
  echo "WARNING: /health/ is not green yet:" >&2
  curl -s "http://$HOST:$PORT/health/" >&2 || true
  echo >&2
fi
cat <<MSG

  Crosspost is running.
    Dashboard  http://$HOST:$PORT/
    Admin      http://$HOST:$PORT/admin/
    API docs   http://$HOST:$PORT/api/docs/
    Health     http://$HOST:$PORT/health/
    Login      demo / $DEMO_PASSWORD
  Logs in var/log/. Press Ctrl-C to stop.

MSG
wait -n "${pids[@]}"
