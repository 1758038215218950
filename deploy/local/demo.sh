#!/usr/bin/env bash
# make demo: a simulated live stream (a small-scale model of the 12 Aug 2024 X Space) through
# collector → Kafka → aggregator → ClickHouse, then the report with claim verdicts and an audit
# of the sketches. Needs the local servers up (make demo wraps this in with-servers.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
cache=${EARSHOT_CACHE:-$root/.cache}
bin=$cache/bin
mkdir -p "$bin" "$cache/demo"
go build -o "$bin/" ./cmd/collector ./cmd/aggregator ./cmd/earshot

run_id=$(date +%s)
export EARSHOT_CLICKHOUSE_DATABASE=earshot_demo
export EARSHOT_KAFKA_TOPIC=earshot.demo.$run_id
export EARSHOT_GROUP=earshot-demo-$run_id
# Local demo secrets only; a deployment sets its own.
export EARSHOT_HASH_KEY=demo-hashing-key-not-for-production-0123456789
export EARSHOT_SIM_TOKEN=demo-simulator-token-0123456789
export EARSHOT_CHECKPOINT_INTERVAL=5s

# A fresh database per run, so earlier runs never mix into this report.
curl -fsS --data-binary "DROP DATABASE IF EXISTS $EARSHOT_CLICKHOUSE_DATABASE" http://127.0.0.1:8123/ >/dev/null
curl -fsS --data-binary "CREATE DATABASE $EARSHOT_CLICKHOUSE_DATABASE" http://127.0.0.1:8123/ >/dev/null
"$bin/earshot" migrate

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
"$bin/collector" --config deploy/local/demo-collector.yaml >"$cache/demo/collector.log" 2>&1 &
pids+=($!)
"$bin/aggregator" >"$cache/demo/aggregator.log" 2>&1 &
pids+=($!)
# The collector's /readyz is on its admin listener (admin_listen, 127.0.0.1:9464).
for url in http://127.0.0.1:9464/readyz http://127.0.0.1:8081/readyz; do
  for _ in $(seq 1 60); do curl -fsS "$url" >/dev/null 2>&1 && break; sleep 0.5; done
  curl -fsS "$url" >/dev/null || { echo "demo: $url not ready; see $cache/demo/*.log" >&2; exit 1; }
done
echo "demo: collector on :8080 (admin :9464) and aggregator on :8081 are up (logs in $cache/demo/)"
# The night of 12 Aug 2024 (scenarios/x-spaces-2024-08-12.yaml) at 1:625: 2 000 of its 1.25
# million listeners, its claims scaled alike.
"$bin/earshot" simulate --scenario scenarios/x-spaces-2024-08-12.yaml --scale "${DEMO_SCALE:-0.0016}" --report
echo
"$bin/earshot" audit --stream x-space-2024-08-12
echo
claimed=$(python3 -c "print(round(60e6 * ${DEMO_SCALE:-0.0016}))")
echo "demo: Trump's \"60 million people are listening\" (scaled like the stream: $claimed), checked in one sentence:"
"$bin/earshot" check --stream x-space-2024-08-12 --claimed "$claimed" --metric concurrent --at 2024-08-13T01:00:00Z \
  --claimant "Donald Trump, on air (scaled for the simulation)"
echo
page=http://127.0.0.1:8090/streams/x-space-2024-08-12
if [ "${DEMO_SERVE:-0}" = 1 ]; then
  echo "demo: the web page is at $page (Ctrl-C stops it)"
  "$bin/earshot" serve --listen 127.0.0.1:8090
else
  echo "demo: the web page — make up && go run ./cmd/earshot serve --set clickhouse.database=earshot_demo"
  echo "      then open $page (or run make demo DEMO_SERVE=1, which keeps it up until Ctrl-C)"
fi
