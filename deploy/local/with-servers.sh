#!/usr/bin/env bash
# Runs a command with the local Kafka broker and ClickHouse engine up, and stops whatever this
# script started when the command ends (servers that were already running stay up).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/deps.sh" || exit 1
started=()
for svc in kafka clickhouse; do
  if ! bash "$here/$svc.sh" status >/dev/null 2>&1; then
    bash "$here/$svc.sh" start || { for s in "${started[@]}"; do bash "$here/$s.sh" stop; done; exit 1; }
    started+=("$svc")
  fi
done
"$@"
rc=$?
for svc in "${started[@]}"; do bash "$here/$svc.sh" stop; done
exit $rc
