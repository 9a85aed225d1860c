#!/usr/bin/env bash
# The run command (README: `make run`): set up and start Crosspost on embedded
# defaults — SQLite, local files, the filesystem Celery broker, the sandbox
# platform. Starts web + worker + beat, and the operators' Telegram bot when TELEGRAM_BOT_TOKEN is
# set (in the environment or .env); all but web under scripts/supervise.sh, which restarts them when
# they exit. Ctrl-C (or SIGTERM) stops them all and exits 0.
#
# The terminal shows the setup steps, the banner and what needs attention (a process that
# exited, a restart); the processes' own logs go to $CROSSPOST_VAR_DIR/log/ (default var/log/).
# Nothing is written outside that var dir: the checkout stays clean (`git status`).
set -euo pipefail
cd "$(dirname "$0")/.."

HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
export DEMO_PASSWORD=${DEMO_PASSWORD:-crosspost-demo}
mkdir -p "${CROSSPOST_VAR_DIR:=$PWD/var}"
CROSSPOST_VAR_DIR=$(cd "$CROSSPOST_VAR_DIR" && pwd)
export CROSSPOST_VAR_DIR
LOG_DIR=$CROSSPOST_VAR_DIR/log

scripts/bootstrap.sh requirements.txt
PY=.venv/bin/python
mkdir -p "$LOG_DIR"

echo "==> migrating the database"
$PY manage.py migrate --noinput -v0
echo "==> seeding the demo workspace"
$PY manage.py seed_demo
$PY manage.py setup_periodic_tasks
$PY manage.py collectstatic --noinput -v0
# The bot runs only where it is configured; `runbot --check` says how (polling or webhook), or why
# not (exit status 3: no token — not an error). A broken webhook setting stops the run here.
bot=no
set +e
bot_status=$($PY manage.py runbot --check)
bot_check=$?
set -e
echo "==> $bot_status"
case $bot_check in
  0) bot=yes ;;
  3) ;;
  *) exit "$bot_check" ;;
esac

# Each process runs in a session of its own (setsid): Ctrl-C reaches this script only, which
# then stops them in order — the supervisors are told to stop, so none restarts the worker or
# beat it would otherwise see exit, and nobody gets a second, harsher signal.
pids=()
names=()
stopping=no
stop() {
  [ "$stopping" = no ] || return 0
  stopping=yes
  echo
  echo "==> stopping"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap 'stop; exit 0' INT TERM HUP

start() { # NAME COMMAND...: run it in the background, remember its pid
  names+=("$1")
  shift
  setsid "$@" &
  pids+=($!)
}

# gunicorn: one access-log line per request; its own messages and Django's in web.log. No control
# socket: its default path (~/.gunicorn/gunicorn.ctl) is shared by every gunicorn on the machine.
start web .venv/bin/gunicorn crosspost.wsgi:application --bind "$HOST:$PORT" --workers 2 --threads 4 --limit-request-line 8190 \
  --no-control-socket --access-logfile "$LOG_DIR/web-access.log" --error-logfile - >>"$LOG_DIR/web.log" 2>&1
# Celery warns at every start when it runs as root. `make run` is the local, single-user command
# and this machine runs everything as root: the warning is silenced deliberately, and only then.
# What it warns about (a task message running code as root) needs pickle, which Celery refuses
# as root anyway; our messages are JSON only (CELERY_ACCEPT_CONTENT). The production image runs
# as an unprivileged user (Dockerfile: USER crosspost), where the warning never shows.
worker_env=()
if [ "$(id -u)" = 0 ]; then
  worker_env=("PYTHONWARNINGS=ignore:You're running the worker with superuser privileges")
fi
# The worker and beat are restarted whenever they exit (a crash, or a worker that stopped
# consuming and exited by itself); each restart is reported here and in their log.
start worker env SUPERVISE_LOG="$LOG_DIR/worker.log" "${worker_env[@]}" scripts/supervise.sh worker \
  .venv/bin/celery -A crosspost worker -Q high,normal,low,media,ingest,enrich,captionize,publish --concurrency 2 --loglevel INFO
start beat env SUPERVISE_LOG="$LOG_DIR/beat.log" scripts/supervise.sh beat \
  .venv/bin/celery -A crosspost beat --loglevel INFO -s "$CROSSPOST_VAR_DIR/celerybeat-schedule"
if [ "$bot" = yes ]; then
  start bot env SUPERVISE_LOG="$LOG_DIR/bot.log" scripts/supervise.sh bot $PY manage.py runbot
fi

# The first worker, beat (and bot) heartbeats take a few seconds: wait for a green /health/ (its 503s
# meanwhile are logged at DEBUG, crosspost/logging.py). RUN_HEALTH_WAIT_SECONDS (60) bounds the wait
# on a slow or busy machine.
healthy=no
running=yes
for _ in $(seq $(( ${RUN_HEALTH_WAIT_SECONDS:-60} * 2 ))); do
  # A process that exited already (gunicorn finding the port taken, say) is reported below.
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || running=no; done
  [ "$running" = yes ] || break
  if curl -fs --max-time 2 -o /dev/null "http://$HOST:$PORT/health/"; then healthy=yes; break; fi
  sleep 0.5
done
if [ "$healthy" = no ] && [ "$running" = yes ]; then
  echo "WARNING: /health/ is not green yet:" >&2
  curl -s --max-time 2 "http://$HOST:$PORT/health/" >&2 || true
  echo >&2
fi
[ "$running" = no ] || cat <<MSG

  Crosspost is running.
    Dashboard  http://$HOST:$PORT/
    Admin      http://$HOST:$PORT/admin/
    API docs   http://$HOST:$PORT/api/docs/
    Health     http://$HOST:$PORT/health/
    Login      demo / $DEMO_PASSWORD
    Telegram   $([ "$bot" = yes ] && echo "the bot is running; link yourself at http://$HOST:$PORT/telegram/" || echo "no bot (set TELEGRAM_BOT_TOKEN to run it)")
  Logs in $LOG_DIR/. Press Ctrl-C to stop.

MSG

# Runs until Ctrl-C (the trap above exits 0), or until a process exits by itself (gunicorn
# failing to bind, say): then the others are stopped too and the exit status says so.
set +e
wait -n -p exited "${pids[@]}"
status=$?
for i in "${!pids[@]}"; do
  if [ "${pids[$i]}" = "${exited:-}" ]; then
    echo "ERROR: ${names[$i]} exited with status $status; see $LOG_DIR/${names[$i]}.log" >&2
  fi
done
stop
exit 1
