#!/usr/bin/env bash
# Benchmarks erlen (async and threaded backends, sync and async handlers) against raw
# hyper under wrk, and prints requests/s, p99 latency and the ratios docs/benchmarks.md
# reports.
#
# All servers run at once, each pinned to core 0 with one runtime thread; wrk runs on
# core 1. Measurements are interleaved (every endpoint of every server once per round,
# a case right after the one it is compared with) and medians over the rounds are
# reported: of requests/s per case, and of each round's ratio per compared pair, so that
# the machine's drift, which is large on a shared VM, hits both sides of a ratio alike.
# BENCH_RAW=file keeps every measurement.
#
# BEFORE=path/to/an/older/bench also serves the older build's erlen (async and threaded
# backends, on two more ports, pinned to the same core) and measures it in the same
# rounds, each case right after the same case of this build: the before/after table at
# the end compares the two builds under the same drift, which runs made minutes apart
# cannot (build the older one from a worktree of the older commit, with
# `cargo build --release --example bench`).
#
#   scripts/bench.sh                    # 5 rounds of 4 s per measurement
#   ROUNDS=7 DURATION=6 scripts/bench.sh
#   BEFORE=../base/target/release/examples/bench scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-4}
if ! command -v wrk >/dev/null; then
  echo "installing wrk" >&2
  (apt-get install -y wrk || (apt-get update && apt-get install -y wrk)) >/dev/null
fi
cargo build --release --example bench >&2
BIN=target/release/examples/bench
BEFORE=${BEFORE:-}
if [ -n "$BEFORE" ] && [ ! -x "$BEFORE" ]; then
  echo "BEFORE=$BEFORE is not an executable bench binary" >&2
  exit 1
fi
SERVER_CORE=0
LOAD_CORE=1
[ "$(nproc)" -ge 2 ] || LOAD_CORE=0

# Room for the idle-connection measurement: 10,000 connections on each side.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
IDLE=${IDLE:-10000}

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
start() { # port server backend [workers [binary]]
  ERLEN_THREADS=1 BENCH_THREADS=1 taskset -c $SERVER_CORE "${5:-$BIN}" "$2" "$3" "127.0.0.1:$1" ${4:-} 2>/dev/null &
  pids+=($!)
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$1/plaintext" && return; sleep 0.1; done
  echo "server $2 $3 did not start" >&2
  exit 1
}
start 18080 hyper -
HYPER_PID=${pids[-1]}
start 18081 erlen async
ASYNC_PID=${pids[-1]}
start 18082 erlen threaded 16
THREADED_PID=${pids[-1]}
if [ -n "$BEFORE" ]; then
  start 18083 erlen async - "$BEFORE"
  start 18084 erlen threaded 16 "$BEFORE"
fi

