#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft) for development and tests.
# Jars come from Maven Central (see kafka/pom.xml) into $EARSHOT_CACHE/kafka/libs;
# data and logs live under $EARSHOT_CACHE/kafka. Listens on 127.0.0.1 only.
#
#   deploy/local/kafka.sh start|stop|status|install
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${EARSHOT_CACHE:-$root/.cache}
# EARSHOT_KAFKA_DIR puts data, logs and pid of a second broker elsewhere (tests that stop
# and restart a broker use their own, on other ports); the jars are shared.
kdir=${EARSHOT_KAFKA_DIR:-$cache/kafka}
libs=$cache/kafka/libs
port=${EARSHOT_KAFKA_PORT:-9092}
ctrl_port=${EARSHOT_KAFKA_CONTROLLER_PORT:-9093}
heap=${EARSHOT_KAFKA_HEAP:-512m}
# Fixed cluster id: the data directory is formatted once and reused across restarts.
cluster_id=zS4MBjs1Sz2Dig3XyedA3A
pidfile=$kdir/kafka.pid

log() { echo "kafka: $*" >&2; }

install() {
  # Current when fetched for this pom.xml — by content, not mtime (a fresh clone sharing the
  # cache would otherwise fetch every time).
  local want
  want=$(sha256sum "$here/kafka/pom.xml" | cut -d' ' -f1)
  if [ -f "$libs/.complete" ] && [ "$(cat "$libs/.complete")" = "$want" ]; then
    return
  fi
  log "fetching broker jars from Maven Central into $libs"
  rm -rf "$libs" && mkdir -p "$libs"
  (cd "$here/kafka" && mvn -B -q dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$libs")
  echo "$want" >"$libs/.complete"
}

running() {
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

write_config() {
  mkdir -p "$kdir/data" "$kdir/logs"
  cat >"$kdir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$ctrl_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$ctrl_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$kdir/data
num.partitions=4
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.hours=24
log.segment.bytes=67108864
PROPS
}

java_run() {
  exec java -Xms128m -Xmx"$heap" -XX:+UseG1GC \
    -Dlog4j.configuration="file:$here/kafka/log4j.properties" \
    -Dkafka.logs.dir="$kdir/logs" \
    -cp "$libs/*" "$@"
}

launch() {
  log "starting broker on 127.0.0.1:$port"
  java_run kafka.Kafka "$kdir/server.properties" >"$kdir/logs/stdout.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
}

last_logs() { tail -n 30 "$kdir/logs/stdout.log" "$kdir/logs/server.log" >&2 || true; }

start() {
  install
  if running; then
    log "already running (pid $(cat "$pidfile"))"
  else
    write_config
    if [ ! -f "$kdir/data/meta.properties" ]; then
      (java_run kafka.tools.StorageTool format -t "$cluster_id" -c "$kdir/server.properties" -g) >"$kdir/logs/format.log" 2>&1 ||
        { cat "$kdir/logs/format.log" >&2; exit 1; }
    fi
    launch
  fi
  # Readiness is a real metadata request (kafka-go), not a port probe. It is asked in short
  # rounds so that a broker that exits while starting (a restart racing the previous process
  # for its ports, a JVM that could not start) is seen at once and launched again, instead of
  # being waited on for the whole timeout with nothing said about why.
  (cd "$root" && go build -o "$kdir/kafkaready" ./deploy/local/kafkaready)
  local deadline=$(($(date +%s) + 90)) attempt=1
  until "$kdir/kafkaready" -addr "127.0.0.1:$port" -timeout 5s 2>/dev/null; do
    if ! running; then
      log "broker exited while starting (attempt $attempt); last log lines:"
      last_logs
      if [ "$attempt" -ge 3 ]; then exit 1; fi
      attempt=$((attempt + 1))
      sleep 2
      launch
    elif [ "$(date +%s)" -ge "$deadline" ]; then
      log "broker did not become ready in 90 s; last log lines:"
      last_logs
      exit 1
    fi
  done
  log "ready"
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
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "did not stop in 30 s, killing"
    kill -KILL "$pid" || true
  fi
  rm -f "$pidfile"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) if running; then echo "running (pid $(cat "$pidfile"))"; else echo "stopped"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|status|install" >&2; exit 2 ;;
esac
