#!/usr/bin/env python3
"""Seeded generator of an nginx access log (the predefined `combined`
format) and a CSV file holding the same fields, for benches/logs.sh.

Usage: gen_access_log.py N --out DIR [--seed S]
Writes DIR/access-N.log and DIR/access-N.csv (header: remote_addr,
remote_user, time, method, path, protocol, status, bytes, referer,
user_agent; `-` in the log is an empty field in the CSV), and prints the
number of lines and the sum of the byte counts.
"""
import argparse
import csv
import os
import random

AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "curl/8.5.0",
    "Debian APT-HTTP/1.3 (2.6.1)",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Prometheus/2.53.0",
]
PATHS = ["/", "/index.html", "/api/v1/orders", "/api/v1/orders/{n}", "/static/app.{n}.js",
         "/images/logo.png", "/search?q=term{n}&page=2", "/downloads/product_{n}", "/health"]
REFERERS = ["https://www.example.com/", "https://shop.example.com/cart?item={n}",
            "https://www.google.com/"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=12)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    os.makedirs(a.out, exist_ok=True)
    total = 0
    with open(os.path.join(a.out, f"access-{a.n}.log"), "w", newline="") as log, \
         open(os.path.join(a.out, f"access-{a.n}.csv"), "w", newline="") as out:
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["remote_addr", "remote_user", "time", "method", "path", "protocol",
                    "status", "bytes", "referer", "user_agent"])
        t = 0
        for i in range(a.n):
            t += rnd.randrange(3)
            day, sec = 1 + (t // 86400) % 28, t % 86400
            time = f"{day:02d}/{MONTHS[(t // (86400 * 28)) % 12]}/2026:{sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d} +0100"
            if rnd.random() < 0.05:
                addr = f"2001:db8::{rnd.randrange(65536):x}"
            else:
                addr = ".".join(str(rnd.randrange(1, 255)) for _ in range(4))
            user = "-" if rnd.random() < 0.9 else f"user{rnd.randrange(100)}"
            method = rnd.choice(["GET"] * 8 + ["POST", "HEAD"])
            path = rnd.choice(PATHS).format(n=rnd.randrange(10000))
            proto = rnd.choice(["HTTP/1.1"] * 3 + ["HTTP/2.0"])
            status = rnd.choice([200] * 12 + [304, 404, 301, 500])
            size = rnd.randrange(50000) if status == 200 else rnd.randrange(200)
            ref = "-" if rnd.random() < 0.4 else rnd.choice(REFERERS).format(n=rnd.randrange(1000))
            agent = rnd.choice(AGENTS)
            total += size
            log.write(f'{addr} - {user} [{time}] "{method} {path} {proto}" {status} {size} "{ref}" "{agent}"\n')
            d = lambda v: "" if v == "-" else v
            w.writerow([addr, d(user), time, method, path, proto, status, size, d(ref), agent])
    print(a.n, total)


if __name__ == "__main__":
    main()
