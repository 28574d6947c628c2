#!/usr/bin/env bash
# Benchmark: the NATS JetStream source (`[jobs.X.source] kind = "nats"`)
# against loading the same records from a file. N orders records as JSON
# Lines (../shared/bench/gen.py, seeded; default N=1000000) are published,
# one record per message, to stream BENCH of a private nats-server
# (publishing is done once, before the runs, and is not timed: see
# examples/nats_publish.rs). Then, RUNS (default 5) runs of each,
# interleaved, each into a fresh PostgreSQL schema:
#
#   (a) nats-1   ONE daemon (`ingestd run`) consumes the whole stream through
#                a fresh durable consumer;
#   (b) nats-3   THREE daemons (own state folders) share one fresh consumer;
#   (c) load     `ingestd load` of the JSON Lines file (the same job, format,
#                columns, workers and batch_rows, source kind "stdin").
#
# Seconds: (a), (b) from the first daemon's start until the ledger counts all
# N rows (polled every 50 ms through one long-lived psql; the ledger is
# polled, not count(*) of the table, which would cost the server more than
# the poll is worth); (c) the wall time of the command, which ends once
# everything is committed. Every run is then checked: count(*) and
# count(DISTINCT id) of the table must be N. CPU seconds of the ingestd
# processes (supervisors and workers), of the PostgreSQL server and, for
# (a) and (b), of nats-server over the same interval, from /proc. Prints one
# table of medians and the ratios (a)/(c), (b)/(c).
#
# Usage: benches/nats.sh [N]       (run from anywhere; builds target/release)
#   N=100000 RUNS=1 benches/nats.sh       # a quick check
#   NATS_PG_URL   PostgreSQL (default postgres://postgres@127.0.0.1:5432/test);
#                 the script makes schemas of its own there and drops them
#   WORKERS       workers per daemon and for the load (default 2)
#   BATCH_ROWS    default 10000
#   NATS_VARIANTS default "nats-1 nats-3 load"
#   NATS_KEEP=1   keep the scratch folder (configs, daemons' logs, server log)
#   BENCH_WORK    where the generated orders file is kept between runs
#                 (default /tmp/ingest-bench; data/orders-N.jsonl)
# Needs psql, python3 (standard library only) and nats-server (Debian:
# apt-get install -y nats-server; the system service, if any, is not used).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N=${1:-${N:-1000000}}
RUNS=${RUNS:-5}
PG_URL=${NATS_PG_URL:-postgres://postgres@127.0.0.1:5432/test}
WORKERS=${WORKERS:-2}
BATCH_ROWS=${BATCH_ROWS:-10000}
VARIANTS=${NATS_VARIANTS:-nats-1 nats-3 load}
STALL=${NATS_STALL_SECONDS:-60}
DATA=${BENCH_WORK:-/tmp/ingest-bench}/data
SEED=${SEED:-42}
GEN=${BENCH_HARNESS:-$ROOT/../shared/bench}/gen.py
T_START=$(date +%s)

need() { command -v "$1" >/dev/null || { echo "$1 is missing ($2)" >&2; exit 1; }; }
need psql "apt-get install postgresql-client"
need python3 "apt-get install python3"
need nats-server "apt-get install nats-server"
[ -f "$GEN" ] || { echo "gen.py not found at $GEN (set BENCH_HARNESS)" >&2; exit 1; }
psql -X -q -At "$PG_URL" -c 'SELECT 1' >/dev/null \
  || { echo "cannot reach PostgreSQL at $PG_URL (set NATS_PG_URL)" >&2; exit 1; }

cargo build --release --locked -q
cargo build --release --locked -q --example nats_publish
BIN=$ROOT/target/release/ingestd
PUBLISH=$ROOT/target/release/examples/nats_publish

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ingestd-nats.XXXXXX")
TAG=natsbench_$$
PIDS=()
NATS_PID=
cleanup() {
  local p c
  for p in "${PIDS[@]}"; do
    for c in $(pgrep -P "$p" 2>/dev/null); do kill -9 "$c" 2>/dev/null || true; done
    kill -9 "$p" 2>/dev/null || true
  done
  [ -n "$NATS_PID" ] && kill -9 "$NATS_PID" 2>/dev/null || true
  for s in $(psql -X -At "$PG_URL" -c "SELECT nspname FROM pg_namespace WHERE nspname LIKE '${TAG}%'" 2>/dev/null); do
    psql -X -q "$PG_URL" -c "SET client_min_messages = warning" \
      -c "DROP SCHEMA IF EXISTS $s CASCADE" >/dev/null 2>&1 || true
  done
  if [ "${NATS_KEEP:-0}" = 1 ]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pgq() { psql -X -q -At -F' ' -v ON_ERROR_STOP=1 "$PG_URL" -c "SET client_min_messages = warning" -c "$1"; }
PM_PID=$(head -1 "$(pgq 'SHOW data_directory')/postmaster.pid" 2>/dev/null || true)

# ---------------------------------------------------------------- helpers (Python)
PY=$TMP/natsbench.py
cat >"$PY" <<'PYEOF'
"""Poller, CPU readings, timed command and report of benches/nats.sh."""
import argparse, json, os, resource, socket, statistics, subprocess, sys, time

def waitcount(a):
    """Polls a count through one psql until it reaches `target`; prints the
    seconds since `start` (None when it stalled for `stall` seconds)."""
    p = subprocess.Popen(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=0", a.pg],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, bufsize=1)
    last_v, last_change = None, time.time()
    while True:
        t = time.time()
        p.stdin.write(a.sql + ";\n\\echo __END__\n")
        p.stdin.flush()
        v = 0
        for line in p.stdout:
            line = line.strip()
            if line == "__END__":
                break
            if line.isdigit():
                v = int(line)
        if v >= a.target:
            print(json.dumps({"seconds": t - a.start, "value": v}))
            return 0
        if v != last_v:
            last_v, last_change = v, t
        elif t - last_change > a.stall:
            print(json.dumps({"seconds": None, "value": v}))
            return 1
        time.sleep(a.interval)


def run(a):
    """Runs a command; prints its wall seconds, its CPU seconds (with the
    children it reaped: ingestd reaps its workers) and its exit code."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    with open(a.log, "a") as log:
        cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
        code = subprocess.call(cmd, stdout=log, stderr=log)
    wall = time.time() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print("%.3f %.2f %d" % (wall, used, code))


def port(a):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])


def report(a):
    rows = [l.rstrip("\n").split("\t") for l in open(a.results)]
    m = dict(l.rstrip("\n").split("\t", 1) for l in open(a.meta) if "\t" in l)
    n = int(m["n"])
    names = {"nats-1": "(a) NATS stream, 1 daemon",
             "nats-3": "(b) NATS stream, 3 daemons, one consumer",
             "load": "(c) `ingestd load` of the JSON Lines file"}
    out = ["### NATS JetStream source (benches/nats.sh)", "",
           "Machine: %s CPUs (%s), %s; %s; %s; ingestd %s; %s; load average %s; the whole run "
           "took %s s." % (m["nproc"], m["cpu"], m["kernel"], m["pg"], m["nats"], m["rev"],
                           m["date"], m["load"], m["total_s"]), "",
           "%s orders records (%s as JSON Lines), one record per message on the stream "
           "(published beforehand in %s); into PostgreSQL, 8 typed columns, %s workers per "
           "daemon, batch_rows %s; median of %s interleaved run(s) each, fresh schema and "
           "fresh consumer per run." % (format(n, ","), m["size"], m["publish"], m["workers"],
                                         m["batch_rows"], m["runs"]), "",
           "| variant | seconds | rows/s | ingestd CPU s | PostgreSQL CPU s | nats-server CPU s "
           "| runs ok |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    med = {}
    for v in ("nats-1", "nats-3", "load"):
        rs = [r for r in rows if r[0] == v]
        if not rs:
            continue
        ok = [r for r in rs if r[2] != "nan"]
        def md(i):
            x = [float(r[i]) for r in ok if r[i] != "nan"]
            return statistics.median(x) if x else float("nan")
        med[v] = md(2)
        nats = md(5)
        out.append("| %s | %.2f | %s | %.2f | %.2f | %s | %d of %d |" % (
            names[v], med[v], format(round(n / med[v]), ",") if med[v] == med[v] else "nan",
            md(3), md(4), "%.2f" % nats if nats == nats else "-", len(ok), len(rs)))
    out.append("")
    for v in ("nats-1", "nats-3"):
        if v in med and "load" in med:
            out.append("%s / (c): %.2fx the file load's time" % (names[v][:3], med[v] / med["load"]))
    print("\n".join(out))


ap = argparse.ArgumentParser()
sp = ap.add_subparsers(dest="sub", required=True)
w = sp.add_parser("waitcount")
w.add_argument("--pg", required=True); w.add_argument("--sql", required=True)
w.add_argument("--target", type=int, required=True); w.add_argument("--start", type=float, required=True)
w.add_argument("--stall", type=float, default=60); w.add_argument("--interval", type=float, default=0.05)
r = sp.add_parser("run"); r.add_argument("--log", required=True); r.add_argument("cmd", nargs=argparse.REMAINDER)
sp.add_parser("port")
p = sp.add_parser("report"); p.add_argument("--results", required=True); p.add_argument("--meta", required=True)
args = ap.parse_args()
sys.exit({"waitcount": waitcount, "run": run, "port": port, "report": report}[args.sub](args) or 0)
PYEOF
py() { python3 "$PY" "$@"; }
cpu_of() { python3 "$ROOT/benches/proc_cpu.py" "$@"; }
pgcpu() { if [ -n "$PM_PID" ]; then cpu_of "$PM_PID"; else echo nan; fi; }
minus() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a == "nan" || b == "nan") print "nan"; else printf "%.2f", a - b }'; }

# ---------------------------------------------------------------- data and stream
JSONL=$DATA/orders-$N.jsonl
MANIFEST=$DATA/orders-$N.manifest.json
if ! { [ -s "$JSONL" ] && [ -s "$MANIFEST" ] && python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); sys.exit(0 if m["rows_good"]==int(sys.argv[2]) and m["seed"]==int(sys.argv[3]) else 1)' "$MANIFEST" "$N" "$SEED"; }; then
  mkdir -p "$DATA"
  echo "generating $N orders records into $DATA (cached for later runs)"
  python3 "$GEN" "$N" --out "$DATA" --name "orders-$N" --seed "$SEED" >/dev/null
fi
SIZE=$(du -h --apparent-size "$JSONL" | cut -f1)B

NATS_PORT=$(py port)
NATS_URL=nats://127.0.0.1:$NATS_PORT
nats-server -a 127.0.0.1 -p "$NATS_PORT" -js -sd "$TMP/nats-store" >"$TMP/nats-server.log" 2>&1 &
NATS_PID=$!
disown "$NATS_PID"  # killed by cleanup, without the shell's "Killed" notice
for _ in $(seq 1 100); do grep -q 'Server is ready' "$TMP/nats-server.log" && break; sleep 0.05; done
grep -q 'Server is ready' "$TMP/nats-server.log" || { cat "$TMP/nats-server.log" >&2; exit 1; }
echo "publishing $N records ($SIZE) to stream BENCH at $NATS_URL (not timed)"
PUBLISHED=$("$PUBLISH" --url "$NATS_URL" --stream BENCH --subject bench.orders --create "$JSONL")
echo "  $PUBLISHED"
PUBLISH_S=$(echo "$PUBLISHED" | sed -nE 's/.* in ([0-9.]+ s).*/\1/p')

# ---------------------------------------------------------------- one run
columns() { # JOB
  local c
  for c in id:bigint customer_id:int customer_name:text amount:decimal\(12,2\) \
           currency:varchar\(3\) created_at:timestamp status:text note:text; do
    printf '[[jobs.%s.columns]]\nname = "%s"\ntype = "%s"\n' "$1" "${c%%:*}" "${c#*:}"
  done
}
conf() { # FILE DIR SCHEMA SOURCE_TOML
  cat >"$1" <<TOML
[daemon]
state_dir = "$2/state"
progress_interval = "0s"

[sinks.pg]
kind = "postgres"
url = "$PG_URL"
schema = "$3"

[jobs.orders]
sink = "pg"
table = "orders"
create_table = true
reject_dir = "$2/rejects"
workers = $WORKERS
batch_rows = $BATCH_ROWS

[jobs.orders.source]
$4

[jobs.orders.format]
kind = "jsonl"

TOML
  columns orders >>"$1"
  "$BIN" check --config "$1" >/dev/null || { "$BIN" check --config "$1"; exit 1; }
}
RESULTS=$TMP/results.tsv
: >"$RESULTS"
one() { # VARIANT RUN
  local v=$1 r=$2 schema=${TAG}_${1//-/_}_$2 dir=$TMP/$1-$2 secs cpu srv srv0 got res nats=nan nats0
  local hosts=1 h pids=() t0 code
  mkdir -p "$dir"
  pgq "DROP SCHEMA IF EXISTS $schema CASCADE" && pgq "CREATE SCHEMA $schema"
  [ "$v" = nats-3 ] && hosts=3
  if [ "$v" = load ]; then
    conf "$dir/load.toml" "$dir" "$schema" 'kind = "stdin"'
    srv0=$(pgcpu)
    read -r secs cpu code < <(py run --log "$dir/load.log" -- "$BIN" load --config "$dir/load.toml" --job orders "$JSONL")
    srv=$(minus "$(pgcpu)" "$srv0")
    [ "$code" = 0 ] || { echo "  load run $r: exit $code; $(tail -3 "$dir/load.log")" >&2; secs=nan; }
  else
    for h in $(seq 1 "$hosts"); do
      mkdir -p "$dir/h$h"
      conf "$dir/h$h/ingestd.toml" "$dir/h$h" "$schema" "kind = \"nats\"
url = \"$NATS_URL\"
stream = \"BENCH\"
consumer = \"bench_${v//-/_}_$r\"
filter_subject = \"bench.orders\""
    done
    srv0=$(pgcpu)
    nats0=$(cpu_of "$NATS_PID")
    t0=$(date +%s.%N)
    for h in $(seq 1 "$hosts"); do
      INGESTD_LOG=info "$BIN" run --config "$dir/h$h/ingestd.toml" >>"$dir/h$h/ingestd.log" 2>&1 &
      pids+=($!)
      PIDS+=($!)
    done
    if res=$(py waitcount --pg "$PG_URL" --target "$N" --start "$t0" --stall "$STALL" \
        --sql "SELECT coalesce(sum(rows_loaded), 0) FROM $schema.ingestd_ledger"); then
      secs=$(python3 -c 'import json,sys; print("%.3f" % json.loads(sys.argv[1])["seconds"])' "$res")
    else
      secs=nan
      echo "  $v run $r: stalled at $(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["value"])' "$res") of $N rows for ${STALL}s; last log lines:" >&2
      tail -5 "$dir"/h*/ingestd.log >&2
    fi
    cpu=$(cpu_of "${pids[@]}")
    srv=$(minus "$(pgcpu)" "$srv0")
    nats=$(minus "$(cpu_of "$NATS_PID")" "$nats0")
    for h in "${pids[@]}"; do kill -TERM "$h" 2>/dev/null || true; done
    for h in "${pids[@]}"; do wait "$h" 2>/dev/null || true; done
    PIDS=()
  fi
  got=$(pgq "SELECT count(*), count(DISTINCT id) FROM $schema.orders" 2>/dev/null || echo "no table")
  if [ "$got" != "$N $N" ]; then
    echo "  $v run $r: the table holds (rows, distinct ids) = ($got), expected ($N $N)" >&2
    secs=nan
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$v" "$r" "$secs" "$cpu" "$srv" "$nats" >>"$RESULTS"
  printf '  %-7s run %d: %8s s  %9s rows/s  ingestd CPU %6s s  PostgreSQL CPU %6s s  nats-server CPU %6s s\n' \
    "$v" "$r" "$secs" \
    "$(awk -v n="$N" -v s="$secs" 'BEGIN{ if (s == "nan" || s + 0 == 0) print "nan"; else printf "%.0f", n / s }')" \
    "$cpu" "$srv" "$nats"
  pgq "DROP SCHEMA $schema CASCADE"
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo
echo "== $N records, $RUNS run(s) of each of: $VARIANTS (interleaved)"
for r in $(seq 1 "$RUNS"); do
  for v in $VARIANTS; do one "$v" "$r"; done
done

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
git -C "$ROOT" diff --quiet HEAD -- src 2>/dev/null || REV="$REV + uncommitted changes in src/"
{
  printf 'nproc\t%s\n' "$(nproc)"
  printf 'cpu\t%s\n' "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
  printf 'kernel\tLinux %s\n' "$(uname -r)"
  printf 'pg\tPostgreSQL %s\n' "$(pgq 'SHOW server_version' | sed 's/ .*//')"
  printf 'nats\t%s\n' "$(nats-server --version | sed 's/^nats-server: v/nats-server /')"
  printf 'rev\t%s\n' "$REV"
  printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
  printf 'n\t%s\nruns\t%s\nsize\t%s\n' "$N" "$RUNS" "$SIZE"
  printf 'workers\t%s\nbatch_rows\t%s\npublish\t%s\n' "$WORKERS" "$BATCH_ROWS" "${PUBLISH_S:-?}"
  printf 'load\t%s before, %s after\n' "$LOAD_BEFORE" "$LOAD_AFTER"
  printf 'total_s\t%s\n' "$(( $(date +%s) - T_START ))"
} >"$TMP/meta.tsv"
echo
py report --results "$RESULTS" --meta "$TMP/meta.tsv"
