#!/usr/bin/env python3
"""CPU seconds (user + system) of the given pids, the children they reaped
included, and of their live children, from /proc: what a benchmark charges
to a daemon and its workers, or to a server and its backends.

Usage: proc_cpu.py PID...     (prints seconds, two decimals)
"""
import os
import sys

TCK = os.sysconf("SC_CLK_TCK")


def stat(pid):
    """(parent pid, [utime, stime, cutime, cstime]) of pid."""
    with open("/proc/%s/stat" % pid) as f:
        s = f.read()
    r = s[s.rindex(")") + 2:].split()
    return r[1], [int(x) for x in r[11:15]]


def cpu_seconds(pids):
    pids, ticks = set(pids), 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            ppid, t = stat(d)
        except (OSError, ValueError, IndexError):
            continue
        if d in pids:
            ticks += sum(t)
        elif ppid in pids:
            ticks += t[0] + t[1]
    return ticks / TCK


if __name__ == "__main__":
    print("%.2f" % cpu_seconds(sys.argv[1:]))