# name port path connections. A case and the case it is compared with run back to back,
# so that each round gives a ratio of two measurements taken seconds apart.
CASES=(
  "hyper/plaintext 18080 /plaintext 64"
  "async/plaintext 18081 /plaintext 64"
  "threaded-sync/plaintext 18082 /sync/plaintext 64"
  "threaded-async/plaintext 18082 /plaintext 64"
  "async-sync/plaintext 18081 /sync/plaintext 64"
  "hyper/json 18080 /json 64"
  "async/json 18081 /json 64"
  "threaded-sync/json 18082 /sync/json 64"
  "threaded-async/json 18082 /json 64"
  "async-sync/json 18081 /sync/json 64"
  "hyper/sleep 18080 /sleep 256"
  "async/sleep 18081 /sleep 256"
)
# name port path connections, bench pairs. With BEFORE, each case of the older build
# runs right after the same case of this one.
PAIRS="async/plaintext:hyper/plaintext async/json:hyper/json threaded-sync/plaintext:hyper/plaintext \
threaded-sync/json:hyper/json async-sync/plaintext:async/plaintext async-sync/json:async/json \
threaded-async/plaintext:threaded-sync/plaintext threaded-async/json:threaded-sync/json"
if [ -n "$BEFORE" ]; then
  with_before=()
  for case in "${CASES[@]}"; do
    with_before+=("$case")
    read -r name port path conns <<<"$case"
    case $name in
      async/plaintext | async/json | async-sync/*) with_before+=("before-$name 18083 $path $conns") ;;
      threaded-sync/*) with_before+=("before-$name 18084 $path $conns") ;;
    esac
  done
  CASES=("${with_before[@]}")
  # The older build's ratios, and each case of this build against the older one's (the
  # pair keyed by what follows @).
  for what in plaintext json; do
    PAIRS="$PAIRS before-async/$what:hyper/$what before-threaded-sync/$what:hyper/$what"
    PAIRS="$PAIRS before-async-sync/$what:before-async/$what"
    for c in async threaded-sync async-sync; do PAIRS="$PAIRS $c/$what:before-$c/$what@new-old/$c/$what"; done
  done
fi

results=$(mktemp)
for round in $(seq "$ROUNDS"); do
  echo "round $round of $ROUNDS" >&2
  for case in "${CASES[@]}"; do
    read -r name port path conns <<<"$case"
    url="http://127.0.0.1:$port$path"
    taskset -c $LOAD_CORE wrk -t1 -c"$conns" -d1s "$url" >/dev/null
    taskset -c $LOAD_CORE wrk -t1 -c"$conns" -d"${DURATION}s" --latency "$url" | awk -v name="$name" -v round="$round" '
      /Requests\/sec/ { rps = $2 }
      /^ +99%/ { v = $2; ms = v + 0;
        if (v ~ /us$/) ms = ms / 1000; else if (v ~ /ms$/) ms = ms; else if (v ~ /s$/) ms = ms * 1000;
        p99 = ms }
      /Non-2xx/ { bad = $NF }
      END { printf "%s %s %.0f %.2f %d\n", round, name, rps, p99, bad + 0 }' >>"$results"
  done
done
[ -z "${BENCH_RAW:-}" ] || cp "$results" "$BENCH_RAW"

# Per case, the median over rounds of requests/s and of p99; per compared pair, the
# median over rounds of the ratio measured in that round.
declare -A RPS P99 RATIO
while read -r kind key value; do
  case $kind in
    rps) RPS[$key]=$value ;;
    p99) P99[$key]=$value ;;
    ratio) RATIO[$key]=$value ;;
  esac
done < <(
  awk -v pairs="$PAIRS" '
       function median(s,   a, n, i, j, t) { n = split(s, a, " ");
         for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
         return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
       { if ($5 > 0) printf "warning: %s answered %d non-2xx\n", $2, $5 > "/dev/stderr";
         r[$2] = r[$2] " " $3; l[$2] = l[$2] " " $4; at[$1 "," $2] = $3; rounds[$1] = 1 }
       END {
         for (k in r) printf "rps %s %.0f\np99 %s %.2f\n", k, median(r[k]), k, median(l[k])
         n = split(pairs, p, " ")
         for (i = 1; i <= n; i++) { key = p[i]; sub(/.*@/, "", key); pair = p[i]; sub(/@.*/, "", pair)
           split(pair, ab, ":"); if (key == p[i]) key = ab[1]; s = ""
           for (round in rounds) if (at[round "," ab[2]] > 0) s = s " " at[round "," ab[1]] / at[round "," ab[2]]
           printf "ratio %s %.2f\n", key, median(s) }
       }' "$results")
rm -f "$results"

