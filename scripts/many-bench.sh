#!/usr/bin/env bash
# Measures what many instances cost: sessions and channels, on memory and on Redis
# (Debian's redis-server, started by the bench in a temporary directory and stopped when
# it ends), and prints the two tables docs/many-instances.md reports.
#
# Sessions: requests/s and p99 of `GET /visit`, which reads and writes the session, with
# the cookie store, the memory store and Redis, one server each in one process pinned to
# core 0 with one runtime thread (redis-server shares that core), wrk on core 1, every
# store once per round, rounds interleaved, medians over the rounds. Each wrk connection
# sends the same session cookie, so every request loads and saves one session.
#
# Channels: `many_bench channels` (pinned to core 0): messages/s published back to back
# and delivered to every subscriber, and publish-to-receive latency at 200 messages/s,
# for 1, 100 and 1,000 subscribers, in one process and across two apps through Redis.
#
#   scripts/many-bench.sh                 # 5 rounds of 4 s per store
#   ROUNDS=3 DURATION=2 scripts/many-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-4}
CONNECTIONS=${CONNECTIONS:-64}
for tool in wrk redis-server curl; do
  command -v "$tool" >/dev/null || { echo "many-bench needs $tool (apt-get install -y ${tool/redis-server/redis-server})" >&2; exit 1; }
done
cargo build --release -p erlen-many --bin many_bench >&2
BIN=target/release/many_bench
SERVER_CORE=0
LOAD_CORE=1
[ "$(nproc)" -ge 2 ] || LOAD_CORE=0

ports=$(mktemp)
ERLEN_THREADS=1 ERLEN_LOG=error taskset -c $SERVER_CORE "$BIN" sessions >"$ports" &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -f "$ports" "${results:-}"' EXIT
for _ in $(seq 100); do grep -q '^ready$' "$ports" && break; sleep 0.1; done
grep -q '^ready$' "$ports" || { echo "the sessions servers did not start" >&2; exit 1; }

declare -A PORT COOKIE
while read -r store port; do
  [ "$store" = ready ] && continue
  PORT[$store]=$port
  COOKIE[$store]=$(curl -s -D - -o /dev/null "http://127.0.0.1:$port/visit" | tr -d '\r' |
    awk -F': ' 'tolower($1) == "set-cookie" { split($2, a, ";"); print a[1] }')
  [ -n "${COOKIE[$store]}" ] || { echo "no session cookie from the $store store" >&2; exit 1; }
done <"$ports"

results=$(mktemp)
for round in $(seq "$ROUNDS"); do
  echo "sessions: round $round of $ROUNDS" >&2
  for store in cookie memory redis; do
    url="http://127.0.0.1:${PORT[$store]}/visit"
    taskset -c $LOAD_CORE wrk -t1 -c"$CONNECTIONS" -d1s -H "Cookie: ${COOKIE[$store]}" "$url" >/dev/null
    taskset -c $LOAD_CORE wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -H "Cookie: ${COOKIE[$store]}" "$url" |
      awk -v store="$store" '
        /Requests\/sec/ { rps = $2 }
        /^ +99%/ { v = $2; ms = v + 0;
          if (v ~ /us$/) ms = ms / 1000; else if (v ~ /ms$/) ms = ms; else if (v ~ /s$/) ms = ms * 1000;
          p99 = ms }
        /Non-2xx/ { bad = $NF }
        END { printf "%s %.0f %.2f %d\n", store, rps, p99, bad + 0 }' >>"$results"
  done
done
kill $server 2>/dev/null || true
wait $server 2>/dev/null || true

echo
echo "sessions, GET /visit (read + write), $CONNECTIONS connections, medians of $ROUNDS rounds"
awk '
  function median(s,   a, n, i, j, t) { n = split(s, a, " ");
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
  { rps[$1] = rps[$1] " " $2; p99[$1] = p99[$1] " " $3; bad[$1] += $4 }
  END {
    printf "%-8s %12s %10s %10s\n", "store", "requests/s", "p99 ms", "non-2xx"
    split("cookie memory redis", order, " ")
    for (k = 1; k <= 3; k++) { s = order[k]; printf "%-8s %12.0f %10.2f %10d\n", s, median(rps[s]), median(p99[s]), bad[s] }
  }' "$results"

echo
echo "channels (many_bench channels $ROUNDS, pinned to core $SERVER_CORE)"
ERLEN_THREADS=1 ERLEN_LOG=error taskset -c $SERVER_CORE "$BIN" channels "$ROUNDS"
