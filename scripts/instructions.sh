#!/usr/bin/env bash
# Counts the user-space instructions a server spends per request, under callgrind: a
# figure that does not drift with the machine's load, unlike requests/s. Kernel time
# (about 80% of raw hyper's per-request CPU on loopback) is not counted.
#
# For each server and endpoint: start it under valgrind with instrumentation off, warm
# it up with wrk, count the instructions of a 5 s wrk run (16 connections), divide by
# the requests it answered.
#
#   scripts/instructions.sh                 # raw hyper and erlen, /plaintext and /json
#                                           # (erlen:async-sync: sync handlers, async backend)
#   SERVERS="erlen:async" PATHS=/json scripts/instructions.sh
#   BIN=/path/to/older/bench scripts/instructions.sh
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in valgrind wrk; do
  if ! command -v $tool >/dev/null; then
    echo "installing $tool" >&2
    (apt-get install -y $tool || (apt-get update && apt-get install -y $tool)) >/dev/null
  fi
done
# BIN=path measures another build of the bench example (an older commit's, say).
if [ -z "${BIN:-}" ]; then
  cargo build --release --example bench >&2
  BIN=target/release/examples/bench
fi
SERVERS=${SERVERS:-"hyper:- erlen:async erlen:async-sync erlen:threaded"}
PATHS=${PATHS:-"/plaintext /json"}
PORT=${PORT:-18190}
out=$(mktemp -d)
trap 'rm -rf "$out"; kill "${VG:-0}" 2>/dev/null || true' EXIT

count() { # server backend path
  local path=$3 serve=$3 backend=$2
  # The threaded backend's sync handlers are the ones compared with raw hyper; async-sync
  # is the async backend's sync handlers, which cross to the sync pool.
  [ "$2" = threaded ] && serve=/sync$3
  [ "$2" = async-sync ] && serve=/sync$3 && backend=async
  rm -f "$out"/cg.*
  ERLEN_THREADS=1 BENCH_THREADS=1 valgrind --tool=callgrind --instr-atstart=no \
    --callgrind-out-file="$out/cg.%p" "$BIN" "$1" "$backend" "127.0.0.1:$PORT" 16 >/dev/null 2>&1 &
  VG=$!
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT$serve" && break; sleep 0.2; done
  wrk -t1 -c16 -d2s "http://127.0.0.1:$PORT$serve" >/dev/null
  callgrind_control -i on "$VG" >/dev/null
  local n
  n=$(wrk -t1 -c16 -d5s "http://127.0.0.1:$PORT$serve" | awk '/requests in/ { print $1 }')
  callgrind_control -i off "$VG" >/dev/null
  callgrind_control -d "$VG" >/dev/null
  kill "$VG"; wait "$VG" 2>/dev/null || true
  local ir
  ir=$(for f in "$out"/cg.*; do callgrind_annotate "$f" 2>/dev/null; done |
    awk '/PROGRAM TOTALS/ { gsub(",", "", $1); s += $1 } END { print s + 0 }')
  local label="erlen $backend"
  [ "$1" = hyper ] && label="raw hyper"
  printf '| %-16s | %-15s | %9s | %12s |\n' "$label" "$serve" "$n" "$((ir / n))"
}

echo
echo "User-space instructions per request under callgrind (5 s of wrk -c16 each):"
echo
printf '| %-16s | %-15s | %9s | %12s |\n' server endpoint requests "instr/request"
printf '| %s | %s | %s | %s |\n' --- --- ---: ---:
for server in $SERVERS; do
  for path in $PATHS; do
    count "${server%%:*}" "${server##*:}" "$path"
  done
done
