#!/usr/bin/env bash
# TechEmpower's six tests on PostgreSQL: erlen (async views on the async backend, sync
# views on the threaded one), axum 0.8, actix-web 4 and Flask 3, timed in the same run,
# and printed as the table docs/benchmarks.md shows.
#
# 1. Starts Debian's PostgreSQL in a temporary directory (initdb, a free port, a socket
#    directory of its own; as the `postgres` user when run as root), pinned to core 0,
#    and loads TechEmpower's schema and rows (examples/techempower/sql: World 10,000
#    rows, Fortune 12).
# 2. Builds erlen's example (examples/techempower) and the peers (scripts/tfb, a cargo
#    project of its own) in release, and makes a virtualenv with Flask, gunicorn and
#    psycopg (scripts/tfb/flask/requirements.txt; kept in scripts/tfb/target/venv). When
#    pip cannot install them, Flask is left out and the table says why.
# 3. Starts every server pinned to core 0, next to the database: erlen async (1 runtime
#    thread), erlen threaded (1 runtime thread, TFB_POOL_SIZE workers, its /sync views;
#    and again with its /bridge views, sync views on the async pool),
#    axum (1 tokio worker), actix-web (1 worker), each with a pool of TFB_POOL_SIZE
#    tokio-postgres/postgres connections; Flask under gunicorn, FLASK_WORKERS sync workers
#    with a psycopg connection each.
# 4. Verifies each server against TechEmpower's rules (`erlen-techempower verify`, the
#    verifier the example's test runs); a server that fails is not timed.
# 5. Times every test with wrk on core 1 (-t1, CONNS connections, after a 1 s warm-up),
#    rounds interleaved (each round runs every test on every server, one server after the
#    other, starting one server further on each round), and reports medians over the
#    rounds: requests/s, and requests per CPU-second of the server and the database
#    together (their processes' user + system time during the run, read from /proc by
#    scripts/tfb/cpu.py), which does not depend on how much of core 0 other work on the
#    machine left them. A ratio between two servers is the median of the rounds' ratios,
#    each of two measurements seconds apart, with the lowest and highest round beside it.
#
#   scripts/tfb.sh                                  # 3 rounds of 5 s
#   ROUNDS=5 DURATION=10 CONNS=256 scripts/tfb.sh
#   SERVERS="erlen-async axum" TESTS="db fortunes" scripts/tfb.sh
#   TFB_RAW=file scripts/tfb.sh                     # keep every measurement
#   SERVERS="axum axum-sqlx" TESTS="db queries fortunes updates" scripts/tfb.sh
#                                                   # tokio-postgres against sqlx
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
CONNS=${CONNS:-64}
QUERIES=${QUERIES:-20}
POOL=${TFB_POOL_SIZE:-16}
FLASK_WORKERS=${FLASK_WORKERS:-3}
SERVERS=${SERVERS:-"erlen-async erlen-threaded erlen-bridge axum actix flask"}
TESTS=${TESTS:-"json plaintext db queries fortunes updates"}
SERVER_CORE=0
LOAD_CORE=1
[ "$(nproc)" -ge 2 ] || LOAD_CORE=0

if ! command -v wrk >/dev/null; then
  echo "installing wrk" >&2
  (apt-get install -y wrk || (apt-get update && apt-get install -y wrk)) >/dev/null
fi
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}
if [ ! -x "$PG_BIN/initdb" ]; then
  echo "PostgreSQL's server programs are missing: apt-get install postgresql (or set PG_BIN)" >&2
  exit 1
fi

echo "building erlen's example and the peers (release)" >&2
cargo build --release -p erlen-techempower >&2
(cd scripts/tfb && cargo build --release >&2)
# The axum peer on sqlx (the driver choice, measured), only when asked for.
if [[ " $SERVERS " == *" axum-sqlx "* ]]; then (cd scripts/tfb && cargo build --release --features sqlx >&2); fi
TFB=$ROOT/target/release/erlen-techempower
PEERS=$ROOT/scripts/tfb/target/release

# Flask's virtualenv, made once and kept.
VENV=$ROOT/scripts/tfb/target/venv
FLASK_SKIPPED=""
if [[ " $SERVERS " == *" flask "* ]]; then
  if [ ! -x "$VENV/bin/gunicorn" ]; then
    echo "making Flask's virtualenv in $VENV" >&2
    rm -rf "$VENV"
    if ! python3 -m venv "$VENV" >&2 || ! "$VENV/bin/pip" install -q -r scripts/tfb/flask/requirements.txt >&2; then
      FLASK_SKIPPED="pip could not install scripts/tfb/flask/requirements.txt (is PyPI reachable?)"
      rm -rf "$VENV"
    fi
  fi
  if [ -n "$FLASK_SKIPPED" ]; then
    echo "Flask is not run: $FLASK_SKIPPED" >&2
    SERVERS=$(echo " $SERVERS " | sed 's/ flask / /')
  fi
fi

# PostgreSQL in a temporary directory, as `postgres` when we are root.
TMP=$(mktemp -d /tmp/erlen-tfb.XXXXXX)
AS_OWNER=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres: "$TMP"
  AS_OWNER=(runuser -u postgres --)
