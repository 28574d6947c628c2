#!/usr/bin/env bash
# Benchmark: the same generated orders CSV loaded into SQLite by `ingestd
# load` as it is, gzip-compressed and zstd-compressed, interleaved runs,
# medians; every load is checked to give the same table (row count, NULL
# count, sum of amounts, a checksum over all values) as the plain one.
#
# Usage: benches/compressed.sh [N]     (default N=1000000; RUNS=5 by default)
# Prints the median wall time of each and the ratios against the plain file.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N=${1:-1000000}
RUNS=${RUNS:-5}
BENCH=${BENCH_HARNESS:-$ROOT/../shared/bench}
[ -x "$BENCH/gen.py" ] || { echo "the shared bench harness is not at $BENCH (set BENCH_HARNESS)" >&2; exit 1; }
for t in sqlite3 gzip zstd; do
  command -v $t >/dev/null || { echo "$t is missing (apt-get install $t)" >&2; exit 1; }
done
WORK=${BENCH_WORK:-/tmp/ingest-bench}
mkdir -p "$WORK/data" "$WORK/logs"
cargo build --release --locked -q
BIN=$ROOT/target/release/ingestd

CSV=$WORK/data/orders-$N.csv
[ -s "$CSV" ] || python3 "$BENCH/gen.py" "$N" --out "$WORK/data" --name "orders-$N" --no-jsonl >/dev/null
[ -s "$CSV.gz" ] || gzip -k -6 -c "$CSV" >"$CSV.gz"
[ -s "$CSV.zst" ] || zstd -q -3 -c "$CSV" >"$CSV.zst"
ls -l "$CSV" "$CSV.gz" "$CSV.zst"

CONF=$WORK/ingestd-compressed.toml
DB=$WORK/compressed.sqlite
sed -e "s#^state_dir = .*#state_dir = \"$WORK/ingestd-state-c\"#" \
    -e "s#^path = \"var/quickstart.db\"#path = \"$DB\"#" \
    -e "s#^reject_dir = .*#reject_dir = \"$WORK/ingestd-rejects-c\"#" \
    -e "s#^workers = .*#workers = ${WORKERS:-2}#" \
    -e "s#^create_table = true#create_table = false#" \
    -e "s#^path = \"samples/orders\"#path = \"$ROOT/conf/samples/orders\"#" \
    "$ROOT/conf/quickstart.toml" >"$CONF"
grep -q "$DB" "$CONF" || { echo "could not point the quick start config at $DB" >&2; exit 1; }

TIMES=$WORK/compressed-$N.tsv
: >"$TIMES"
for r in $(seq 1 "$RUNS"); do
  for f in "$CSV" "$CSV.gz" "$CSV.zst"; do
    rm -rf "$DB"* "$WORK/ingestd-state-c"
    sqlite3 "$DB" <"$BENCH/schema.sqlite.sql"
    kind=${f##*.}
    log=$WORK/logs/compressed-$kind-$N-$r.log
    t0=$(date +%s.%N)
    "$BIN" load --config "$CONF" --job orders "$f" >"$log" 2>&1
    t1=$(date +%s.%N)
    sum=$(sqlite3 "$DB" "select count(*), count(note), sum(cast(round(amount * 100) as integer)), \
      sum(length(id || customer_id || customer_name || currency || created_at || status || coalesce(note,''))) from orders")
    printf '%s\t%s\t%s\n' "$kind" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')" "$sum" >>"$TIMES"
  done
done

python3 - "$TIMES" "$N" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
kinds = ["csv", "gz", "zst"]
sums = {k: {r[2] for r in rows if r[0] == k} for k in kinds}
base = sums["csv"]
assert len(base) == 1, f"plain loads differ among themselves: {base}"
for k in kinds:
    assert sums[k] == base, f"{k} loaded {sums[k]}, plain {base}"
    assert next(iter(base)).startswith(sys.argv[2] + "|"), base
med = {k: statistics.median(float(r[1]) for r in rows if r[0] == k) for k in kinds}
print(f"every load gave the same table: {next(iter(base))}")
for k in kinds:
    print(f"{k:4} median {med[k]:.2f} s  ({med[k] / med['csv']:.2f}x plain)  runs: "
          + " ".join(r[1] for r in rows if r[0] == k))
PY
