#!/usr/bin/env bash
# Counts the user-space instructions a server spends per request, under callgrind: a
# figure that does not drift with the machine's load, unlike requests/s. Kernel time
# (about 80% of raw hyper's per-request CPU on loopback) is not counted.
#
# For each server and endpoint: start it under valgrind with instrumentation off, warm
# it up with wrk, count the instructions of a 5 s wrk run (16 connections), divide by
# the requests it answered.
#
# A second table compares frameworks on the same app: erlen's TechEmpower example
# (examples/techempower, async backend) and its axum 0.8 and actix-web 4 peers
# (scripts/tfb, a cargo project of its own), one runtime thread each, each adding a
# `Server` header, on /plaintext, /json and /memory/fortunes (the fortunes page rendered
# by minijinja from rows held in memory: no database). The database tests count too, with
# PostgreSQL loaded as scripts/tfb.sh loads it and DATABASE_URL pointing at it: the
# server's instructions only, not the database's.
#
#   scripts/instructions.sh                 # raw hyper and erlen, /plaintext and /json
#                                           # (erlen:async-sync: sync handlers, async backend),
#                                           # then erlen, axum and actix-web
#   SERVERS="erlen:async" PATHS=/json FRAMEWORKS= scripts/instructions.sh
#   SERVERS= FRAMEWORKS="erlen axum" FRAMEWORK_PATHS=/json scripts/instructions.sh
#   BIN=/path/to/older/bench scripts/instructions.sh
#   DATABASE_URL=postgres://... SERVERS= FRAMEWORK_PATHS="/db /fortunes" scripts/instructions.sh
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in valgrind wrk; do
  if ! command -v $tool >/dev/null; then
    echo "installing $tool" >&2
    (apt-get install -y $tool || (apt-get update && apt-get install -y $tool)) >/dev/null
  fi
done
SERVERS=${SERVERS-"hyper:- erlen:async erlen:async-sync erlen:threaded"}
# BIN=path measures another build of the bench example (an older commit's, say).
if [ -n "$SERVERS" ] && [ -z "${BIN:-}" ]; then
  cargo build --release --example bench >&2
  BIN=target/release/examples/bench
fi
PATHS=${PATHS:-"/plaintext /json"}
FRAMEWORKS=${FRAMEWORKS-"erlen axum actix"}
FRAMEWORK_PATHS=${FRAMEWORK_PATHS:-"/plaintext /json /memory/fortunes"}
if [ -n "$FRAMEWORKS" ]; then
  cargo build --release -p erlen-techempower >&2
  (cd scripts/tfb && cargo build --release >&2)
fi
PORT=${PORT:-18190}
out=$(mktemp -d)
trap 'rm -rf "$out"; kill "${VG:-0}" 2>/dev/null || true' EXIT

measure() { # label endpoint command...
  local label=$1 serve=$2
  shift 2
  rm -f "$out"/cg.*
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out/cg.%p" "$@" >/dev/null 2>&1 &
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
  printf '| %-16s | %-17s | %9s | %12s |\n' "$label" "$serve" "$n" "$((ir / n))"
}

count() { # server backend path
  local serve=$3 backend=$2
  # The threaded backend's sync handlers are the ones compared with raw hyper; async-sync
  # is the async backend's sync handlers, which cross to the sync pool.
  [ "$2" = threaded ] && serve=/sync$3
  [ "$2" = async-sync ] && serve=/sync$3 && backend=async
  local label="erlen $backend"
  [ "$1" = hyper ] && label="raw hyper"
  ERLEN_THREADS=1 BENCH_THREADS=1 measure "$label" "$serve" "$BIN" "$1" "$backend" "127.0.0.1:$PORT" 16
}

framework() { # erlen|axum|actix path
  case $1 in
    erlen) ERLEN_THREADS=1 measure "erlen async" "$2" target/release/erlen-techempower async "127.0.0.1:$PORT" ;;
    axum) TFB_THREADS=1 measure "axum 0.8" "$2" scripts/tfb/target/release/axum "127.0.0.1:$PORT" ;;
    actix) TFB_THREADS=1 measure "actix-web 4" "$2" scripts/tfb/target/release/actix "127.0.0.1:$PORT" ;;
    *) echo "unknown framework $1 (expected erlen, axum or actix)" >&2; exit 2 ;;
  esac
}

if [ -n "$SERVERS" ]; then
  echo
  echo "User-space instructions per request under callgrind (5 s of wrk -c16 each):"
  echo
  printf '| %-16s | %-17s | %9s | %12s |\n' server endpoint requests "instr/request"
  printf '| %s | %s | %s | %s |\n' --- --- ---: ---:
  for server in $SERVERS; do
    for path in $PATHS; do
      count "${server%%:*}" "${server##*:}" "$path"
    done
  done
fi
if [ -n "$FRAMEWORKS" ]; then
  echo
  echo "The same app on three frameworks (examples/techempower and scripts/tfb; the database tests"
  echo "on DATABASE_URL's PostgreSQL, the server's instructions only),"
  echo "user-space instructions per request under callgrind (5 s of wrk -c16 each):"
  echo
  printf '| %-16s | %-17s | %9s | %12s |\n' framework endpoint requests "instr/request"
  printf '| %s | %s | %s | %s |\n' --- --- ---: ---:
  for path in $FRAMEWORK_PATHS; do
    for name in $FRAMEWORKS; do
      framework "$name" "$path"
    done
  done
fi
