#!/usr/bin/env bash
# Benchmark: `ingestd load` of JSON Lines (format.kind = "jsonl", the orders'
# typed columns, 2 workers) against the shared harness's JSON Lines peers on
# the same generated 1M-record orders file, interleaved in one run:
#   PostgreSQL: psql_jsonl_staging (\copy each line into a temporary jsonb
#               table, then INSERT ... SELECT with casts), goal <= 0.5x its
#               wall time;
#   SQLite:     py_sqlite_jsonl (Python's json + sqlite3 executemany in one
#               transaction), goal <= 0.2x its wall time.
# The harness (../shared/bench) generates the file, times each command alone
# (GNU time, server CPU from /proc) and checks every load against the
# generator's manifest (row count, NULLs, sum of amounts, names with a
# newline).
#
# Usage: benches/jsonl.sh [N]         (default N=1000000; RUNS=5 by default)
#   Run ../shared/bench/setup.sh first (idempotent; needs root).
#   TOOLS="..." overrides the tools (default: all four, interleaved).
# Prints the peers' median table, both ratios against their goals, the peak
# RSS of every ingestd process, and the machine's load before and after
# (the machine may be shared: compare within one run).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N=${1:-1000000}
export RUNS=${RUNS:-5}
BENCH=${BENCH_HARNESS:-$ROOT/../shared/bench}
[ -x "$BENCH/peers.sh" ] || { echo "the shared bench harness is not at $BENCH (set BENCH_HARNESS)" >&2; exit 1; }
for tool in psql sqlite3; do
  command -v $tool >/dev/null || { echo "$tool is missing: run $BENCH/setup.sh" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "GNU time is missing: run $BENCH/setup.sh" >&2; exit 1; }

export BENCH_WORK=${BENCH_WORK:-/tmp/ingest-bench}
: "${PGHOST:=127.0.0.1}" "${PGPORT:=5432}" "${PGUSER:=bench}" "${PGDATABASE:=bench}"
export PGHOST PGPORT PGUSER PGDATABASE
export BENCH_SQLITE_DB=${BENCH_SQLITE_DB:-$BENCH_WORK/bench.sqlite}
mkdir -p "$BENCH_WORK"
cargo build --release --locked -q
BIN=$ROOT/target/release/ingestd

# One job per PostgreSQL run (orders_pg_r1, ...): the ledger would remember
# the file from the first run and skip it after. The counter is bumped with
# shell builtins inside the timed command (no process, no round trip). The
# SQLite file, ledger included, is made anew before each run by the harness.
CONF=$BENCH_WORK/ingestd-jsonl.toml
COUNTER=$BENCH_WORK/ingestd-jsonl.run
job_toml() { # NAME SINK
  cat <<TOML
[jobs.$1]
sink = "$2"
table = "orders"
workers = ${WORKERS:-2}
batch_rows = 10000
reject_dir = "$BENCH_WORK/ingestd-rejects-jsonl"
[jobs.$1.source]
kind = "stdin"
[jobs.$1.format]
kind = "jsonl"
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
state_dir = "$BENCH_WORK/ingestd-state-jsonl"
[sinks.pg]
kind = "postgres"
host = "$PGHOST"
port = $PGPORT
user = "$PGUSER"
dbname = "$PGDATABASE"
[sinks.lite]
kind = "sqlite"
path = "$BENCH_SQLITE_DB"
TOML
  job_toml orders_lite lite
  for r in $(seq 1 "$RUNS"); do job_toml "orders_pg_r$r" pg; done
} >"$CONF"
echo 0 >"$COUNTER"
psql -X -q -c "SET client_min_messages = warning; DROP TABLE IF EXISTS ingestd_ledger" >/dev/null

echo "load before: $(uptime)"
RESULTS=$BENCH_WORK/results-jsonl-$N-$(date +%Y%m%dT%H%M%S).jsonl
export INGESTD_LOG=info
INGESTD_PG_JSONL_CMD="sh -c 'read n <$COUNTER; n=\$((n + 1)); echo \$n >$COUNTER; exec $BIN load --config $CONF --job orders_pg_r\$n {jsonl}'" \
INGESTD_SQLITE_JSONL_CMD="$BIN load --config $CONF --job orders_lite {jsonl}" \
TOOLS=${TOOLS:-"psql_jsonl_staging ingestd_pg_jsonl py_sqlite_jsonl ingestd_sqlite_jsonl"} \
BENCH_RESULTS=$RESULTS \
  "$BENCH/peers.sh" "$N"
echo "load after: $(uptime)"

echo
python3 - "$RESULTS" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
def med(tool, key):
    v = [r[key] for r in runs if r["tool"] == tool and r.get(key) is not None]
    return statistics.median(v) if v else float("nan")
for ours, peer, goal in (("ingestd_pg_jsonl", "psql_jsonl_staging", 0.5),
                         ("ingestd_sqlite_jsonl", "py_sqlite_jsonl", 0.2)):
    a, b = med(ours, "wall_s"), med(peer, "wall_s")
    verdict = "met" if a / b <= goal else "NOT met"
    print(f"{ours} / {peer} wall time: {a:.2f} s / {b:.2f} s = {a / b:.2f}x (goal <= {goal}x: {verdict})")
for t in ("ingestd_pg_jsonl", "psql_jsonl_staging", "ingestd_sqlite_jsonl", "py_sqlite_jsonl"):
    print(f"  {t:22} CPU {med(t, 'cpu_s'):6.2f} s  server CPU {med(t, 'srv_cpu_s'):6.2f} s  peak RSS {med(t, 'maxrss_kb') / 1024:6.1f} MiB")
PY

peak_of() { # log files -> "sup X MiB, workers: a b c"
  local sup workers
  sup=$(grep -hoE 'supervisor stopped.*peak_rss_mib=[0-9.]+' "$@" | grep -oE 'peak_rss_mib=[0-9.]+' | cut -d= -f2 | sort -n | tail -1)
  workers=$(grep -hE 'pool closed' "$@" | grep -oE 'peak_rss_mib=[0-9.]+' | cut -d= -f2 | sort -n | tr '\n' ' ')
  echo "supervisor ${sup:-?} MiB; workers ${workers:-?}(MiB each)"
}
for t in ingestd_pg_jsonl ingestd_sqlite_jsonl; do
  ls "$BENCH_WORK"/logs/"$t"-"$N"-*.log >/dev/null 2>&1 \
    && echo "peak RSS per ingestd process ($t, N=$N): $(peak_of "$BENCH_WORK"/logs/"$t"-"$N"-*.log)"
done
