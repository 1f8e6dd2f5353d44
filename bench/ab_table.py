#!/usr/bin/env python3
"""The table of bench/ab.sh: per workload the median before and after, the ratio of the medians
(after / before: below 1 is faster) and the range of the per-repetition ratios.

    bench/ab_table.py bench/results/ab/ab.tsv
"""
import csv
import os
import re
import sys
from collections import defaultdict

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import pmaptools  # noqa: E402

METRIC = {"stage": "stage wall", "whole": "whole command", "map": "map() median",
          "cpu": "CPU of the command"}


def main(path):
    runs = defaultdict(dict)  # (workload, metric) -> {(side, rep): seconds}
    order = []
    for row in csv.DictReader(open(path), delimiter="\t"):
        if row["rep"] == "0":
            continue  # warm-up
        key = (row["workload"], row["metric"])
        if key not in runs:
            order.append(key)
        runs[key][(row["side"], row["rep"])] = pmaptools.number(row["seconds"])
    rates = []  # W2 as items/s, the figure
    print("| workload | measured | before [s] | after [s] | after / before | per-rep ratios |")
    print("| --- | --- | ---: | ---: | ---: | --- |")
    for key in order:
        values = runs[key]
        reps = sorted({rep for _, rep in values}, key=int)
        before = pmaptools.median(values.get(("before", r)) for r in reps)
        after = pmaptools.median(values.get(("after", r)) for r in reps)
        ratios = [values[("after", r)] / values[("before", r)] for r in reps
                  if values.get(("after", r)) and values.get(("before", r))]
        spread = (f"{min(ratios):.2f}–{max(ratios):.2f} ({len(ratios)})" if ratios else "")
        ratio = after / before if before and after else None
        print(f"| {key[0]} | {METRIC[key[1]]} | {pmaptools.fmt(before)} | {pmaptools.fmt(after)} "
              f"| {pmaptools.fmt(ratio, 2)} | {spread} |")
        items = re.match(r"W2 .* x (\d+),", key[0])
        if items and before and after and key[1] == "stage":
            rates.append(f"{key[0]}: {int(items[1]) / before / 1e6:.1f} M items/s before, "
                         f"{int(items[1]) / after / 1e6:.1f} M after")
    print("\nEvery column is seconds, lower is better; after / before below 1 means the after build"
          " is faster. Per-rep ratios: min-max over the repetitions (count).")
    for line in rates:
        print(f"- {line}")


if __name__ == "__main__":
    main(sys.argv[1])
