#!/usr/bin/env bash
# `make cluster`: the scaled-out layout on one machine. A local Redis (runs, resume logs, cancel
# signals, conversation locks, worker leases) and PostgreSQL (conversations, through ADK's
# DatabaseSessionService), both with their data under .data/; then API_WORKERS API worker
# processes sharing API_PORT (SO_REUSEPORT) and the Streamlit app, all on the same stores.
# Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
API_WORKERS=${API_WORKERS:-$(nproc)}
API_PORT=${API_PORT:-8000}
REDIS_PORT=${REDIS_PORT:-6390}
PG_PORT=${PG_PORT:-5442}
DATA=$(pwd)/.data
pids=()

stop_all() {
  trap - INT TERM EXIT
  echo "Stopping ${#pids[@]} processes..."
  # Newest first, each waited for: the workers finish their runs while Redis and PostgreSQL are up.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
}
trap stop_all INT TERM EXIT

wait_for_port() {  # port, name
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "$2 did not start on port $1" >&2
  exit 1
}

command -v redis-server >/dev/null && { command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; } \
  || ./scripts/install-services.sh
pg_bin=$(dirname "$(command -v initdb || ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")

mkdir -p "$DATA/redis"
# Each server in a session of its own: Ctrl-C reaches only this script, which stops them in order.
setsid redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$DATA/redis" --appendonly yes --protected-mode yes \
  >"$DATA/redis.log" 2>&1 &
pids+=($!)
wait_for_port "$REDIS_PORT" redis-server

# PostgreSQL refuses to run as root: as root, the cluster belongs to the unprivileged postgres user.
as_pg=()
if [ "$(id -u)" -eq 0 ]; then as_pg=(runuser -u postgres --); fi
if [ ! -s "$DATA/postgres/PG_VERSION" ]; then
  mkdir -p "$DATA/postgres"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$DATA/postgres"; fi
  "${as_pg[@]}" "$pg_bin/initdb" -D "$DATA/postgres" -U postgres --auth=trust -E UTF8 >"$DATA/initdb.log"
fi
setsid "${as_pg[@]}" "$pg_bin/postgres" -D "$DATA/postgres" -p "$PG_PORT" -h 127.0.0.1 -k "$DATA/postgres" \
  >"$DATA/postgres.log" 2>&1 &
pids+=($!)
wait_for_port "$PG_PORT" postgres
"$BIN/python" - "$PG_PORT" <<'PY'
import asyncio, sys
import asyncpg

async def create() -> None:
    for _ in range(50):
        try:
            connection = await asyncpg.connect(host="127.0.0.1", port=int(sys.argv[1]), user="postgres", database="postgres")
            break
        except (OSError, asyncpg.CannotConnectNowError):
            await asyncio.sleep(0.2)
    if not await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = 'lab'"):
        await connection.execute('CREATE DATABASE "lab"')
    await connection.close()

asyncio.run(create())
PY

export RUN_STORE_URL="redis://127.0.0.1:$REDIS_PORT/0"
export SESSION_SERVICE_URI="postgresql+asyncpg://postgres@127.0.0.1:$PG_PORT/lab"
for _ in $(seq 1 "$API_WORKERS"); do
  setsid "$BIN/python" -m streaming_core.api.worker --host 127.0.0.1 --port "$API_PORT" --log-level warning &
  pids+=($!)
done
setsid "$BIN/streamlit" run app.py --server.headless true &
pids+=($!)
echo "Redis $RUN_STORE_URL, PostgreSQL ${SESSION_SERVICE_URI}"
echo "$API_WORKERS API workers on http://127.0.0.1:$API_PORT ; Streamlit on http://localhost:8501 ; Ctrl-C stops all."
wait -n "${pids[@]}" || true
echo "A process exited; stopping the rest." >&2
