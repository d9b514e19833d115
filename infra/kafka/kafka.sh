#!/usr/bin/env bash
# Single-node Apache Kafka (KRaft) assembled from Maven Central jars.
#
#   kafka.sh assemble                      download the jars once (cached, not in git)
#   kafka.sh start DIR [PORT [CTRL_PORT]]   format DIR and start a broker on 127.0.0.1:PORT
#                                          (DIR/extra.properties, if present, is appended;
#                                          KAFKA_CLUSTER_ID: the id a first start formats
#                                          DIR with, one id for every node of a cluster)
#   kafka.sh stop DIR                       stop the broker started in DIR
#
# Needs Java 17+ and Maven. Cache: ${CLINIC_CACHE_DIR:-~/.cache/clinic}/kafka-<version>.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$HERE/pom.xml")"
CACHE="${CLINIC_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/clinic}"
LIBS="$CACHE/kafka-$VERSION/libs"

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "kafka.sh: '$1' not found: install $2" >&2; exit 127; }
}

assemble() {
  if [[ -f "$LIBS/.complete" ]]; then echo "$LIBS"; return; fi
  need java "Java 17+ (Debian: apt-get install openjdk-17-jre-headless)"
  need mvn "Maven (Debian: apt-get install maven)"
  rm -rf "$LIBS" && mkdir -p "$LIBS"
  mvn -q -B -Dstyle.color=never -f "$HERE/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$LIBS" -DincludeScope=runtime >&2
  touch "$LIBS/.complete"
  echo "$LIBS"
}

start() {
  local dir="${1:?usage: kafka.sh start DIR [PORT [CTRL_PORT]]}" port="${2:-9092}" ctrl="${3:-9093}"
  need java "Java 17+ (Debian: apt-get install openjdk-17-jre-headless)"
  assemble >/dev/null
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  if [[ -f "$dir/kafka.pid" ]] && kill -0 "$(cat "$dir/kafka.pid")" 2>/dev/null; then
    echo "kafka.sh: already running in $dir (pid $(cat "$dir/kafka.pid"))" >&2; exit 1
  fi
  cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$ctrl
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$ctrl
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=3
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
PROPS
  # Optional overrides (e.g. an SSL listener): later keys win in a .properties file.
  if [[ -f "$dir/extra.properties" ]]; then cat "$dir/extra.properties" >> "$dir/server.properties"; fi
  local java=(java -Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true
              -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$LIBS/*")
  if [[ ! -f "$dir/data/meta.properties" ]]; then
    "${java[@]}" kafka.tools.StorageTool format -c "$dir/server.properties" \
      -t "${KAFKA_CLUSTER_ID:-$("${java[@]}" kafka.tools.StorageTool random-uuid)}" \
      >"$dir/format.log" 2>&1 \
      || { cat "$dir/format.log" >&2; exit 1; }
  fi
  # KAFKA_NICE: a broker sharing the machine with the API yields the cores to requests.
  nohup nice -n "${KAFKA_NICE:-0}" "${java[@]}" kafka.Kafka "$dir/server.properties" >"$dir/kafka.log" 2>&1 &
  echo $! > "$dir/kafka.pid"
  for _ in $(seq 1 600); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "kafka.sh: broker on 127.0.0.1:$port (pid $(cat "$dir/kafka.pid"))" >&2; return
    fi
    kill -0 "$(cat "$dir/kafka.pid")" 2>/dev/null || { tail -50 "$dir/kafka.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "kafka.sh: broker did not open 127.0.0.1:$port within 60s" >&2; tail -50 "$dir/kafka.log" >&2
  exit 1
}

stop() {
  local dir="${1:?usage: kafka.sh stop DIR}"
  [[ -f "$dir/kafka.pid" ]] || return 0
  local pid; pid="$(cat "$dir/kafka.pid")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/kafka.pid"
}

cmd="${1:-}"; shift || true
case "$cmd" in
  assemble) assemble ;;
  start) start "$@" ;;
  stop) stop "$@" ;;
  *) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
