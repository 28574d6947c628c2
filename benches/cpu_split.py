#!/usr/bin/env python3
"""CPU-seconds per million rows of ingestd's supervisor and of its workers,
from the exit lines of each run's log (`supervisor stopped ... cpu_s=`,
`pool closed ... cpu_s=`), and the supervisor's share; with the server's
CPU per run from the harness's results file when given. Medians over runs.

Usage: cpu_split.py ROWS LOG... [--results RESULTS.jsonl --tool TOOL]
"""
import json, re, statistics, sys

args = sys.argv[1:]
results, tool = None, None
if "--results" in args:
    i = args.index("--results")
    results, tool = args[i + 1], args[args.index("--tool") + 1]
    args = args[:i]
rows, logs = int(args[0]), args[1:]
per_m = 1e6 / rows
cpu = re.compile(r"cpu_s=([0-9.]+)")
sup, wrk = [], []
for log in logs:
    s, w = None, 0.0
    for line in open(log, errors="replace"):
        m = cpu.search(line)
        if not m:
            continue
        if "supervisor stopped" in line:
            s = float(m.group(1))
        elif "pool closed" in line:
            w += float(m.group(1))
    if s is not None:
        sup.append(s * per_m)
        wrk.append(w * per_m)
if not sup:
    print("  (no cpu_s in the logs: an ingestd from before the exit lines carried it)")
    sys.exit(0)
ms, mw = statistics.median(sup), statistics.median(wrk)
line = (f"  CPU-s per 1M rows (median of {len(sup)}): supervisor {ms:.3f}, workers {mw:.3f}, "
        f"together {ms + mw:.3f}; the supervisor's share {100 * ms / (ms + mw):.1f}%")
if results:
    srv = [json.loads(l).get("srv_cpu_s") for l in open(results) if json.loads(l).get("tool") == tool]
    srv = [v for v in srv if isinstance(v, (int, float))]
    if srv:
        line += f"; server backends {statistics.median(srv) * per_m:.3f}"
print(line)
