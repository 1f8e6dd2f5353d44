#!/usr/bin/env python3
"""The HTTPS table of bench/urls_https.sh: medians of every (row, system) from runs.tsv.

    bench/url_https_table.py bench/results/urls_https/runs.tsv
"""
import csv
import statistics
import sys
from collections import defaultdict

PROTO = {"h1": "HTTPS, HTTP/1.1", "h2": "HTTPS, HTTP/2", "http": "HTTP"}
SYSTEMS = ["pmap", "curl", "requests"]


def main(path):
    runs = defaultdict(list)
    for r in csv.DictReader(open(path), delimiter="\t"):
        runs[(int(r["n"]), int(r["hosts"]), r["proto"], r["system"])].append(r)
    rows = sorted({k[:3] for k in runs}, key=lambda k: (k[0], k[2] == "http", k[1], k[2]))
    print("| URLs | hosts | protocol | " + " | ".join(
        f"{s} wall / CPU / RSS" for s in SYSTEMS) + " | CPU per URL (pmap) |")
    print("| ---: | ---: | --- |" + " --- |" * len(SYSTEMS) + " ---: |")
    for n, hosts, proto in rows:
        cells = []
        for s in SYSTEMS:
            rs = runs.get((n, hosts, proto, s))
            if not rs:
                cells.append("—")
                continue
            med = lambda key: statistics.median(float(r[key]) for r in rs)
            wrong = sum(int(r["n"]) - int(r["exists"]) for r in rs)
            cell = f"{med('wall_s'):.2f} s / {med('cpu_s'):.2f} s / {med('rss_kib') / 1024:.0f} MiB"
            cells.append(cell + (f" ({wrong} wrong in {len(rs)} runs)" if wrong else ""))
        p = runs.get((n, hosts, proto, "pmap"))
        per_url = (f"{statistics.median(float(r['cpu_s']) for r in p) / n * 1000:.2f} ms"
                   if p else "—")
        print(f"| {n:,} | {hosts} | {PROTO[proto]} | " + " | ".join(cells) + f" | {per_url} |")
    print(f"\nMedians of {max(len(v) for v in runs.values())} runs; wall, CPU (user + sys) and "
          "peak RSS from /usr/bin/time; \"wrong\": verdicts other than exists.")


if __name__ == "__main__":
    main(sys.argv[1])