fi
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PG_PORT=$(free_port)
pids=()
PG_PID=""
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -f "$TMP/data/postmaster.pid" ]; then kill -INT "$(head -n1 "$TMP/data/postmaster.pid")" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
"${AS_OWNER[@]}" "$PG_BIN/initdb" --auth=trust --encoding=UTF8 --locale=C.UTF-8 -U postgres -D "$TMP/data" >/dev/null
"${AS_OWNER[@]}" mkdir "$TMP/sockets"
# Durable commits without waiting for the disk on each one: a shared VM's disk would
# otherwise set the updates test's pace for every framework alike.
taskset -c $SERVER_CORE "${AS_OWNER[@]}" "$PG_BIN/postgres" -D "$TMP/data" -p "$PG_PORT" -k "$TMP/sockets" \
  -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=256MB -c synchronous_commit=off \
  >"$TMP/postgres.log" 2>&1 &
PG_PID=$!
for _ in $(seq 100); do "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break; sleep 0.1; done
"$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" || { cat "$TMP/postgres.log" >&2; echo "PostgreSQL did not start" >&2; exit 1; }
psql=("$PG_BIN/psql" -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT")
"${psql[@]}" -U postgres -d postgres -f examples/techempower/sql/create-database.sql >/dev/null
"${psql[@]}" -U benchmarkdbuser -d hello_world -f examples/techempower/sql/hello_world.sql >/dev/null
export DATABASE_URL="postgres://benchmarkdbuser:benchmarkdbpass@127.0.0.1:$PG_PORT/hello_world"
echo "PostgreSQL on port $PG_PORT, data in $TMP" >&2

declare -A PORT PREFIX PID LABEL
LABEL=([erlen-async]="erlen async" [erlen-threaded]="erlen threaded, sync views"
  [erlen-bridge]="erlen threaded, sync views on the async pool" [axum]="axum 0.8"
  [axum-sqlx]="axum 0.8 on sqlx" [actix]="actix-web 4" [flask]="Flask 3, gunicorn")
start() { # name port prefix command...
  local name=$1 port=$2 prefix=$3
  shift 3
  TFB_POOL_SIZE=$POOL ERLEN_THREADS=1 TFB_THREADS=1 TFB_WORKERS=$POOL taskset -c $SERVER_CORE "$@" \
    >"$TMP/$name.log" 2>&1 &
  pids+=($!)
  PORT[$name]=$port PREFIX[$name]=$prefix PID[$name]=$!
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port$prefix/plaintext" && return; sleep 0.1; done
  cat "$TMP/$name.log" >&2
  echo "$name did not start" >&2
  exit 1
}
timed=()
verified_skip=""
port=18300
for name in $SERVERS; do
  port=$((port + 1))
  case $name in
    erlen-async) start "$name" $port "" "$TFB" async "127.0.0.1:$port" ;;
    erlen-threaded) start "$name" $port /sync "$TFB" threaded "127.0.0.1:$port" ;;
    erlen-bridge) start "$name" $port /bridge "$TFB" threaded "127.0.0.1:$port" ;;
    axum) start "$name" $port "" "$PEERS/axum" "127.0.0.1:$port" ;;
    axum-sqlx) start "$name" $port "" "$PEERS/axum-sqlx" "127.0.0.1:$port" ;;
    actix) start "$name" $port "" "$PEERS/actix" "127.0.0.1:$port" ;;
    flask)
      start "$name" $port "" "$VENV/bin/gunicorn" \
        --chdir scripts/tfb/flask -w "$FLASK_WORKERS" -b "127.0.0.1:$port" --log-level warning app:app
      ;;
    *) echo "unknown server $name (expected erlen-async erlen-threaded erlen-bridge axum axum-sqlx actix flask)" >&2; exit 2 ;;
  esac
  if "$TFB" verify "127.0.0.1:$port" "${PREFIX[$name]}" >"$TMP/verify-$name.log" 2>&1; then
    echo "$name: the six tests follow TechEmpower's rules" >&2
    timed+=("$name")
  else
    cat "$TMP/verify-$name.log" >&2
    echo "$name: failed TechEmpower's rules; not timed" >&2
    verified_skip="$verified_skip $name"
  fi
done

declare -A URLPATH=([json]=/json [plaintext]=/plaintext [db]=/db [queries]="/queries?queries=$QUERIES"
  [fortunes]=/fortunes [updates]="/updates?queries=$QUERIES")
