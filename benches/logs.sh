#!/usr/bin/env bash
# Benchmark: an nginx access log through `named = "nginx_combined"` into
# SQLite against the same fields loaded from a CSV file, both by `ingestd
# load` with the same typed columns, in the same run, interleaved. The goal
# (issue 12): the log load takes at most 2x the CSV load's wall time.
#
# Usage: benches/logs.sh [N]      (default N=1000000; RUNS=5 by default)
#   PERF=1 also records one log load with `perf record -g` and prints the
#   top of its profile.
# Writes the files with benches/gen_access_log.py (seeded), checks every
# load (row count, sum of bytes, NULL referers), prints the medians of wall
# time, CPU seconds (supervisor and workers) and peak RSS, and the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N=${1:-1000000}
RUNS=${RUNS:-5}
WORK=${BENCH_WORK:-/tmp/ingest-bench}/logs
mkdir -p "$WORK"
command -v sqlite3 >/dev/null || { echo "sqlite3 is missing (apt-get install sqlite3)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "GNU time is missing (apt-get install time)" >&2; exit 1; }
cargo build --release --locked -q
BIN=$ROOT/target/release/ingestd

if [ ! -s "$WORK/access-$N.log" ] || [ ! -s "$WORK/access-$N.sum" ]; then
  python3 benches/gen_access_log.py "$N" --out "$WORK" >"$WORK/access-$N.sum"
fi
read -r _ BYTES <"$WORK/access-$N.sum"
REFERERS=$(awk -F'"' '$4 == "-"' "$WORK/access-$N.log" | wc -l)

columns() { # job
  cat <<TOML
[[jobs.$1.columns]]
name = "remote_addr"
type = "text"
nullable = false
[[jobs.$1.columns]]
name = "remote_user"
type = "text"
[[jobs.$1.columns]]
name = "time"
type = "timestamptz"
format = "%d/%b/%Y:%H:%M:%S %z"
[[jobs.$1.columns]]
name = "method"
type = "text"
[[jobs.$1.columns]]
name = "path"
type = "text"
[[jobs.$1.columns]]
name = "protocol"
type = "text"
[[jobs.$1.columns]]
name = "status"
type = "int"
[[jobs.$1.columns]]
name = "bytes"
type = "bigint"
[[jobs.$1.columns]]
name = "referer"
type = "text"
[[jobs.$1.columns]]
name = "user_agent"
type = "text"
TOML
}

CONF=$WORK/ingestd-logs.toml
cat >"$CONF" <<TOML
[daemon]
state_dir = "$WORK/state"

[sinks.s]
kind = "sqlite"
path = "$WORK/bench.sqlite"

[jobs.log]
sink = "s"
table = "access"
workers = ${WORKERS:-2}
create_table = true
reject_dir = "$WORK/rejects"
[jobs.log.source]
kind = "dir"
path = "$WORK"
[jobs.log.format]
kind = "regex"
named = "nginx_combined"
$(columns log)

[jobs.csv]
sink = "s"
table = "access"
workers = ${WORKERS:-2}
create_table = true
reject_dir = "$WORK/rejects"
[jobs.csv.source]
kind = "dir"
path = "$WORK"
[jobs.csv.format]
kind = "csv"
$(columns csv)
TOML

RESULTS=$WORK/results-$N-$(date +%Y%m%dT%H%M%S).tsv
: >"$RESULTS"
one() { # job file run
  rm -f "$WORK/bench.sqlite"* && rm -rf "$WORK/state" "$WORK/rejects"
  /usr/bin/time -f "%e %U %S %M" -o "$WORK/time.out" \
    "$BIN" load --config "$CONF" --job "$1" "$2" >"$WORK/load-$1-$3.log" 2>&1
  local got
  got=$(sqlite3 "$WORK/bench.sqlite" \
    "SELECT count(*) || ' ' || sum(bytes) || ' ' || sum(referer IS NULL) FROM access")
  if [ "$got" != "$N $BYTES $REFERERS" ]; then
    echo "$1 run $3: the table holds '$got', expected '$N $BYTES $REFERERS'" >&2
    exit 1
  fi
  read -r wall user sys rss <"$WORK/time.out"
  printf '%s\t%s\t%s\t%s\n' "$1" "$wall" "$(awk -v u="$user" -v s="$sys" 'BEGIN{print u+s}')" "$rss" >>"$RESULTS"
  printf '  %-4s run %d: %6.2f s wall, %6.2f CPU s\n' "$1" "$3" "$wall" "$(awk -v u="$user" -v s="$sys" 'BEGIN{print u+s}')"
}

echo "N=$N lines: $(du -h "$WORK/access-$N.log" | cut -f1) of log, $(du -h "$WORK/access-$N.csv" | cut -f1) of CSV; $RUNS runs each, interleaved"
for r in $(seq 1 "$RUNS"); do
  one log "$WORK/access-$N.log" "$r"
  one csv "$WORK/access-$N.csv" "$r"
done

python3 - "$RESULTS" "$N" <<'PY'
import statistics, sys
rows = [l.split("\t") for l in open(sys.argv[1]) if l.strip()]
n = int(sys.argv[2])
med = {}
print(f"\n| input | seconds | rows/s | CPU s | peak RSS MiB |")
print("| --- | ---: | ---: | ---: | ---: |")
for tool, name in (("csv", "CSV, kind = \"csv\""), ("log", "access log, named = \"nginx_combined\"")):
    r = [x for x in rows if x[0] == tool]
    wall = statistics.median(float(x[1]) for x in r)
    cpu = statistics.median(float(x[2]) for x in r)
    rss = statistics.median(int(x[3]) for x in r) / 1024
    med[tool] = wall
    print(f"| {name} | {wall:.2f} | {n / wall:,.0f} | {cpu:.2f} | {rss:.1f} |")
print(f"\nlog / CSV wall time: {med['log']:.2f} s / {med['csv']:.2f} s = {med['log'] / med['csv']:.2f}x (goal: at most 2x)")
PY
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

if [ "${PERF:-0}" = 1 ]; then
  rm -f "$WORK/bench.sqlite"* && rm -rf "$WORK/state"
  perf record -q -g -o "$WORK/perf.data" "$BIN" load --config "$CONF" --job log "$WORK/access-$N.log" >/dev/null 2>&1
  perf report -i "$WORK/perf.data" --no-children --sort symbol 2>/dev/null >"$WORK/perf.txt" || true
  grep -v '^#' "$WORK/perf.txt" | grep '%' | head -25 || true
fi
