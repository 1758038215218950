#!/usr/bin/env bash
# Installs the system tools the tests and benchmarks use, from Debian's packages, when missing:
# kcat (an independent Kafka client), redis-server (the HyperLogLog peer in `make bench`) and
# chromium (the browser internal/web's browser test drives headless).
# Java 17, Maven, Go and Python 3 are prerequisites (see README).
set -euo pipefail
missing=()
command -v kcat >/dev/null || missing+=(kcat)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v curl >/dev/null || missing+=(curl)
command -v chromium >/dev/null || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
echo "deps: installing ${missing[*]} from Debian's packages" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
