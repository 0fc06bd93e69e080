#!/usr/bin/env bash
# Benchmarks erlen's live connections against axum's: WebSocket echo round trips per
# second and Server-Sent Events per second, and prints the medians and the ratios
# docs/benchmarks.md reports.
#
# Both servers (scripts/live-bench, a cargo project of its own so that erlen's build never
# compiles axum) run at once, each pinned to core 0 with one runtime thread; the load
# generator runs on core 1, on one thread. Measurements are interleaved (erlen ws, axum
# ws, erlen sse, axum sse in every round) and the median of the rounds is reported, so
# that the machine's drift hits both alike. The table also gives each server's CPU use
# and what it did per second of its own CPU time: a server well under 100% CPU was held
# back by the load generator or by other work on the machine.
#
#   scripts/live-bench.sh                    # 5 rounds of 4 s per measurement
#   ROUNDS=7 DURATION=6 CONNS=64 scripts/live-bench.sh
set -euo pipefail
cd "$(dirname "$0")/live-bench"

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-4}
CONNS=${CONNS:-32}
cargo build --release >&2
SERVER=target/release/server
LOAD=target/release/load
SERVER_CORE=0
LOAD_CORE=1
[ "$(nproc)" -ge 2 ] || LOAD_CORE=0

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
declare -A PORT PID
start() { # port framework
  ERLEN_THREADS=1 taskset -c $SERVER_CORE "$SERVER" "$2" "127.0.0.1:$1" 2>/dev/null &
  pids+=($!)
  PORT[$2]=$1
  PID[$2]=$!
  for _ in $(seq 50); do "$LOAD" check "127.0.0.1:$1" >&2 2>/dev/null && return; sleep 0.1; done
  "$LOAD" check "127.0.0.1:$1" >&2 || { echo "server $2 did not start or answer as expected" >&2; exit 1; }
}
start 18090 erlen
start 18091 axum

results=$(mktemp)
for round in $(seq "$ROUNDS"); do
  echo "round $round of $ROUNDS" >&2
  for mode in ws sse; do
    for fw in erlen axum; do
      line=$(taskset -c $LOAD_CORE "$LOAD" "$mode" "127.0.0.1:${PORT[$fw]}" "$CONNS" "$DURATION" "${PID[$fw]}")
      echo "  $fw $line" >&2
      echo "$fw/$mode $line" >>"$results"
    done
  done
done

# The medians over rounds of the rate, of the server's and the load generator's CPU, and
# of what the server did per second of its own CPU time: the load generator and anything
# else running on the machine change that less than they change the rate.
declare -A RATE SCPU LCPU PERCPU
while read -r name rate scpu lcpu percpu; do
  RATE[$name]=$rate SCPU[$name]=$scpu LCPU[$name]=$lcpu PERCPU[$name]=$percpu
done < <(
  awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
         r[$1] = r[$1] " " v["rate"]; s[$1] = s[$1] " " v["server_cpu"]; l[$1] = l[$1] " " v["load_cpu"]
         if (v["server_cpu"] > 0) e[$1] = e[$1] " " v["rate"] * 100 / v["server_cpu"] }
       function median(s,   a, n, i, j, t) { n = split(s, a, " ");
         for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
         return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
       END { for (k in r) printf "%s %.0f %.0f %.0f %.0f\n", k, median(r[k]), median(s[k]), median(l[k]), median(e[k]) }' "$results")
busy=$(awk '{ for (i = 2; i <= NF; i++) if ($i ~ /^server_cpu=/) { split($i, kv, "="); if (kv[2] + 0 < 90) n++ } }
            END { print n + 0 }' "$results")
rm -f "$results"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
row() { # label case base-case
  printf '| %-34s | %10s | %-11s | %10s | %8s | %12s | %-11s |\n' "$1" "${RATE[$2]}" \
    "$(ratio "${RATE[$2]}" "${RATE[$3]}") x axum" "${SCPU[$2]}%" "${LCPU[$2]}%" "${PERCPU[$2]}" \
    "$(ratio "${PERCPU[$2]}" "${PERCPU[$3]}") x axum"
}
echo
echo "Median of $ROUNDS rounds of ${DURATION} s, $CONNS connections; server on core $SERVER_CORE" \
  "(1 runtime thread), load generator on core $LOAD_CORE (1 thread)."
echo
printf '| %-34s | %10s | %-11s | %10s | %8s | %12s | %-11s |\n' "server, measurement" "per second" "ratio" \
  "server CPU" "load CPU" "per CPU-second" "ratio"
printf '| %s | %s | %s | %s | %s | %s | %s |\n' "---" "---:" "---" "---:" "---:" "---:" "---"
row "axum, WebSocket echo round trips" axum/ws axum/ws
row "erlen, WebSocket echo round trips" erlen/ws axum/ws
row "axum, SSE events" axum/sse axum/sse
row "erlen, SSE events" erlen/sse axum/sse
if [ "$busy" -gt 0 ]; then
  echo
  echo "$busy of $((ROUNDS * 4)) measurements had the server under 90% CPU: other work on the machine" \
    "(or the load generator) held it back; the per CPU-second figures are the steadier ones."
fi
