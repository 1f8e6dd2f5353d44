#!/usr/bin/env python3
"""Prints bench/sweeps.sh's tables (Markdown) from its raw results: ./bench/sweeps_table.py DIR."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import pmaptools  # noqa: E402


def runs(path, kind):
    return [r for r in pmaptools.read_runs(path) if r.get("kind") == kind and r.get("rc") == "0"]


def med(rows, key):
    return pmaptools.median([pmaptools.number(r.get(key)) for r in rows])


def rss_mib(rows):
    per_run = [max(int(v) for v in r["rank_rss_kib"].split(",") if v) / 1024 for r in rows
               if r.get("rank_rss_kib")]
    return pmaptools.median(per_run)


def startup(rows):
    return pmaptools.median([pmaptools.number(r["whole_wall"]) - pmaptools.number(r["wall_seconds"])
                             for r in rows])


def s1(d):
    path = os.path.join(d, "s1.txt")
    if not os.path.exists(path):
        return
    g, r, g1 = runs(path, "grid"), runs(path, "range"), runs(path, "grid1")
    print("| items | runs | pmap wall [s] | items/s | write [s] | whole process [s] | peak RSS/rank [MiB] |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, rows in (("grid, 2 axes (2 fields)", g), ("grid, 1 axis (1 field)", g1),
                       ("range (no fields)", r)):
        if not rows:
            continue
        print(f"| {name} | {len(rows)} | {pmaptools.fmt(med(rows, 'wall_seconds'))} | "
              f"{pmaptools.fmt(med(rows, 'items_per_second'), 0)} | "
              f"{pmaptools.fmt(med(rows, 'write_seconds'))} | {pmaptools.fmt(med(rows, 'whole_wall'))} | "
              f"{pmaptools.fmt(rss_mib(rows), 1)} |")
    for name, rows in (("2-axis grid", g), ("1-axis grid", g1)):
        if rows and r:
            ratio = med(rows, "wall_seconds") / med(r, "wall_seconds")
            whole = med(rows, "whole_wall") / med(r, "whole_wall")
            extra = med(rows, "write_seconds") - med(r, "write_seconds")
            print(f"\n{name} / range: pmap wall x{ratio:.3f}, whole process x{whole:.3f}, "
                  f"write +{extra:.3f} s (target within 10%: "
                  f"{'met' if ratio <= 1.10 else 'not met'})")
    print()


def s2(d):
    path = os.path.join(d, "s2.txt")
    if not os.path.exists(path):
        return
    t, r = runs(path, "table"), runs(path, "range")
    size = pmaptools.read_kv_file(os.path.join(d, "s2_file.txt")).get("csv_bytes", "?")
    print(f"CSV of {size} bytes.\n")
    print("| items | runs | time to first item [s] | pmap wall [s] | whole process [s] | peak RSS/rank [MiB] |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, rows in (("table (CSV)", t), ("range", r)):
        print(f"| {name} | {len(rows)} | {pmaptools.fmt(startup(rows))} | "
              f"{pmaptools.fmt(med(rows, 'wall_seconds'))} | {pmaptools.fmt(med(rows, 'whole_wall'))} | "
              f"{pmaptools.fmt(rss_mib(rows), 1)} |")
    print()


if __name__ == "__main__":
    d = sys.argv[1] if len(sys.argv) > 1 else "bench/results/sweeps"
    s1(d)
    s2(d)