line() { # label case base-label
  printf '| %-40s | %10s | %8s | %-32s |\n' "$1" "${RPS[$2]}" "${P99[$2]}" "${RATIO[$2]:-1.00} x $3"
}
ideal=$(awk 'BEGIN { printf "%.0f", 256 / 0.050 }')
echo
echo "Median of $ROUNDS rounds of ${DURATION} s; server on core $SERVER_CORE (1 runtime thread), wrk -t1 on core $LOAD_CORE."
echo "A ratio is the median of the rounds' ratios, each of two measurements made back to back."
echo
printf '| %-40s | %10s | %8s | %-32s |\n' "server, handler, endpoint (connections)" "requests/s" "p99 ms" "ratio"
printf '| %s | %s | %s | %s |\n' "---" "---:" "---:" "---"
line "raw hyper /plaintext (64)" hyper/plaintext "raw hyper"
line "raw hyper /json (64)" hyper/json "raw hyper"
line "raw hyper /sleep 50 ms (256)" hyper/sleep "raw hyper"
line "erlen async, async fn /plaintext (64)" async/plaintext "raw hyper"
line "erlen async, async fn /json (64)" async/json "raw hyper"
line "erlen async, sync fn /plaintext (64)" async-sync/plaintext "erlen async, async fn"
line "erlen async, sync fn /json (64)" async-sync/json "erlen async, async fn"
line "erlen threaded, sync fn /plaintext (64)" threaded-sync/plaintext "raw hyper"
line "erlen threaded, sync fn /json (64)" threaded-sync/json "raw hyper"
line "erlen threaded, async fn /plaintext (64)" threaded-async/plaintext "threaded, sync fn"
line "erlen threaded, async fn /json (64)" threaded-async/json "threaded, sync fn"
printf '| %-40s | %10s | %8s | %-32s |\n' "erlen async, async fn /sleep 50 ms (256)" "${RPS[async/sleep]}" "${P99[async/sleep]}" \
  "$(awk -v a="${RPS[async/sleep]}" -v b="$ideal" 'BEGIN { printf "%.2f", a / b }') x ideal (256 / 50 ms = $ideal)"

if [ -n "$BEFORE" ]; then
  before_line() { # label case base
    printf '| %-46s | %11s | %11s | %12s | %12s | %10s |\n' "$1" "${RATIO[before-$2]}" "${RATIO[$2]}" \
      "${RPS[before-$2]}" "${RPS[$2]}" "${RATIO[new-old/$2]}"
  }
  echo
  echo "Before ($BEFORE) and after (this build), measured in the same rounds, each case of the"
  echo "older build right after the same case of this one; new/old is the median of the rounds' ratios."
  echo
  printf '| %-46s | %11s | %11s | %12s | %12s | %10s |\n' "ratio" "before" "after" "before req/s" "after req/s" "new/old"
  printf '| %s | %s | %s | %s | %s | %s |\n' --- ---: ---: ---: ---: ---:
  for what in plaintext json; do
    before_line "async, async fn / raw hyper, /$what" "async/$what"
    before_line "async, sync fn / async, async fn, /$what" "async-sync/$what"
    before_line "threaded, sync fn / raw hyper, /$what" "threaded-sync/$what"
  done
fi

# Idle keep-alive connections: what each costs the server, and a request's latency while
# they are all open.
echo
echo "$IDLE idle keep-alive connections held open (scripts/idle.py), then 200 requests on a fresh one:"
echo
printf '| %-16s | %8s | %12s | %12s | %12s | %11s | %8s |\n' server "still open" "RSS before MiB" "RSS with MiB" "KiB per conn" "median ms" "p99 ms"
printf '| %s | %s | %s | %s | %s | %s | %s |\n' --- ---: ---: ---: ---: ---: ---:
for spec in "raw hyper:$HYPER_PID:18080" "erlen async:$ASYNC_PID:18081" "erlen threaded:$THREADED_PID:18082"; do
  IFS=: read -r label pid port <<<"$spec"
  read -r n alive before during per median p99 _ < <(taskset -c $LOAD_CORE python3 scripts/idle.py "$pid" "$port" "$IDLE")
  printf '| %-16s | %8s | %12s | %12s | %12s | %11s | %8s |\n' "$label" "$alive/$n" "$before" "$during" "$per" "$median" "$p99"
done
