#!/usr/bin/env bash
# Keep one process running: start COMMAND, and start it again whenever it exits — crashed,
# killed, or exited by itself because it stopped consuming (crosspost/liveness.py). Used by
# `make run` for the worker and beat (docker's restart policy does the same in production).
#   scripts/supervise.sh NAME COMMAND [ARG...]
# Each restart is logged on stderr. SIGTERM/SIGINT stop COMMAND (gracefully) and then this loop,
# which never starts it again once told to stop.
# SUPERVISE_LOG=FILE: COMMAND's output is appended to FILE, and each restart is logged there too
# (stderr stays for the operator: `make run` shows it on the terminal).
set -uo pipefail

name=$1
shift
child=""
stopping=""

log() {
  local line
  line="[$(date '+%Y-%m-%d %H:%M:%S')] supervise: $*"
  echo "$line" >&2
  if [ -n "${SUPERVISE_LOG:-}" ]; then echo "$line" >>"$SUPERVISE_LOG"; fi
}

# How long a stopping worker may finish its tasks (Celery's warm shutdown) before it is killed. A
# TERM sent to the whole process group also reaches the pool's children, and Celery's pool can then
# wait forever on a lock one of them held: a bound keeps `make run` from leaving a worker behind.
STOP_TIMEOUT=${SUPERVISE_STOP_TIMEOUT:-60}

stop() {
  trap - TERM INT
  stopping=yes
  if [ -n "$child" ]; then
    kill -TERM "$child" 2>/dev/null
    for _ in $(seq $((STOP_TIMEOUT * 10))); do
      kill -0 "$child" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$child" 2>/dev/null; then
      log "$name did not stop within ${STOP_TIMEOUT}s; killing it"
      pkill -KILL -P "$child" 2>/dev/null
      kill -KILL "$child" 2>/dev/null
    fi
    wait "$child" 2>/dev/null
  fi
  exit 0
}
trap stop TERM INT

delay=1
while [ -z "$stopping" ]; do
  started=$SECONDS
  if [ -n "${SUPERVISE_LOG:-}" ]; then
    "$@" >>"$SUPERVISE_LOG" 2>&1 &
  else
    "$@" &
  fi
  child=$!
  wait "$child"
  status=$?
  child=""
  # A process that ran for a while gets restarted at once; one that keeps dying right after its
  # start (a broker that is down, a bad setting) is restarted less and less often, up to every 30 s.
  if (( SECONDS - started >= 60 )); then delay=1; fi
  log "$name exited with status $status; restarting it in ${delay}s"
  sleep "$delay" &
  child=$!
  wait "$child"
  child=""
  delay=$(( delay * 2 > 30 ? 30 : delay * 2 ))
done
