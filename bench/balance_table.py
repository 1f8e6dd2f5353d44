#!/usr/bin/env python3
"""Tables of bench/balance.sh from its raw runs (RESULTS/runs.tsv): medians of ratio = wall /
bound, bound = max(sum of item seconds / workers, longest item).

    ./bench/balance_table.py bench/results/balance

and of the issue's mandelbrot case (RESULTS/mandelbrot.tsv, ONLY=mandelbrot) when it was run.
"""
import csv
import os
import statistics
import sys
from collections import defaultdict

PROFILES = ["uniform", "increasing", "decreasing", "peak", "tail", "head", "bimodal", "pareto",
            "random"]


def load(path):
    runs = defaultdict(list)
    with open(path) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            key = (row["system"], row["layout"], row["schedule"], row["profile"], row["mean"])
            runs[key].append(float(row["ratio"]))
    return {k: statistics.median(v) for k, v in runs.items()}


def columns(med, mean):
    """The systems measured at this mean, pmap first, in a stable order."""
    order = {"static": 0, "cyclic": 1, "dynamic": 2, "guided": 3}
    cols = {(s, l, c) for (s, l, c, _, m) in med if m == mean}
    return sorted(cols, key=lambda x: (not x[0].startswith("pmap"), x[0], x[1],
                                       order.get(x[2], 9), x[2]))


def label(col):
    system, layout, schedule = col
    if system.startswith("pmap"):
        return f"{system} {schedule} {layout}"
    if system == "openmp":
        return f"OpenMP {schedule}"
    return f"GNU parallel {schedule}"


def table(med, mean):
    cols = columns(med, mean)
    if not cols:
        return ""
    out = [f"mean item {float(mean) * 1000:g} ms: median wall / bound\n",
           "| profile | " + " | ".join(label(c) for c in cols) + " |",
           "|---|" + "---:|" * len(cols)]
    worst = {c: 0.0 for c in cols}
    for p in PROFILES:
        if not any((*c, p, mean) in med for c in cols):
            continue
        cells = []
        for c in cols:
            r = med.get((*c, p, mean))
            if r is None:
                cells.append("")
                continue
            worst[c] = max(worst[c], r)
            cells.append(f"**{r:.3f}**" if r > 1.05 else f"{r:.3f}")
        out.append(f"| {p} | " + " | ".join(cells) + " |")
    out.append("| **worst** | " + " | ".join(f"**{worst[c]:.3f}**" for c in cols) + " |")
    return "\n".join(out) + "\n"


def mandelbrot(path):
    """The issue's mandelbrot case (RESULTS/mandelbrot.tsv): medians per schedule."""
    runs = defaultdict(list)
    with open(path) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            runs[(row["schedule"], row["chunk"])].append(row)
    order = {"static": 0, "cyclic": 1, "dynamic": 2, "guided": 3}
    out = ["mandelbrot width=1024 height=2048 max_iter=2000, rows 0:2048, mpirun -np 2 --threads 1:"
           " medians (min-max) of the runs\n",
           "| schedule | runs | wall [s] | min-max [s] | bound [s] | wall / bound | load imbalance"
           " | remote claims |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for (schedule, chunk), rows in sorted(runs.items(), key=lambda kv: (order.get(kv[0][0], 9),
                                                                         kv[0][1] != "auto",
                                                                         kv[0][1])):
        def med(key):
            return statistics.median(float(r[key]) for r in rows)
        walls = [float(r["wall"]) for r in rows]
        bounds = [max(float(r["busy"]) / float(r["workers"]), float(r["longest"])) for r in rows]
        name = schedule if schedule == "static" else f"{schedule}, chunk {chunk}"
        out.append(f"| {name} | {len(rows)} | {med('wall'):.3f} | {min(walls):.3f}-{max(walls):.3f}"
                   f" | {statistics.median(bounds):.3f} | {med('ratio'):.3f}"
                   f" | {med('load_imbalance'):.3f} | {med('remote_claims'):.0f} |")
    return "\n".join(out) + "\n"


def main():
    results = sys.argv[1] if len(sys.argv) > 1 else "bench/results/balance"
    if os.path.exists(f"{results}/mandelbrot.tsv"):
        print(mandelbrot(f"{results}/mandelbrot.tsv"))
    if not os.path.exists(f"{results}/runs.tsv"):
        return
    med = load(f"{results}/runs.tsv")
    means = sorted({k[4] for k in med}, key=float)
    for mean in means:
        print(table(med, mean))
    worst = {}
    for (system, layout, schedule, profile, mean), r in med.items():
        if system.startswith("pmap") and schedule == "dynamic":
            key = (system, layout, mean)
            if r > worst.get(key, (0, ""))[0]:
                worst[key] = (r, profile)
    if worst:
        print("default schedule (dynamic, chunk auto): worst median ratio over the profiles\n")
        cols = sorted({(s, l) for s, l, _ in worst})
        print("| mean item | " + " | ".join(f"{s} {l}" for s, l in cols) + " |")
        print("|---|" + "---:|" * len(cols))
        for mean in means:
            cells = []
            for s, l in cols:
                r, p = worst.get((s, l, mean), (None, ""))
                cells.append(f"{r:.3f} ({p})" if r is not None else "")
            print(f"| {float(mean) * 1000:g} ms | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
