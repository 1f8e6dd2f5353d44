#!/usr/bin/env python3
"""Markdown tables (medians, ratios) from the raw results of bench/workers.sh.

    bench/workers_table.py bench/results-workers

Reads runs.txt (one line a run: section, system, P, items, rc, whole and inner seconds),
machine.txt and load.txt from that folder.
"""
import os
import statistics
import sys

IDEAL_COMPUTE_X = 1.6  # 10 items x 0.8 s on 8 workers: two rounds


def read_runs(folder):
    runs = []
    with open(os.path.join(folder, "runs.txt")) as f:
        for line in f:
            fields = {}
            key = None
            for token in line.split():  # values may hold spaces: "system=pmap worker, ..."
                if "=" in token and token.split("=", 1)[0] in (
                        "section", "system", "P", "items", "rc", "whole", "inner"):
                    key, value = token.split("=", 1)
                    fields[key] = value
                elif key is not None:
                    fields[key] += " " + token
            runs.append(fields)
    return runs


def medians(runs, section):
    """{(system, P): (items, whole median, inner median, runs, failures)} in first-seen order."""
    groups = {}
    for r in runs:
        if r["section"] != section:
            continue
        groups.setdefault((r["system"], int(r["P"])), []).append(r)
    out = {}
    for key, rs in groups.items():
        ok = [r for r in rs if r["rc"] == "0"]
        out[key] = (int(rs[0]["items"]),
                    statistics.median(float(r["whole"]) for r in ok) if ok else float("nan"),
                    statistics.median(float(r["inner"]) for r in ok) if ok else float("nan"),
                    len(rs), len(rs) - len(ok))
    return out


def trivial(m):
    print("| system (2 workers) | whole process (s) | work alone (s) | items/s (work) "
          "| vs best anchor | items/s (whole) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    best = max((n / inner for (s, _), (n, _, inner, _, _) in m.items() if not s.startswith("pmap")),
               default=float("nan"))
    for (system, _), (n, whole, inner, runs, bad) in m.items():
        note = " (%d of %d runs failed)" % (bad, runs) if bad else ""
        print("| %s%s | %.3f | %.3f | %s | %.2fx | %s |" % (
            system, note, whole, inner, f"{n / inner:,.0f}", (n / inner) / best,
            f"{n / whole:,.0f}"))
    pmap_best = max((n / inner for (s, _), (n, _, inner, _, _) in m.items() if s.startswith("pmap")),
                    default=float("nan"))
    print("\nTarget: pmap at least as many items/s as the best anchor: %s (%s vs %s items/s, "
          "work alone; pmap writes every result to HDF5, the anchors keep them in a list)\n" % (
              "met" if pmap_best >= best else "NOT met", f"{pmap_best:,.0f}", f"{best:,.0f}"))


def compute_x(m):
    print("| system (8 workers) | whole process (s) | work alone (s) | work - ideal 1.6 s |")
    print("| --- | ---: | ---: | ---: |")
    for (system, _), (_, whole, inner, runs, bad) in m.items():
        note = " (%d of %d runs failed)" % (bad, runs) if bad else ""
        print("| %s%s | %.3f | %.3f | %+.3f |" % (system, note, whole, inner,
                                                   inner - IDEAL_COMPUTE_X))
    one = [v for (s, _), v in m.items() if s.startswith("pmap") and "one process" in s]
    if one:
        gap = one[0][2] - IDEAL_COMPUTE_X
        print("\nTarget: pmap in one process within 0.05 s of the ideal 1.6 s: %s (%+.3f s, work "
              "alone; the whole process adds starting 8 Python interpreters and MPI: %.3f s)\n"
              % ("met" if gap <= 0.05 else "NOT met", gap, one[0][1]))


def cpu(m):
    systems = []
    for (system, _) in m:
        if system not in systems:
            systems.append(system)
    print("| system | 1 worker (s) | 2 workers (s) | speedup (work) | speedup (whole process) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    speedups = {}
    for system in systems:
        one, two = m.get((system, 1)), m.get((system, 2))
        if not one or not two:
            continue
        speedups[system] = one[2] / two[2]
        print("| %s | %.3f | %.3f | %.2fx | %.2fx |" % (
            system, one[2], two[2], one[2] / two[2], one[1] / two[1]))
    pm = [v for s, v in speedups.items() if s.startswith("pmap")]
    if pm:
        print("\nTarget: speedup 1 -> 2 workers at least 1.9x: %s (%.2fx)\n"
              % ("met" if pm[0] >= 1.9 else "NOT met", pm[0]))


def main(folder):
    runs = read_runs(folder)
    with open(os.path.join(folder, "machine.txt")) as f:
        print("```\n" + f.read().strip() + "\n```\n")
    sections = [("trivial", "Trivial function, `return x * 2`, 2 workers", trivial),
                ("compute_x", "The tutorial's compute_x, 10 items x sleep 0.8 s, 8 workers",
                 compute_x),
                ("cpu", "CPU-bound: sum of square roots (W3), 1 and 2 workers", cpu)]
    for key, title, table in sections:
        m = medians(runs, key)
        if m:
            n = next(iter(m.values()))[0]
            print("### %s (%s items, medians of %d runs)\n" % (title, f"{n:,}",
                                                              next(iter(m.values()))[3]))
            table(m)
    load = os.path.join(folder, "load.txt")
    if os.path.exists(load):
        with open(load) as f:
            print("Machine load around the runs (bench/lib.sh check_load):\n\n```\n"
                  + f.read().strip() + "\n```")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench/results-workers")
