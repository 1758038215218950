#!/usr/bin/env bash
# Local ClickHouse engine for development and tests: chDB (PyPI) behind a small adapter that
# speaks ClickHouse's HTTP interface (clickhouse/chdb_http.py). Production uses a real
# ClickHouse server through the very same client code; only the address changes.
# The virtualenv and the data live under $EARSHOT_CACHE (default .cache/).
#
#   deploy/local/clickhouse.sh start|stop|status|install
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${EARSHOT_CACHE:-$root/.cache}
# EARSHOT_CLICKHOUSE_DIR puts data, log and pid of a second engine elsewhere (tests that stop
# and restart ClickHouse use their own, on another port); the virtualenv is shared.
cdir=${EARSHOT_CLICKHOUSE_DIR:-$cache/clickhouse}
venv=$cache/chdb-venv
port=${EARSHOT_CLICKHOUSE_PORT:-8123}
pidfile=$cdir/chdb-http.pid

log() { echo "clickhouse: $*" >&2; }

install() {
  local req=$here/clickhouse/requirements.txt
  # The venv is current when it was built from these requirements — by content, not mtime: a
  # fresh clone's files are all newer than a cache it shares, and would rebuild it every time.
  local want
  want=$(sha256sum "$req" | cut -d' ' -f1)
  if [ -f "$venv/.complete" ] && [ "$(cat "$venv/.complete")" = "$want" ]; then
    return
  fi
  log "installing chDB from PyPI into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
  echo "$want" >"$venv/.complete"
}

running() {
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

ping() {
  curl -fsS --max-time 2 "http://127.0.0.1:$port/ping" >/dev/null 2>&1 &&
    [ "$(curl -fsS --max-time 5 --data-binary 'SELECT 1' "http://127.0.0.1:$port/" 2>/dev/null)" = "1" ]
}

start() {
  install
  mkdir -p "$cdir/data"
  if running; then
    log "already running (pid $(cat "$pidfile"))"
  else
    log "starting chDB HTTP adapter on 127.0.0.1:$port"
    # chDB must start with stdin closed.
    "$venv/bin/python" "$here/clickhouse/chdb_http.py" --listen "127.0.0.1:$port" --data "$cdir/data" \
      </dev/null >"$cdir/server.log" 2>&1 &
    echo $! >"$pidfile"
  fi
  for _ in $(seq 1 120); do
    if ping; then log "ready"; return; fi
    if ! running; then break; fi
    sleep 0.25
  done
  log "did not become ready; last log lines:"
  tail -n 30 "$cdir/server.log" >&2 || true
  exit 1
}

stop() {
  if ! running; then
    log "not running"
    rm -f "$pidfile"
    return
  fi
  local pid
  pid=$(cat "$pidfile")
  log "stopping (pid $pid)"
  kill -TERM "$pid"
  for _ in $(seq 1 40); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" || true
  rm -f "$pidfile"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) if running; then echo "running (pid $(cat "$pidfile"))"; else echo "stopped"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|status|install" >&2; exit 2 ;;
esac
