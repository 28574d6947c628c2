#!/usr/bin/env bash
# Benchmark: `ingestd run` with a tail source (`[jobs.X.source] kind = "tail"`)
# following a growing JSON Lines log, and rsyslog (imfile + ompgsql) following
# the same kind of log into PostgreSQL. Three parts, printed as one report:
#
#   1. latency: a writer appends one record every 50 ms for
#      TAIL_LATENCY_SECONDS (default 60); each record carries its sequence
#      number and its write time (`written_at`, microseconds since the epoch).
#      A poller in a separate process asks the table every ~5 ms for the rows
#      it has not seen yet and notes the wall time at which each sequence
#      number first became visible. Write -> visible p50/p99/max, ingestd into
#      SQLite and into PostgreSQL (one after the other, defaults otherwise:
#      batch_linger 200ms, 2 workers).
#   2. throughput: N orders records as JSON Lines (../shared/bench/gen.py,
#      seeded; default N=1000000), written completely BEFORE the consumer
#      starts and then followed from its beginning by each consumer: ingestd
#      into PostgreSQL (8 typed columns, binary COPY) and rsyslog (the raw
#      line into one text column, one INSERT per line in ompgsql's
#      transactions). Seconds from the consumer's start until all N rows are
#      visible (polled every 50 ms); RUNS (default 3) runs each, interleaved;
#      medians, with the consumer's and the PostgreSQL server's CPU seconds.
#   3. crash: a writer appends TAIL_CRASH_RECORDS (default 20000) records at
#      TAIL_CRASH_RATE (default 2000) per second; halfway the consumer is
#      killed with SIGKILL (ingestd: the supervisor and its workers at once;
#      rsyslog: rsyslogd) and restarted 1 s later; once everything is written
#      and the table has stopped changing for 5 s, duplicated and missing
#      sequence numbers are counted.
#
# Usage: benches/tail.sh [N]       (run from anywhere; builds target/release)
#   N=100000 RUNS=1 TAIL_LATENCY_SECONDS=10 benches/tail.sh   # a quick check
#   TAIL_PG_URL      PostgreSQL (default postgres://postgres@127.0.0.1:5432/test);
#                    the script makes schemas of its own there and drops them
#   TAIL_SECTIONS    default "latency throughput crash"
#   TAIL_RSYSLOG_INPUT_OPTS  extra imfile input() parameters, e.g.
#                    'persistStateAfterSubmission="on"' (default: none, i.e.
#                    rsyslog's defaults)
#   TAIL_SKIP_RSYSLOG=1  ingestd only
#   TAIL_KEEP=1      keep the scratch folder (configs, daemons' logs)
#   BENCH_WORK       where the generated orders file is kept between runs
#                    (default /tmp/ingest-bench; data/orders-N.jsonl, as the
#                    shared harness names it)
# Needs psql, sqlite3, python3 (standard library only: PostgreSQL is queried
# through a long-lived psql process), and the Debian packages rsyslog and
# rsyslog-pgsql (apt-get install -y rsyslog rsyslog-pgsql). The system
# rsyslog service is neither needed nor touched: the script runs its own
# `rsyslogd -n -f CONF -i PIDFILE` with its own work directory.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N=${1:-${N:-1000000}}
RUNS=${RUNS:-3}
LAT_SECONDS=${TAIL_LATENCY_SECONDS:-60}
LAT_INTERVAL_MS=50
CRASH_RECORDS=${TAIL_CRASH_RECORDS:-20000}
CRASH_RATE=${TAIL_CRASH_RATE:-2000}
PG_URL=${TAIL_PG_URL:-postgres://postgres@127.0.0.1:5432/test}
SECTIONS=${TAIL_SECTIONS:-latency throughput crash}
RS_INPUT_OPTS=${TAIL_RSYSLOG_INPUT_OPTS:-}
STALL=${TAIL_STALL_SECONDS:-60}
DATA=${BENCH_WORK:-/tmp/ingest-bench}/data
SEED=${SEED:-42}
GEN=${BENCH_HARNESS:-$ROOT/../shared/bench}/gen.py
T_START=$(date +%s)

need() { command -v "$1" >/dev/null || { echo "$1 is missing ($2)" >&2; exit 1; }; }
need psql "apt-get install postgresql-client"
need sqlite3 "apt-get install sqlite3"
need python3 "apt-get install python3"
psql -X -q -At "$PG_URL" -c 'SELECT 1' >/dev/null \
  || { echo "cannot reach PostgreSQL at $PG_URL (set TAIL_PG_URL)" >&2; exit 1; }
RSYSLOG=1
if [ "${TAIL_SKIP_RSYSLOG:-0}" = 1 ]; then
  RSYSLOG=0
elif ! command -v rsyslogd >/dev/null || ! ls /usr/lib/*/rsyslog/ompgsql.so >/dev/null 2>&1; then
  echo "rsyslogd or its ompgsql module is missing: apt-get install -y rsyslog rsyslog-pgsql" >&2
  echo "(the system service need not run; or set TAIL_SKIP_RSYSLOG=1)" >&2
  exit 1
fi
case " $SECTIONS " in *" throughput "*) [ -f "$GEN" ] || { echo "gen.py not found at $GEN (set BENCH_HARNESS)" >&2; exit 1; } ;; esac

cargo build --release --locked -q
BIN=$ROOT/target/release/ingestd

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ingestd-tail.XXXXXX")
TAG=tailbench_$$
PIDS=()
cleanup() {
  local p c
  for p in "${PIDS[@]}"; do
    for c in $(pgrep -P "$p" 2>/dev/null); do kill -9 "$c" 2>/dev/null || true; done
    kill -9 "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  for s in "${TAG}_lat" "${TAG}_ing" "${TAG}_rs"; do
    psql -X -q "$PG_URL" -c "SET client_min_messages = warning" \
      -c "DROP SCHEMA IF EXISTS $s CASCADE" >/dev/null 2>&1 || true
  done
  if [ "${TAIL_KEEP:-0}" = 1 ]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
forget() { # PID: no longer ours to kill
  local keep=() p
  for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

pgq() { psql -X -q -At -F' ' -v ON_ERROR_STOP=1 "$PG_URL" -c "SET client_min_messages = warning" -c "$1"; }
fresh_schema() { pgq "DROP SCHEMA IF EXISTS $1 CASCADE" && pgq "CREATE SCHEMA $1"; }
PM_PID=$(head -1 "$(pgq 'SHOW data_directory')/postmaster.pid" 2>/dev/null || true)

# ---------------------------------------------------------------- helpers (Python)
PY=$TMP/tailbench.py
cat >"$PY" <<'PYEOF'
"""Writer, pollers and report of benches/tail.sh (standard library only)."""
import argparse, json, math, os, statistics, subprocess, sys, time


class Psql:
    """One long-lived psql: a query's end is marked by an \\echo after it."""
    def __init__(self, url, errlog):
        self.p = subprocess.Popen(
            ["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=0", url],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=open(errlog, "a"), text=True, bufsize=1)

    def rows(self, sql):
        self.p.stdin.write(sql.rstrip().rstrip(";") + ";\n\\echo __END__\n")
        self.p.stdin.flush()
        out = []
        for line in self.p.stdout:
            line = line.rstrip("\n")
            if line == "__END__":
                return out
            if line:
                out.append(line.split("\t"))
        raise SystemExit("psql went away")

    def value(self, sql):
        r = self.rows(sql)
        return int(r[0][0]) if r and r[0][0] not in ("",) else 0


class Lite:
    def __init__(self, path):
        import sqlite3
        self.sqlite3, self.path, self.db = sqlite3, path, None

    def rows(self, sql):
        if self.db is None:
            if not os.path.exists(self.path):
                return []
            self.db = self.sqlite3.connect("file:%s?mode=ro" % self.path, uri=True,
                                           timeout=1.0, isolation_level=None)
        try:
            return [list(map(str, r)) for r in self.db.execute(sql)]
        except self.sqlite3.OperationalError:  # no table yet, or busy
            return []


def pct(v, p):
    if not v:
        return float("nan")
    s = sorted(v)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def writer(a):
    """Appends records {seq, written_at, msg} at `rate` per second, each line
    in whole with one write() (several lines per write at high rates)."""
    fd = os.open(a.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    pad = "x" * a.pad
    start = time.time()
    n = 0
    while n < a.count:
        due = min(a.count, int((time.time() - start) * a.rate) + 1)
        lines = []
        while n < due:
            n += 1
            lines.append('{"seq":%d,"written_at":%d,"msg":"%s"}\n'
                         % (n, time.time_ns() // 1000, pad))
        if lines:
            os.write(fd, "".join(lines).encode())
        wait = start + n / a.rate - time.time()
        if wait > 0 and n < a.count:
            time.sleep(max(wait, a.tick))
    os.close(fd)
    el = time.time() - start
    json.dump({"written": n, "seconds": el, "rate": n / el if el else 0}, sys.stdout)
    print()


def latency(a):
    """Polls for rows not seen yet; a row's visibility time is the start of
    the first query that returned it (so it is late by at most one poll
    period plus one query)."""
    db = Lite(a.sqlite) if a.sqlite else Psql(a.pg, a.errlog)
    sql = "SELECT seq, written_at FROM %s WHERE seq > %%d" % a.table
    seen, low, periods, qtimes = {}, 0, [], []
    last = None
    done_at = None
    while low < a.count:
        t0 = time.time()
        rows = db.rows(sql % low)
        t1 = time.time()
        for seq, w in rows:
            seq = int(seq)
            if seq not in seen:
                seen[seq] = (t0 * 1e6 - int(w)) / 1000.0
        while low + 1 in seen:
            low += 1
        if last is not None:
            periods.append((t0 - last) * 1000)
        qtimes.append((t1 - t0) * 1000)
        last = t0
        if done_at is None and os.path.exists(a.done):
            done_at = t0
        if done_at is not None and t0 - done_at > a.grace:
            break
        pause = t0 + a.interval / 1000.0 - time.time()
        if pause > 0:
            time.sleep(pause)
    lat = list(seen.values())
    json.dump({"records": a.count, "seen": len(seen),
               "missing": a.count - len([s for s in seen if 1 <= s <= a.count]),
               "p50_ms": pct(lat, 50), "p90_ms": pct(lat, 90), "p99_ms": pct(lat, 99),
               "max_ms": max(lat) if lat else float("nan"),
               "min_ms": min(lat) if lat else float("nan"),
               "poll_period_p50_ms": pct(periods, 50), "poll_period_p99_ms": pct(periods, 99),
               "poll_period_max_ms": max(periods) if periods else float("nan"),
               "query_p50_ms": pct(qtimes, 50)}, sys.stdout)
    print()


def waitcount(a):
    """Polls a count until it reaches `target`: prints the seconds since `start`."""
    db = Psql(a.pg, a.errlog)
    last_v, last_change = None, time.time()
    while True:
        t = time.time()
        v = db.value(a.sql)
        if v >= a.target:
            json.dump({"seconds": t - a.start, "value": v}, sys.stdout)
            print()
            return 0
        if v != last_v:
            last_v, last_change = v, t
        elif t - last_change > a.stall:
            json.dump({"seconds": None, "value": v, "stalled_s": a.stall}, sys.stdout)
            print()
            return 1
        time.sleep(a.interval)


def settle(a):
    """Waits until a count has not changed for `quiet` seconds; prints it."""
    db = Psql(a.pg, a.errlog)
    start = time.time()
    last_v, since = None, time.time()
    while True:
        v = db.value(a.sql)
        t = time.time()
        if v != last_v:
            last_v, since = v, t
        elif t - since >= a.quiet:
            break
        if t - start > a.timeout:
            break
        time.sleep(0.5)
    print(last_v)


def report(a):
    lat = {}
    for line in open(a.latency) if os.path.exists(a.latency) else []:
        k, v = line.rstrip("\n").split("\t", 1)
        lat[k] = json.loads(v)
    tp = [l.rstrip("\n").split("\t") for l in open(a.throughput)] if os.path.exists(a.throughput) else []
    crash = [l.rstrip("\n").split("\t") for l in open(a.crash)] if os.path.exists(a.crash) else []
    m = dict(l.rstrip("\n").split("\t", 1) for l in open(a.meta) if "\t" in l)
    out = []
    p = out.append
    p("### Tail source: latency, throughput, crash (benches/tail.sh)")
    p("")
    p("Machine: %s CPUs (%s), %s; %s; %s; ingestd %s; %s; load average %s; "
      "the whole run took %s s."
      % (m["nproc"], m["cpu"], m["kernel"], m["pg"], m["rsyslog"], m["rev"], m["date"],
         m["load"], m["total_s"]))
    p("")
    if lat:
        r0 = next(iter(lat.values()))
        p("Latency, write -> visible in the table: one JSON Lines record every %s ms for %s s "
          "(%d records), ingestd `run` with its defaults (batch_linger 200ms, 2 workers); "
          "a separate process polls the table every ~5 ms for rows it has not seen and "
          "notes when each sequence number first shows (figures are late by at most one "
          "poll period)."
          % (m["lat_interval_ms"], m["lat_seconds"], r0["records"]))
        p("")
        p("| target | p50 ms | p99 ms | max ms | records seen | poll period p50 / p99 ms |")
        p("| --- | ---: | ---: | ---: | ---: | ---: |")
        for k, r in lat.items():
            p("| ingestd -> %s | %.0f | %.0f | %.0f | %d of %d | %.1f / %.1f |"
              % (k, r["p50_ms"], r["p99_ms"], r["max_ms"], r["seen"], r["records"],
                 r["poll_period_p50_ms"], r["poll_period_p99_ms"]))
        p("")
    if tp:
        p("Throughput: a %s-record orders JSON Lines log (%s), written completely before the "
          "consumer starts and followed from its beginning; seconds from the consumer's "
          "start until all records are visible (polled every 50 ms); median of %s interleaved "
          "run(s) each. rsyslog: imfile in inotify mode, ompgsql with rsyslog's default "
          "queue and batch settings; ingestd: defaults (2 workers, batch_rows 10000)."
          % (format(int(m["n"]), ","), m["log_size"], m["runs"]))
        p("")
        p("| tool | into PostgreSQL | seconds | records/s | consumer CPU s | server CPU s | runs ok |")
        p("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
        names = {"ingestd": ("ingestd run, tail source", "8 typed columns (binary COPY)"),
                 "rsyslog": ("rsyslog %s imfile + ompgsql" % m["rsyslog_short"],
                             "raw line into one text column (one INSERT per line)")}
        for tool in ("ingestd", "rsyslog"):
            rows = [r for r in tp if r[0] == tool]
            if not rows:
                continue
            ok = [r for r in rows if r[2] != "nan"]
            def med(i):
                v = [float(r[i]) for r in ok if r[i] != "nan"]
                return statistics.median(v) if v else float("nan")
            secs = med(2)
            p("| %s | %s | %.2f | %s | %.2f | %.2f | %d of %d |"
              % (names[tool][0], names[tool][1], secs,
                 format(round(int(m["n"]) / secs), ",") if secs == secs else "nan",
                 med(3), med(4), len(ok), len(rows)))
        p("")
    if crash:
        p("Crash: a writer appends %s records at %s/s; after %s s the consumer is killed "
          "with SIGKILL (ingestd: supervisor and workers), restarted 1 s later; counted once "
          "the table has not changed for 5 s. rsyslog with its defaults%s."
          % (format(int(m["crash_records"]), ","), format(int(m["crash_rate"]), ","),
             m["crash_kill_after"],
             (" plus " + m["rs_opts"]) if m["rs_opts"] else
             " (imfile's state file is written at shutdown only; in-memory queues)"))
        p("")
        p("| tool | rows in the table | duplicated seqs (extra rows) | lost seqs |")
        p("| --- | ---: | ---: | ---: |")
        for tool, rows, dseq, extra, lost in crash:
            name = "ingestd -> PostgreSQL" if tool == "ingestd" else "rsyslog imfile + ompgsql"
            p("| %s | %s | %s (%s) | %s |" % (name, rows, dseq, extra, lost))
        p("")
    print("\n".join(out))


def main():
    ap = argparse.ArgumentParser()
    sp = ap.add_subparsers(dest="cmd", required=True)
    w = sp.add_parser("writer")
    w.add_argument("path"); w.add_argument("--rate", type=float, required=True)
    w.add_argument("--count", type=int, required=True)
    w.add_argument("--pad", type=int, default=60); w.add_argument("--tick", type=float, default=0.005)
    l = sp.add_parser("latency")
    l.add_argument("--sqlite"); l.add_argument("--pg"); l.add_argument("--table", required=True)
    l.add_argument("--count", type=int, required=True); l.add_argument("--done", required=True)
    l.add_argument("--grace", type=float, default=15.0); l.add_argument("--interval", type=float, default=5.0)
    l.add_argument("--errlog", default=os.devnull)
    c = sp.add_parser("waitcount")
    c.add_argument("--pg", required=True); c.add_argument("--sql", required=True)
    c.add_argument("--target", type=int, required=True); c.add_argument("--start", type=float, required=True)
    c.add_argument("--stall", type=float, default=60); c.add_argument("--interval", type=float, default=0.05)
    c.add_argument("--errlog", default=os.devnull)
    s = sp.add_parser("settle")
    s.add_argument("--pg", required=True); s.add_argument("--sql", required=True)
    s.add_argument("--quiet", type=float, default=5); s.add_argument("--timeout", type=float, default=180)
    s.add_argument("--errlog", default=os.devnull)
    r = sp.add_parser("report")
    for k in ("latency", "throughput", "crash", "meta"):
        r.add_argument("--" + k, required=True)
    a = ap.parse_args()
    sys.exit({"writer": writer, "latency": latency, "waitcount": waitcount, "settle": settle,
              "report": report}[a.cmd](a) or 0)


main()
PYEOF
py() { python3 "$PY" "$@"; }
cpu_of() { python3 "$ROOT/benches/proc_cpu.py" "$@"; }

# ---------------------------------------------------------------- ingestd
columns() { # JOB SET: the job's [[columns]] (SET: seq | orders)
  local c spec
  if [ "$2" = seq ]; then spec="seq:bigint written_at:bigint msg:text"
  else spec="id:bigint customer_id:int customer_name:text amount:decimal(12,2) currency:varchar(3) created_at:timestamp status:text note:text"
  fi
  for c in $spec; do printf '[[jobs.%s.columns]]\nname = "%s"\ntype = "%s"\n' "$1" "${c%%:*}" "${c#*:}"; done
}
ing_conf() { # CONF DIR LOG sqlite|pg DB_PATH|SCHEMA TABLE COLUMN_SET
  {
    printf '[daemon]\nstate_dir = "%s/state"\nprogress_interval = "0s"\n\n[sinks.out]\n' "$2"
    if [ "$4" = sqlite ]; then printf 'kind = "sqlite"\npath = "%s"\n' "$5"
    else printf 'kind = "postgres"\nurl = "%s"\nschema = "%s"\n' "$PG_URL" "$5"
    fi
    cat <<TOML

[jobs.tail]
sink = "out"
table = "$6"
create_table = true
reject_dir = "$2/rejects"
[jobs.tail.source]
kind = "tail"
path = "$3"
start_at = "beginning"
[jobs.tail.format]
kind = "jsonl"
TOML
    columns tail "$7"
  } >"$1"
  "$BIN" check --config "$1" >/dev/null || { "$BIN" check --config "$1"; exit 1; }
}
ING_PID=
start_ingestd() { # CONF LOGFILE (appended to; a restart waits for its own "ready")
  local i ready before
  before=$(grep -c 'INFO ready' "$2" 2>/dev/null || true)
  INGESTD_LOG=info "$BIN" run --config "$1" >>"$2" 2>&1 &
  ING_PID=$!
  PIDS+=("$ING_PID")
  for i in $(seq 1 300); do
    ready=$(grep -c 'INFO ready' "$2" 2>/dev/null || true)
    [ "${ready:-0}" -gt "${before:-0}" ] && return 0
    kill -0 "$ING_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "ingestd did not get ready; its log ($2):" >&2
  tail -20 "$2" >&2
  exit 1
}
ing_pids() { echo "$ING_PID" $(pgrep -P "$ING_PID" 2>/dev/null || true); }
stop_ingestd() {
  kill -TERM "$ING_PID" 2>/dev/null || true
  wait "$ING_PID" 2>/dev/null || true
  forget "$ING_PID"
}
kill9_ingestd() { # the supervisor and its workers at once
  # shellcheck disable=SC2046
  kill -9 $(ing_pids) 2>/dev/null || true
  wait "$ING_PID" 2>/dev/null || true
  forget "$ING_PID"
}

# ---------------------------------------------------------------- rsyslog
rs_conf() { # CONF DIR LOG SCHEMA
  mkdir -p "$2/work"
  cat >"$1" <<EOF
# rsyslogd -n -f $1: its own work directory (imfile's state files), no system inputs
global(workDirectory="$2/work" processInternalMessages="on")
module(load="imfile" mode="inotify")
module(load="ompgsql")
# One INSERT per line. option.stdsql doubles single quotes only (standard SQL,
# right for PostgreSQL's standard_conforming_strings); option.sql would also
# double backslashes, which a JSON line contains.
template(name="tail_insert" type="list" option.stdsql="on") {
  constant(value="INSERT INTO $4.lines (line) VALUES ('")
  property(name="msg")
  constant(value="')")
}
ruleset(name="to_pg") {
  action(type="ompgsql" conninfo="$PG_URL" template="tail_insert")
}
input(type="imfile" file="$3" tag="tail" ruleset="to_pg" $RS_INPUT_OPTS)
# rsyslogd's own warnings and errors go to a file (processInternalMessages:
# Debian's build would otherwise hand them to syslog(3), i.e. to no one here)
if \$syslogseverity <= 4 then action(type="omfile" file="$2/rsyslogd-internal.log")
EOF
  rsyslogd -N1 -f "$1" >"$2/rsyslogd-check.log" 2>&1 || { cat "$2/rsyslogd-check.log" >&2; exit 1; }
}
rs_table() { pgq "CREATE TABLE $1.lines (id bigserial, line text NOT NULL)"; }
RS_PID=
start_rsyslog() { # CONF DIR
  rm -f "$2/rsyslogd.pid"
  rsyslogd -n -f "$1" -i "$2/rsyslogd.pid" >>"$2/rsyslogd.out" 2>&1 &
  RS_PID=$!
  PIDS+=("$RS_PID")
  sleep 0.2
  kill -0 "$RS_PID" 2>/dev/null || { echo "rsyslogd exited:" >&2; cat "$2/rsyslogd.out" >&2; exit 1; }
}
rs_notes() { # DIR WHAT: rsyslogd's own warnings and errors, and its stderr (libpq
  # notices land there: a failed INSERT showed only as such a notice when tried), if any
  # (its stderr also gets informational messages of its shutdown: severity 5-7, left out)
  local f n
  for f in "$1/rsyslogd-internal.log" "$1/rsyslogd.out"; do
    [ -s "$f" ] || continue
    n=$(grep -cvE '^rsyslog internal message \([5-7],' "$f" || true)
    [ "${n:-0}" -gt 0 ] || continue
    echo "  rsyslogd ($2) wrote $n line(s) to $(basename "$f"), e.g.:" >&2
    grep -vE '^rsyslog internal message \([5-7],' "$f" | head -3 | cut -c1-300 | sed 's/^/    /' >&2
  done
}
stop_rsyslog() {
  kill -TERM "$RS_PID" 2>/dev/null || true
  wait "$RS_PID" 2>/dev/null || true
  forget "$RS_PID"
}
kill9_rsyslog() {
  kill -9 "$RS_PID" 2>/dev/null || true
  wait "$RS_PID" 2>/dev/null || true
  forget "$RS_PID"
}

LAT_RESULTS=$TMP/latency.tsv
TP_RESULTS=$TMP/throughput.tsv
CRASH_RESULTS=$TMP/crash.tsv
: >"$LAT_RESULTS"; : >"$TP_RESULTS"; : >"$CRASH_RESULTS"
LOG_SIZE=-
CRASH_KILL_AFTER=$(awk -v n="$CRASH_RECORDS" -v r="$CRASH_RATE" 'BEGIN{printf "%.1f", n / r / 2}')
echo "tail bench: sections '$SECTIONS'; latency ${LAT_SECONDS}s; N=$N, RUNS=$RUNS; crash $CRASH_RECORDS records at $CRASH_RATE/s; PostgreSQL $PG_URL; scratch $TMP"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load before: $LOAD_BEFORE"

# ---------------------------------------------------------------- 1. latency
latency_one() { # sqlite|pg
  local kind=$1 dir=$TMP/lat-$1 count=$((LAT_SECONDS * 1000 / LAT_INTERVAL_MS)) target table res
  mkdir -p "$dir"
  : >"$dir/app.log"
  if [ "$kind" = sqlite ]; then
    target=$dir/lat.sqlite; table=lat
  else
    fresh_schema "${TAG}_lat"; target=${TAG}_lat; table=${TAG}_lat.lat
  fi
  ing_conf "$dir/ingestd.toml" "$dir" "$dir/app.log" "$kind" "$target" lat seq
  start_ingestd "$dir/ingestd.toml" "$dir/ingestd.log"
  if [ "$kind" = sqlite ]; then
    py latency --sqlite "$target" --table lat --count "$count" --done "$dir/written" >"$dir/latency.json" &
  else
    py latency --pg "$PG_URL" --errlog "$dir/psql.err" --table "$table" --count "$count" --done "$dir/written" >"$dir/latency.json" &
  fi
  local poller=$!
  PIDS+=("$poller")
  sleep 0.3
  py writer "$dir/app.log" --rate $((1000 / LAT_INTERVAL_MS)) --count "$count" >"$dir/writer.json"
  touch "$dir/written"
  wait "$poller"
  forget "$poller"
  stop_ingestd
  res=$(cat "$dir/latency.json")
  printf '%s\t%s\n' "$([ "$kind" = sqlite ] && echo SQLite || echo PostgreSQL)" "$res" >>"$LAT_RESULTS"
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); w=json.loads(sys.argv[2]); print("  latency -> %-10s p50 %6.1f ms  p99 %6.1f ms  max %6.1f ms  (%d of %d seen; writer %.1f rec/s; poll period p50 %.1f ms, p99 %.1f ms, max %.1f ms; query p50 %.2f ms)" % (sys.argv[3], r["p50_ms"], r["p99_ms"], r["max_ms"], r["seen"], r["records"], w["rate"], r["poll_period_p50_ms"], r["poll_period_p99_ms"], r["poll_period_max_ms"], r["query_p50_ms"]))' "$res" "$(cat "$dir/writer.json")" "$kind"
  if [ "$kind" = pg ]; then pgq "DROP SCHEMA ${TAG}_lat CASCADE"; fi
}
case " $SECTIONS " in *" latency "*)
  echo
  echo "== 1. latency: one record every ${LAT_INTERVAL_MS} ms for ${LAT_SECONDS} s, write -> visible"
  latency_one sqlite
  latency_one pg
;; esac

# ---------------------------------------------------------------- 2. throughput
throughput_one() { # ingestd|rsyslog RUN
  local tool=$1 r=$2 dir=$TMP/tp-$1-$2 t0 res secs cpu0 srv0 cpu srv got sql schema
  mkdir -p "$dir"
  ln "$JSONL" "$dir/orders.log" 2>/dev/null || cp "$JSONL" "$dir/orders.log"
  if [ "$tool" = ingestd ]; then
    schema=${TAG}_ing
    fresh_schema "$schema"
    ing_conf "$dir/ingestd.toml" "$dir" "$dir/orders.log" pg "$schema" orders orders
    sql="SELECT coalesce(sum(rows_loaded), 0) FROM $schema.ingestd_ledger"
  else
    schema=${TAG}_rs
    fresh_schema "$schema"
    rs_table "$schema"
    rs_conf "$dir/rsyslog.conf" "$dir" "$dir/orders.log" "$schema"
    # the sequence says how far the INSERTs got (cheap); count(*) confirms at the end
    sql="SELECT CASE WHEN NOT is_called THEN 0 WHEN last_value < $N THEN last_value
         ELSE (SELECT count(*) FROM $schema.lines) END FROM $schema.lines_id_seq"
  fi
  srv0=nan
  if [ -n "$PM_PID" ]; then srv0=$(cpu_of "$PM_PID"); fi
  t0=$(date +%s.%N)
  if [ "$tool" = ingestd ]; then
    start_ingestd "$dir/ingestd.toml" "$dir/ingestd.log"
  else
    start_rsyslog "$dir/rsyslog.conf" "$dir"
  fi
  if res=$(py waitcount --pg "$PG_URL" --errlog "$dir/psql.err" --sql "$sql" --target "$N" --start "$t0" --stall "$STALL"); then
    secs=$(python3 -c 'import json,sys; print("%.3f" % json.loads(sys.argv[1])["seconds"])' "$res")
  else
    secs=nan
    echo "  $tool run $r: stalled at $(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["value"])' "$res") of $N rows for ${STALL}s" >&2
  fi
  if [ "$tool" = ingestd ]; then
    # shellcheck disable=SC2046
    cpu=$(cpu_of $(ing_pids))
  else
    cpu=$(cpu_of "$RS_PID")
  fi
  srv=nan
  if [ -n "$PM_PID" ]; then srv=$(awk -v a="$(cpu_of "$PM_PID")" -v b="$srv0" 'BEGIN{printf "%.2f", a - b}'); fi
  if [ "$tool" = ingestd ]; then
    stop_ingestd
    got=$(pgq "SELECT count(*), count(DISTINCT id) FROM $schema.orders")
  else
    stop_rsyslog
    rs_notes "$dir" "throughput run $r"
    got=$(pgq "SELECT count(*), count(DISTINCT (line::json->>'id')) FROM $schema.lines")
  fi
  if [ "$got" != "$N $N" ]; then
    echo "  $tool run $r: the table holds (rows, distinct ids) = ($got), expected ($N $N)" >&2
    secs=nan
  fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$tool" "$r" "$secs" "$cpu" "$srv" >>"$TP_RESULTS"
  printf '  %-8s run %d: %8s s  %9s records/s  consumer CPU %6s s  server CPU %6s s\n' "$tool" "$r" "$secs" \
    "$(awk -v n="$N" -v s="$secs" 'BEGIN{ if (s == "nan" || s + 0 == 0) print "nan"; else printf "%.0f", n / s }')" "$cpu" "$srv"
  pgq "DROP SCHEMA $schema CASCADE"
  rm -rf "$dir"
}
case " $SECTIONS " in *" throughput "*)
  JSONL=$DATA/orders-$N.jsonl
  MANIFEST=$DATA/orders-$N.manifest.json
  if ! { [ -s "$JSONL" ] && [ -s "$MANIFEST" ] && python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); sys.exit(0 if m["rows_good"]==int(sys.argv[2]) and m["seed"]==int(sys.argv[3]) else 1)' "$MANIFEST" "$N" "$SEED"; }; then
    mkdir -p "$DATA"
    echo "generating $N orders records into $DATA (cached for later runs)"
    python3 "$GEN" "$N" --out "$DATA" --name "orders-$N" --seed "$SEED" >/dev/null
  fi
  LOG_SIZE=$(du -h --apparent-size "$JSONL" | cut -f1)B
  echo
  echo "== 2. throughput: $N records ($LOG_SIZE), written before the consumer starts, followed from the beginning; $RUNS runs each, interleaved"
  for r in $(seq 1 "$RUNS"); do
    throughput_one ingestd "$r"
    if [ "$RSYSLOG" = 1 ]; then throughput_one rsyslog "$r"; fi
  done
;; esac

# ---------------------------------------------------------------- 3. crash
crash_one() { # ingestd|rsyslog
  local tool=$1 dir=$TMP/crash-$1 schema sql rows writer
  mkdir -p "$dir"
  : >"$dir/app.log"
  if [ "$tool" = ingestd ]; then
    schema=${TAG}_ing
    fresh_schema "$schema"
    ing_conf "$dir/ingestd.toml" "$dir" "$dir/app.log" pg "$schema" crash seq
    start_ingestd "$dir/ingestd.toml" "$dir/ingestd.log"
    sql="SELECT count(*) FROM $schema.crash"
  else
    schema=${TAG}_rs
    fresh_schema "$schema"
    rs_table "$schema"
    rs_conf "$dir/rsyslog.conf" "$dir" "$dir/app.log" "$schema"
    start_rsyslog "$dir/rsyslog.conf" "$dir"
    sleep 0.8
    sql="SELECT count(*) FROM $schema.lines"
  fi
  py writer "$dir/app.log" --rate "$CRASH_RATE" --count "$CRASH_RECORDS" --pad 40 >"$dir/writer.json" &
  writer=$!
  PIDS+=("$writer")
  sleep "$CRASH_KILL_AFTER"
  local before
  before=$(pgq "$sql" 2>/dev/null || echo '?')
  if [ "$tool" = ingestd ]; then kill9_ingestd; else kill9_rsyslog; fi
  sleep 1
  if [ "$tool" = ingestd ]; then
    start_ingestd "$dir/ingestd.toml" "$dir/ingestd.log"
  else
    start_rsyslog "$dir/rsyslog.conf" "$dir"
  fi
  wait "$writer"
  forget "$writer"
  rows=$(py settle --pg "$PG_URL" --errlog "$dir/psql.err" --sql "$sql" --quiet 5 --timeout 180)
  if [ "$tool" = ingestd ]; then
    stop_ingestd
    sql="SELECT seq FROM $schema.crash"
  else
    stop_rsyslog
    rs_notes "$dir" "crash test"
    sql="SELECT (line::json->>'seq')::bigint AS seq FROM $schema.lines"
  fi
  local counts
  counts=$(pgq "WITH t AS ($sql), g AS (SELECT seq, count(*) AS c FROM t GROUP BY seq)
    SELECT (SELECT count(*) FROM t), count(*) FILTER (WHERE c > 1), coalesce(sum(c - 1), 0),
           $CRASH_RECORDS - count(*) FILTER (WHERE seq BETWEEN 1 AND $CRASH_RECORDS) FROM g")
  read -r rows dseq extra lost <<<"$counts"
  printf '%s\t%s\t%s\t%s\t%s\n' "$tool" "$rows" "$dseq" "$extra" "$lost" >>"$CRASH_RESULTS"
  printf '  %-8s %s rows when killed; after restart and settling: %s rows, %s seqs duplicated (%s extra rows), %s seqs lost (writer: %s)\n' \
    "$tool" "$before" "$rows" "$dseq" "$extra" "$lost" "$(cat "$dir/writer.json")"
  pgq "DROP SCHEMA $schema CASCADE"
}
case " $SECTIONS " in *" crash "*)
  echo
  echo "== 3. crash: $CRASH_RECORDS records at $CRASH_RATE/s, SIGKILL after ${CRASH_KILL_AFTER}s, restart 1 s later"
  crash_one ingestd
  if [ "$RSYSLOG" = 1 ]; then crash_one rsyslog; fi
;; esac

echo
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load after: $LOAD_AFTER; total $(( $(date +%s) - T_START )) s"
echo
RS_VERSION="rsyslog not run"
if [ "$RSYSLOG" = 1 ]; then RS_VERSION=$(rsyslogd -v | head -1 | sed 's/ *compiled with:.*//; s/^rsyslogd */rsyslog /'); fi
REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
git -C "$ROOT" diff --quiet HEAD -- src 2>/dev/null || REV="$REV + uncommitted changes in src/"
{ # one "key<TAB>value" a line, for the report
  printf 'nproc\t%s\n' "$(nproc)"
  printf 'cpu\t%s\n' "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
  printf 'kernel\tLinux %s\n' "$(uname -r)"
  printf 'pg\tPostgreSQL %s\n' "$(psql -X -At "$PG_URL" -c 'SHOW server_version' | sed 's/ .*//')"
  printf 'rsyslog\t%s\n' "$RS_VERSION"
  printf 'rsyslog_short\t%s\n' "$(echo "$RS_VERSION" | awk '{print $2}')"
  printf 'rev\t%s\n' "$REV"
  printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
  printf 'lat_seconds\t%s\nlat_interval_ms\t%s\n' "$LAT_SECONDS" "$LAT_INTERVAL_MS"
  printf 'n\t%s\nruns\t%s\nlog_size\t%s\n' "$N" "$RUNS" "$LOG_SIZE"
  printf 'crash_records\t%s\ncrash_rate\t%s\ncrash_kill_after\t%s\n' "$CRASH_RECORDS" "$CRASH_RATE" "$CRASH_KILL_AFTER"
  printf 'rs_opts\t%s\n' "$RS_INPUT_OPTS"
  printf 'load\t%s before, %s after\n' "$LOAD_BEFORE" "$LOAD_AFTER"
  printf 'total_s\t%s\n' "$(( $(date +%s) - T_START ))"
} >"$TMP/meta.tsv"
py report --latency "$LAT_RESULTS" --throughput "$TP_RESULTS" --crash "$CRASH_RESULTS" --meta "$TMP/meta.tsv"
