#!/usr/bin/env bash
# Benchmark: `ingestd load` into SQLite with typed columns against
# `sqlite3 .import` of the same generated orders CSV, in the same run, using
# the shared bench harness (../shared/bench: generator, peers' exact commands,
# GNU time, checks against the manifest).
#
# Usage: benches/sqlite.sh [N]        (default N=1000000; RUNS=3 by default)
#   BIG=5000000 also loads an N=BIG file once with ingestd alone, to compare
#   peak RSS between sizes (set BIG=0 to skip).
# Prints the peers' median table, the ingestd/sqlite3 wall-time ratio, and the
# peak RSS of every ingestd process (supervisor and each worker, from the
# exit lines they log).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N=${1:-1000000}
BIG=${BIG:-5000000}
export RUNS=${RUNS:-3}
BENCH=${BENCH_HARNESS:-$ROOT/../shared/bench}
[ -x "$BENCH/peers.sh" ] || { echo "the shared bench harness is not at $BENCH (set BENCH_HARNESS)" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "sqlite3 is missing: run $BENCH/setup.sh" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "GNU time is missing: run $BENCH/setup.sh" >&2; exit 1; }

export BENCH_WORK=${BENCH_WORK:-/tmp/ingest-bench}
mkdir -p "$BENCH_WORK"
cargo build --release --locked -q
BIN=$ROOT/target/release/ingestd

# The quick start's orders job (typed columns), pointed at the bench's
# SQLite file; the bench creates the table (schema.sqlite.sql) before each
# load, as it does for the peers.
CONF=$BENCH_WORK/ingestd-sqlite.toml
write_conf() { # db file
  sed -e "s#^state_dir = .*#state_dir = \"$BENCH_WORK/ingestd-state\"#" \
      -e "s#^path = \"var/quickstart.db\"#path = \"$1\"#" \
      -e "s#^reject_dir = .*#reject_dir = \"$BENCH_WORK/ingestd-rejects\"#" \
      -e "s#^workers = .*#workers = ${WORKERS:-2}#" \
      -e "s#^create_table = true#create_table = false#" \
      "$ROOT/conf/quickstart.toml" >"$CONF"
  # `load` replaces the job's source with the files it is given; the path
  # must still exist for the configuration to be valid.
  sed -i "s#^path = \"samples/orders\"#path = \"$ROOT/conf/samples/orders\"#" "$CONF"
  grep -q "$1" "$CONF" || { echo "could not point the quick start config at $1" >&2; exit 1; }
}
write_conf "${BENCH_SQLITE_DB:-$BENCH_WORK/bench.sqlite}"

RESULTS=$BENCH_WORK/results-sqlite-$N-$(date +%Y%m%dT%H%M%S).jsonl
export INGESTD_LOG=info
INGESTD_SQLITE_CMD="$BIN load --config $CONF --job orders {csv}" \
TOOLS="sqlite_import ingestd_sqlite" BENCH_RESULTS=$RESULTS \
  "$BENCH/peers.sh" "$N"

echo
python3 - "$RESULTS" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
def med(tool, key):
    v = [r[key] for r in runs if r["tool"] == tool and r.get(key) is not None]
    return statistics.median(v) if v else float("nan")
keys = runs[0].keys()
wall = next(k for k in ("wall", "wall_s", "seconds") if k in keys)
a, b = med("ingestd_sqlite", wall), med("sqlite_import", wall)
print(f"ingestd load / sqlite3 .import wall time: {a:.2f} s / {b:.2f} s = {a / b:.2f}x")
PY

peak_of() { # log files -> "sup X MiB, workers: a b c"
  local sup workers
  sup=$(grep -hoE 'peak_rss_mib=[0-9.]+ .*supervisor stopped|supervisor stopped.*peak_rss_mib=[0-9.]+' "$@" | grep -oE 'peak_rss_mib=[0-9.]+' | cut -d= -f2 | sort -n | tail -1)
  workers=$(grep -hE 'pool closed' "$@" | grep -oE 'peak_rss_mib=[0-9.]+' | cut -d= -f2 | sort -n | tr '\n' ' ')
  echo "supervisor ${sup:-?} MiB; workers ${workers:-?}(MiB each)"
}
echo "peak RSS per ingestd process, N=$N: $(peak_of "$BENCH_WORK"/logs/ingestd_sqlite-"$N"-*.log)"
# shellcheck disable=SC2046
python3 benches/cpu_split.py "$N" $(seq -f "$BENCH_WORK/logs/ingestd_sqlite-$N-%g.log" 1 "$RUNS")

if [ "$BIG" != 0 ]; then
  python3 "$BENCH/gen.py" "$BIG" --out "$BENCH_WORK/data" --name "orders-$BIG" --no-jsonl >/dev/null 2>&1 \
    || [ -s "$BENCH_WORK/data/orders-$BIG.csv" ]
  rm -f "$BENCH_WORK/big.sqlite"*
  sqlite3 "$BENCH_WORK/big.sqlite" <"$BENCH/schema.sqlite.sql"
  write_conf "$BENCH_WORK/big.sqlite"
  log=$BENCH_WORK/logs/ingestd-big-$BIG.log
  t0=$(date +%s.%N)
  "$BIN" load --config "$CONF" --job orders "$BENCH_WORK/data/orders-$BIG.csv" >"$log" 2>&1
  t1=$(date +%s.%N)
  rows=$(sqlite3 "$BENCH_WORK/big.sqlite" 'select count(*) from orders')
  echo "N=$BIG: $rows rows in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}') s; peak RSS: $(peak_of "$log")"
fi
