#!/usr/bin/env bash
# Benchmark: `ingestd load` into PostgreSQL (2 workers, typed columns, binary
# COPY) against `psql \copy` and the Python multiprocessing executemany
# loader (../shared/bench/loaders/py_pg_mp.py --mode executemany) on the same
# generated 1M-row orders CSV, in one run, with the shared bench harness
# (../shared/bench: generator, the peers' exact commands, GNU time, server
# CPU from /proc, checks of every load against the manifest).
#
# Usage: benches/postgres.sh [N]      (default N=1000000; RUNS=3 by default)
#   Run ../shared/bench/setup.sh first (idempotent; needs root): it installs
#   the peers and gives role `bench` a database `bench` on 127.0.0.1:5432.
#   TOOLS="..." overrides the tools (default: psql_copy py_mp_executemany ingestd_pg).
# Prints the peers' median table (wall, CPU of the command, CPU of the
# server, peak RSS), the ratios ingestd / psql \copy and executemany /
# ingestd, the peak RSS of every ingestd process (from their exit lines),
# and the machine's load before and after.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N=${1:-1000000}
export RUNS=${RUNS:-3}
BENCH=${BENCH_HARNESS:-$ROOT/../shared/bench}
[ -x "$BENCH/peers.sh" ] || { echo "the shared bench harness is not at $BENCH (set BENCH_HARNESS)" >&2; exit 1; }
command -v psql >/dev/null || { echo "psql is missing: run $BENCH/setup.sh" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "GNU time is missing: run $BENCH/setup.sh" >&2; exit 1; }

export BENCH_WORK=${BENCH_WORK:-/tmp/ingest-bench}
: "${PGHOST:=127.0.0.1}" "${PGPORT:=5432}" "${PGUSER:=bench}" "${PGDATABASE:=bench}"
export PGHOST PGPORT PGUSER PGDATABASE
mkdir -p "$BENCH_WORK"
cargo build --release --locked -q
BIN=$ROOT/target/release/ingestd

# The bench creates the table (schema.pg.sql: no key, autovacuum off, as for
# the peers) before each load; ingestd writes into it and its ledger. The
# ledger would remember the file from the first run and skip it after: each
# run loads it under a job of its own (orders_r1, orders_r2, ...), picked by a
# counter that the timed command bumps with shell builtins (no process, no
# database round trip, so nothing is added to ingestd's figures).
CONF=$BENCH_WORK/ingestd-pg.toml
COUNTER=$BENCH_WORK/ingestd-pg.run
job_toml() { # NAME
  cat <<TOML
[jobs.$1]
sink = "bench"
table = "orders"
workers = ${WORKERS:-2}
batch_rows = 10000
reject_dir = "$BENCH_WORK/ingestd-rejects"
[jobs.$1.source]
kind = "stdin"
TOML
  local c
  for c in id:bigint customer_id:int customer_name:text amount:decimal\(12,2\) \
           currency:varchar\(3\) created_at:timestamp status:text note:text; do
    printf '[[jobs.%s.columns]]\nname = "%s"\ntype = "%s"\n' "$1" "${c%%:*}" "${c#*:}"
  done
}
{
  cat <<TOML
[daemon]
state_dir = "$BENCH_WORK/ingestd-state"
[sinks.bench]
kind = "postgres"
host = "$PGHOST"
port = $PGPORT
user = "$PGUSER"
dbname = "$PGDATABASE"
TOML
  for r in $(seq 1 "$RUNS"); do job_toml "orders_r$r"; done
} >"$CONF"
echo 0 >"$COUNTER"
psql -X -q -c "SET client_min_messages = warning; DROP TABLE IF EXISTS ingestd_ledger" >/dev/null

echo "load before: $(uptime)"
RESULTS=$BENCH_WORK/results-pg-$N-$(date +%Y%m%dT%H%M%S).jsonl
export INGESTD_LOG=info
INGESTD_PG_CMD="sh -c 'read n <$COUNTER; n=\$((n + 1)); echo \$n >$COUNTER; exec $BIN load --config $CONF --job orders_r\$n {csv}'" \
TOOLS=${TOOLS:-"psql_copy py_mp_executemany ingestd_pg"} BENCH_RESULTS=$RESULTS \
  "$BENCH/peers.sh" "$N"
echo "load after: $(uptime)"

echo
python3 - "$RESULTS" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
def med(tool, key):
    v = [r[key] for r in runs if r["tool"] == tool and r.get(key) is not None]
    return statistics.median(v) if v else float("nan")
ing, cp, em = (med(t, "wall_s") for t in ("ingestd_pg", "psql_copy", "py_mp_executemany"))
print(f"ingestd load / psql \\copy wall time: {ing:.2f} s / {cp:.2f} s = {ing / cp:.2f}x (target <= 1.0x)")
print(f"executemany loader / ingestd load:   {em:.2f} s / {ing:.2f} s = {em / ing:.1f}x faster (target >= 10x)")
for t in ("ingestd_pg", "psql_copy", "py_mp_executemany"):
    print(f"  {t:18} CPU {med(t, 'cpu_s'):6.2f} s  server CPU {med(t, 'srv_cpu_s'):6.2f} s  peak RSS {med(t, 'maxrss_kb') / 1024:6.1f} MiB")
PY

peak_of() { # log files -> "sup X MiB, workers: a b c"
  local sup workers
  sup=$(grep -hoE 'supervisor stopped.*peak_rss_mib=[0-9.]+' "$@" | grep -oE 'peak_rss_mib=[0-9.]+' | cut -d= -f2 | sort -n | tail -1)
  workers=$(grep -hE 'pool closed' "$@" | grep -oE 'peak_rss_mib=[0-9.]+' | cut -d= -f2 | sort -n | tr '\n' ' ')
  echo "supervisor ${sup:-?} MiB; workers ${workers:-?}(MiB each)"
}
echo "peak RSS per ingestd process, N=$N: $(peak_of "$BENCH_WORK"/logs/ingestd_pg-"$N"-*.log)"
RESULTS=$(ls -t "$BENCH_WORK"/results-pg-"$N"-*.jsonl 2>/dev/null | head -1)
# shellcheck disable=SC2046
python3 benches/cpu_split.py "$N" $(seq -f "$BENCH_WORK/logs/ingestd_pg-$N-%g.log" 1 "$RUNS") \
  ${RESULTS:+--results "$RESULTS" --tool ingestd_pg}
