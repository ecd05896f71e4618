#!/usr/bin/env bash
# Start the whole assistant on loopback: action server + `rasa run` (REST, voice channels,
# HTTP API) on one port, with the SQL tracker store.
#
#   scripts/stack_start.sh                 # SQLite tracker store, one Rasa server process
#   STACK=postgres scripts/stack_start.sh  # PostgreSQL tracker store + Redis lock store,
#                                          # two Rasa server processes (SANIC_WORKERS=2) on one port
#
# PostgreSQL and Redis come from Debian packages (installed here if missing) and run as
# private instances under .stack/ on ports 5433 and 6380. Stop everything with
# scripts/stack_stop.sh. Each server runs in its own process group (setsid), so a fault
# test can stop a server with all its worker processes. Ports: RASA_PORT (5005), ACTIONS_PORT (5055).
# Both servers bind 127.0.0.1. The HTTP API needs RASA_AUTH_TOKEN, the action server
# ACTION_SERVER_TOKEN: from the environment, else from .secrets/local.env (./setup.sh makes it).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
STACK=${STACK:-sqlite}
RASA_PORT=${RASA_PORT:-5005}
ACTIONS_PORT=${ACTIONS_PORT:-5055}
PG_PORT=${PG_PORT:-5433}
REDIS_PORT=${REDIS_PORT:-6380}
RUN=$ROOT/.stack
mkdir -p "$RUN"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TF_CPP_MIN_LOG_LEVEL=3 RASA_TELEMETRY_ENABLED=false
export SQLALCHEMY_SILENCE_UBER_WARNING=1

[ -x .venv/bin/rasa ] || { echo "error: no .venv; run ./setup.sh first" >&2; exit 1; }
ls models/*.tar.gz >/dev/null 2>&1 || { echo "error: no trained model in models/; run make train" >&2; exit 1; }
for key in RASA_AUTH_TOKEN ACTION_SERVER_TOKEN TWILIO_AUTH_TOKEN ALEXA_APPLICATION_ID; do
  value=$(.venv/bin/python -m security.secrets get "$key") || exit 1
  export "$key=$value"
done

wait_http() {  # url, seconds
  local deadline=$((SECONDS + $2))
  until curl -fsS "$1" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || { echo "error: $1 did not come up; see $RUN/*.log" >&2; return 1; }
    sleep 1
  done
}

apt_install() {
  command -v apt-get >/dev/null || { echo "error: $1 is missing and apt-get is not available" >&2; return 1; }
  echo "==> installing $* from Debian packages"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ENDPOINTS=$RUN/endpoints.yml
if [ "$STACK" = postgres ]; then
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  [ -n "$PGBIN" ] || { apt_install postgresql; PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1); }
  command -v redis-server >/dev/null || apt_install redis-server
  id postgres >/dev/null 2>&1 || useradd --system --home "$RUN" postgres
  if [ ! -f "$RUN/pgdata/PG_VERSION" ]; then
    mkdir -p "$RUN/pgdata" && chown postgres "$RUN/pgdata"
    runuser -u postgres -- "$PGBIN/initdb" -D "$RUN/pgdata" -U postgres -A trust >/dev/null
  fi
  chown -R postgres "$RUN/pgdata"
  touch "$RUN/postgres.log" && chown postgres "$RUN/postgres.log"
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$RUN/pgdata" -l "$RUN/postgres.log" -w \
    -o "-p $PG_PORT -k /tmp -c listen_addresses=127.0.0.1" start >/dev/null
  "$PGBIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -tc "SELECT 1 FROM pg_database WHERE datname='rasa'" \
    | grep -q 1 || "$PGBIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE rasa" >/dev/null
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --dir "$RUN" \
    --pidfile "$RUN/redis.pid" --logfile "$RUN/redis.log" --save "" --appendonly no
  cat > "$ENDPOINTS" <<EOF
action_endpoint:
  url: "http://127.0.0.1:$ACTIONS_PORT/webhook"
  headers:
    X-Action-Token: \${ACTION_SERVER_TOKEN}
tracker_store:
  type: SQL
  dialect: postgresql
  url: 127.0.0.1
  port: $PG_PORT
  username: postgres
  password: ""
  db: rasa
lock_store:
  type: redis
  url: 127.0.0.1
  port: $REDIS_PORT
EOF
  export SANIC_WORKERS=${SANIC_WORKERS:-2}
else
  cat > "$ENDPOINTS" <<EOF
action_endpoint:
  url: "http://127.0.0.1:$ACTIONS_PORT/webhook"
  headers:
    X-Action-Token: \${ACTION_SERVER_TOKEN}
tracker_store:
  type: SQL
  dialect: sqlite
  db: $ROOT/conversations.db
EOF
fi

echo "==> action server on 127.0.0.1:$ACTIONS_PORT"
setsid nohup .venv/bin/python -m actions.server --port "$ACTIONS_PORT" --interface 127.0.0.1 >"$RUN/actions.log" 2>&1 &
echo $! > "$RUN/actions.pid"
echo "==> rasa run on 127.0.0.1:$RASA_PORT ($STACK${SANIC_WORKERS:+, $SANIC_WORKERS server processes})"
setsid nohup .venv/bin/rasa run --model models --endpoints "$ENDPOINTS" --credentials rasa_project/credentials.yml \
  --interface 127.0.0.1 --port "$RASA_PORT" --enable-api --auth-token "$RASA_AUTH_TOKEN" >"$RUN/rasa.log" 2>&1 &
echo $! > "$RUN/rasa.pid"
wait_http "http://127.0.0.1:$ACTIONS_PORT/health" 180
wait_http "http://127.0.0.1:$RASA_PORT/status?token=$RASA_AUTH_TOKEN" 400
echo "stack up: REST http://127.0.0.1:$RASA_PORT/webhooks/rest/webhook  (stop: scripts/stack_stop.sh)"