results=$TMP/results
: >"$results"
for round in $(seq "$ROUNDS"); do
  echo "round $round of $ROUNDS" >&2
  for test in $TESTS; do
    # Each round starts one server further on, so that none is always timed first.
    for i in "${!timed[@]}"; do
      name=${timed[$(((i + round - 1) % ${#timed[@]}))]}
      url="http://127.0.0.1:${PORT[$name]}${PREFIX[$name]}${URLPATH[$test]}"
      taskset -c $LOAD_CORE wrk -t1 -c"$CONNS" -d1s "$url" >/dev/null
      before=$(python3 scripts/tfb/cpu.py "${PID[$name]}" "$PG_PID")
      out=$(taskset -c $LOAD_CORE wrk -t1 -c"$CONNS" -d"${DURATION}s" "$url")
      after=$(python3 scripts/tfb/cpu.py "${PID[$name]}" "$PG_PID")
      awk -v round="$round" -v name="$name" -v test="$test" -v cpu0="$before" -v cpu1="$after" '
        BEGIN { cpu = cpu1 - cpu0 }
        /requests in/ { n = $1 }
        /Requests\/sec/ { rps = $2 }
        /Non-2xx/ { bad = $NF }
        /Socket errors/ { errors = $0 }
        END { printf "%s %s %s %.0f %.0f %.2f %d\n", round, name, test, rps, (cpu > 0 ? n / cpu : 0), cpu, bad + 0
              if (bad > 0 || errors != "") printf "warning: %s %s: %d non-2xx; %s\n", name, test, bad, errors > "/dev/stderr" }' \
        <<<"$out" >>"$results"
    done
  done
done
[ -z "${TFB_RAW:-}" ] || cp "$results" "$TFB_RAW"

# Medians over the rounds, per server and test: requests/s, requests per CPU-second, and
# the CPU the server and database used (cores).
# sorted(s, a): the space-separated numbers of s into a, ascending; returns how many.
SORTED='function sorted(s, a,   n, i, j, t) { n = split(s, a, " ");
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n }
  function median(s,   a, n) { n = sorted(s, a); return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }'
declare -A RPS PER CPU
while read -r key rps per cpu; do
  RPS[$key]=$rps PER[$key]=$per CPU[$key]=$cpu
done < <(awk -v d="$DURATION" "$SORTED"'
  { k = $2 "/" $3; r[k] = r[k] " " $4; p[k] = p[k] " " $5; c[k] = c[k] " " $6 / d }
  END { for (k in r) printf "%s %.0f %.0f %.2f\n", k, median(r[k]), median(p[k]), median(c[k]) }' "$results")

# A ratio cell: the median over the rounds of the two servers' requests per CPU-second in
# the same round (measured a few seconds apart, so slow drift in the machine's speed
# cancels), then the lowest and highest round, which say how far to trust it.
ratio() { # server-a server-b test
  awk -v a="$1" -v b="$2" -v t="$3" "$SORTED"'
    $3 == t && $2 == a { x[$1] = $5 }
    $3 == t && $2 == b { y[$1] = $5 }
    END { for (r in x) if (y[r] > 0) s = s " " x[r] / y[r]
      n = sorted(s, v)
      if (n == 0) printf "-"
      else if (n == 1) printf "%.2f", v[1]
      else printf "%.2f (%.2f-%.2f)", median(s), v[1], v[n] }' "$results"
}
has() { [[ " ${timed[*]} " == *" $1 "* ]]; }
echo
echo "TechEmpower's six tests on PostgreSQL $("$PG_BIN/postgres" --version | awk '{ print $3 }'): median of $ROUNDS rounds of ${DURATION} s,"
echo "wrk -t1 -c$CONNS on core $LOAD_CORE; each server and the database on core $SERVER_CORE; pools of $POOL connections;"
echo "queries and updates at queries=$QUERIES. Each cell: requests/s, then requests per CPU-second of server + database."
[ -z "$FLASK_SKIPPED" ] || echo "Flask not run: $FLASK_SKIPPED."
[ -z "$verified_skip" ] || echo "Not timed, failed TechEmpower's rules:$verified_skip."
echo
header="| test"
rule="| ---"
for name in "${timed[@]}"; do header="$header | ${LABEL[$name]}"; rule="$rule | ---:"; done
has erlen-async && has axum && header="$header | erlen async / axum" && rule="$rule | ---:"
has erlen-async && has actix && header="$header | erlen async / actix-web" && rule="$rule | ---:"
has erlen-async && has erlen-threaded && header="$header | threaded / async" && rule="$rule | ---:"
has erlen-async && has erlen-bridge && header="$header | on the async pool / async" && rule="$rule | ---:"
echo "$header |"
echo "$rule |"
for test in $TESTS; do
  row="| ${URLPATH[$test]}"
  for name in "${timed[@]}"; do
    row="$row | ${RPS[$name/$test]:-0} · ${PER[$name/$test]:-0}"
  done
  has erlen-async && has axum && row="$row | $(ratio erlen-async axum $test)"
  has erlen-async && has actix && row="$row | $(ratio erlen-async actix $test)"
  has erlen-async && has erlen-threaded && row="$row | $(ratio erlen-threaded erlen-async $test)"
  has erlen-async && has erlen-bridge && row="$row | $(ratio erlen-bridge erlen-async $test)"
  echo "$row |"
done
echo
echo "Ratios: of requests per CPU-second, the median of each round's ratio (lowest-highest round)."
echo "CPU used (cores, server + database), median:"
for test in $TESTS; do
  row="  ${URLPATH[$test]}:"
  for name in "${timed[@]}"; do row="$row $name ${CPU[$name/$test]:-0}"; done
  echo "$row"
done
