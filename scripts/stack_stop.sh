#!/usr/bin/env bash
# Stop what scripts/stack_start.sh started (Rasa, action server, and PostgreSQL/Redis if used).
set -uo pipefail
cd "$(dirname "$0")/.."
RUN=$(pwd)/.stack
stop_pid() {
  local f="$RUN/$1.pid"
  [ -f "$f" ] || return 0
  local pid; pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    pkill -TERM -P "$pid" 2>/dev/null; kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$f"
}
stop_pid rasa
stop_pid actions
if [ -f "$RUN/redis.pid" ]; then kill "$(cat "$RUN/redis.pid")" 2>/dev/null; rm -f "$RUN/redis.pid"; fi
if [ -f "$RUN/pgdata/postmaster.pid" ]; then
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$RUN/pgdata" -m fast -w stop >/dev/null 2>&1
fi
echo "stack stopped"
