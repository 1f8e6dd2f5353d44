#!/usr/bin/env python3
"""Markdown tables (medians and ratios) from the raw results of bench/compute.sh.

    bench/table.py bench/results              all tables (what compute.sh prints)
    bench/table.py verify FILE.h5 N           check a W2 results file: every row present and right

Raw inputs in the results folder:
    machine.txt, load.txt         key=value lines
    w1_P<P>.json                  hyperfine --export-json (names carry "P=<P>")
    w1-np<P>*.h5, w1-t<P>*.h5     pmap's files of the last W1 run (in-process wall_seconds)
    anchor_w1/w1_P<P>.json        optional: the anchors' own run_w1.sh, same format
    w2.txt w3.txt w4.txt          one line per run: "key=value ... whole_wall=... <pmap-report>"
"""
import json
import math
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import pmaptools  # noqa: E402  (the repository's shared helpers)
from pmaptools import read_runs  # noqa: E402

TARGET_W1 = 0.1           # s above the empty MPI program (mpirun) / above ideal (one process)
TARGET_W2_RATE = 5e6      # items/s
TARGET_W2_RSS = 256.0     # MiB per rank
TARGET_W3 = 1.9           # speedup on 2 cores
TARGET_W4 = 1.10          # dynamic wall / lower bound
N_W1, SLEEP_W1 = 10, 0.8

# Measured by the anchor harness (/work/shared/bench/RESULTS-2026-11-25.md), quoted, not re-run.
ANCHOR_W2 = [
    ("multiprocessing.Pool.map, default chunksize (12500)", 4_545_000),
    ("ProcessPoolExecutor.map chunksize=12500", 2_137_000),
    ("mpi4py.futures chunksize=1000", 1_443_000),
    ("joblib loky, batch_size=auto", 295_000),
    ("serial Python loop (reference)", 14_490_000),
]
ANCHOR_W3 = [
    ("ProcessPoolExecutor (whole process)", 1.88),
    ("multiprocessing.Pool (whole process)", 1.80),
    ("joblib loky (whole process)", 1.19),
    ("numba prange, steady state in process", 1.98),
]


def med(xs):
    return pmaptools.median(xs, empty=float("nan"))


def mark(ok):
    return "**met**" if ok else "**NOT met**"


def fnum(d, k):
    return pmaptools.number(d.get(k))


def h5_attr(path, name):
    return pmaptools.number(pmaptools.file_attr(path, name))


# ------------------------------------------------------------------------------------- W1
def load_hf(path):
    with open(path) as f:
        res = json.load(f)["results"]
    rows = []
    for r in res:
        name = r["command"]
        m = re.search(r"P=(\d+)", name)
        t = r["times"]
        rows.append(dict(name=re.sub(r"\s*P=\d+$", "", name), P=int(m.group(1)) if m else 1,
                         med=statistics.median(t), lo=min(t), hi=max(t), n=len(t)))
    return rows


def w1(dirn):
    files = sorted((f for f in os.listdir(dirn) if re.fullmatch(r"w1_P\d+\.json", f)),
                   key=lambda f: int(re.findall(r"\d+", f)[0]))
    if not files:
        return
    print("## W1 launch overhead: compute_x, 10 items x sleep 0.8 s, whole-process wall (hyperfine)\n")
    print("Overhead = median wall - ideal, ideal = ceil(10/P) x 0.8 s (0 for `sleep=0` and the empty program). "
          "\"Above empty MPI\" = wall - ideal - (median wall of an empty MPI program, MPI_Init + MPI_Finalize, "
          "under the same mpirun, same hyperfine run).\n")
    print("| system | P | median wall [s] | min-max [s] | ideal [s] | overhead [s] | above empty MPI [s] | target |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    per_p = []
    diag1 = {}
    for fn in files:
        rows = load_hf(os.path.join(dirn, fn))
        P = rows[0]["P"]
        ideal = math.ceil(N_W1 / P) * SLEEP_W1
        empty = next((r["med"] for r in rows if r["name"].startswith("empty MPI")), None)
        found = {}
        for r in rows:
            nm = r["name"]
            if nm.startswith("diag1:"):
                diag1[nm[7:]] = r["med"]
                continue
            if nm.startswith("diag:"):
                found[nm] = r["med"]
                continue
            work = 0.0 if ("sleep=0" in nm or nm.startswith("empty")) else ideal
            over = r["med"] - work
            above, target = "", ""
            if "mpirun" in nm and empty is not None and not nm.startswith("empty"):
                above_v = r["med"] - work - empty
                above = f"{above_v:+.3f}"
                if nm.startswith("pmap") and "sleep=0" not in nm:
                    target = f"<= +{TARGET_W1} s above empty MPI: {mark(above_v <= TARGET_W1)}"
            if nm.startswith("pmap --threads") and "sleep=0" not in nm:
                target = f"<= +{TARGET_W1} s above ideal: {mark(over <= TARGET_W1)}"
            label = f"**{nm}**" if nm.startswith("pmap") and "sleep=0" not in nm else nm
            found[nm] = r["med"]
            print(f"| {label} | {P} | {r['med']:.3f} | {r['lo']:.3f}-{r['hi']:.3f} | {work:.2f} | "
                  f"{over:+.3f} | {above} | {target} |")
        per_p.append((P, ideal, empty, found))
    print()

    def pick(found, *words, without=()):
        for k, v in found.items():
            if all(w in k for w in words) and not any(w in k for w in without):
                return v
        return None

    def cell(v, sign=False):
        return "-" if v is None else (f"{v:+.3f}" if sign else f"{v:.3f}")

    def diff(a, b, c=0.0):
        return None if a is None or b is None else a - b - c

    if any(any(k.startswith("diag:") for k in f) for *_, f in per_p):
        print("### W1 breakdown under mpirun: where the time above the empty MPI program goes (medians, s)\n")
        print("Each line is a separate program under the same `mpirun -np P`, in the same hyperfine run; deltas are "
              "differences of medians (+-0.03 s of noise). In-process = pmap's own `wall_seconds` attribute "
              "(barrier after file creation to the end of the reductions; last run only).\n")
        print("| step | " + " | ".join(f"P={P}" for P, *_ in per_p) + " |")
        print("|---|" + "---:|" * len(per_p))
        lines = [
            ("a. `mpirun -np P pmap --version`: launch + exec + loading pmap's libraries, no MPI_Init",
             lambda P, i, e, f: pick(f, "diag:", "--version"), False),
            ("b. empty MPI program: MPI_Init + MPI_Finalize", lambda P, i, e, f: e, False),
            ("c. MPI_Init_thread(MULTIPLE) program", lambda P, i, e, f: pick(f, "diag:", "MULTIPLE"), False),
            ("c'. c only linked with Debian's parallel HDF5 (31 more libraries, no HDF5 call)",
             lambda P, i, e, f: pick(f, "diag:", "only linked"), False),
            ("d. c + parallel HDF5: rank 0 creates the file, all open it with MPI-IO, close",
             lambda P, i, e, f: pick(f, "diag:", "HDF5"), False),
            ("e. pmap, `--arg sleep=0` (every fixed cost, no work)",
             lambda P, i, e, f: pick(f, "pmap, mpirun", "sleep=0"), False),
            ("f. pmap, sleep 0.8 (the W1 job)", lambda P, i, e, f: pick(f, "pmap, mpirun", without=("sleep=0",)), False),
            ("MPI_Init + Finalize = b - a", lambda P, i, e, f: diff(e, pick(f, "diag:", "--version")), True),
            ("THREAD_MULTIPLE = c - b", lambda P, i, e, f: diff(pick(f, "diag:", "MULTIPLE"), e), True),
            ("of which loading the HDF5 libraries = c' - c",
             lambda P, i, e, f: diff(pick(f, "diag:", "only linked"), pick(f, "diag:", "MULTIPLE")), True),
            ("parallel HDF5 open/close = d - c",
             lambda P, i, e, f: diff(pick(f, "diag:", "HDF5"), pick(f, "diag:", "MULTIPLE")), True),
            ("rest of pmap's fixed cost = e - d",
             lambda P, i, e, f: diff(pick(f, "pmap, mpirun", "sleep=0"), pick(f, "diag:", "HDF5")), True),
            ("**pmap fixed cost above the empty program = e - b**",
             lambda P, i, e, f: diff(pick(f, "pmap, mpirun", "sleep=0"), e), True),
            ("work phase above ideal = f - e - ideal",
             lambda P, i, e, f: diff(pick(f, "pmap, mpirun", without=("sleep=0",)),
                                     pick(f, "pmap, mpirun", "sleep=0"), i), True),
            ("in-process wall - ideal (pmap's clock, last run)",
             lambda P, i, e, f: diff(h5_attr(os.path.join(dirn, f"w1-np{P}.h5"), "wall_seconds"), i), True),
            ("in-process wall, sleep=0 (last run)",
             lambda P, i, e, f: h5_attr(os.path.join(dirn, f"w1-np{P}-s0.h5"), "wall_seconds"), False),
        ]
        for title, fn_, sign in lines:
            print(f"| {title} | " + " | ".join(cell(fn_(P, i, e, f), sign) for P, i, e, f in per_p) + " |")
        print()
        print("### W1 breakdown as one process (no mpirun; medians, s)\n")
        print("| step | " + " | ".join(f"P={P}" for P, *_ in per_p) + " |")
        print("|---|" + "---:|" * len(per_p))
        one = [
            ("`pmap --version` (exec + loading pmap's libraries)",
             lambda P, i, f: diag1.get("pmap --version, one process (exec + loading pmap's libraries)")),
            ("empty MPI program, singleton as pmap starts it (ess_singleton_isolated=1, pml=ob1)",
             lambda P, i, f: next((v for k, v in diag1.items() if "isolated" in k), None)),
            ("empty MPI program, plain singleton (Open MPI forks an orted)",
             lambda P, i, f: next((v for k, v in diag1.items() if "plain" in k), None)),
            ("MPI_Init_thread(MULTIPLE) program, singleton as pmap starts it",
             lambda P, i, f: next((v for k, v in diag1.items() if k.startswith("MPI_Init_thread")), None)),
            ("... + parallel HDF5 create, MPI-IO open/close, singleton as pmap starts it",
             lambda P, i, f: next((v for k, v in diag1.items() if "HDF5" in k), None)),
            ("`pmap --threads P --arg sleep=0` (every fixed cost, no work)",
             lambda P, i, f: pick(f, "pmap --threads", "sleep=0")),
            ("work phase above ideal = pmap(0.8) - pmap(0) - ideal",
             lambda P, i, f: diff(pick(f, "pmap --threads", without=("sleep=0",)), pick(f, "pmap --threads", "sleep=0"), i)),
            ("in-process wall - ideal (pmap's clock, last run)",
             lambda P, i, f: diff(h5_attr(os.path.join(dirn, f"w1-t{P}.h5"), "wall_seconds"), i)),
            ("**whole wall - ideal**", lambda P, i, f: diff(pick(f, "pmap --threads", without=("sleep=0",)), i, 0.0)),
        ]
        for title, fn_ in one:
            vals = [fn_(P, i, f) for P, i, e, f in per_p]
            sign = "above" in title or "- ideal" in title
            print(f"| {title} | " + " | ".join(cell(v, sign) for v in vals) + " |")
        print()
    anchor_dir = os.path.join(dirn, "anchor_w1")
    if os.path.isdir(anchor_dir):
        af = sorted(os.path.join(anchor_dir, f) for f in os.listdir(anchor_dir) if f.endswith(".json"))
        if af:
            print("### W1 anchors, full set (`run_w1.sh` of the anchor harness, run by compute.sh)\n")
            print("| system | P | median wall [s] | min-max [s] | ideal [s] | overhead [s] |")
            print("|---|---:|---:|---:|---:|---:|")
            for p in af:
                for r in load_hf(p):
                    ideal = math.ceil(N_W1 / r["P"]) * SLEEP_W1
                    print(f"| {r['name']} | {r['P']} | {r['med']:.3f} | {r['lo']:.3f}-{r['hi']:.3f} | "
                          f"{ideal:.2f} | {r['med'] - ideal:+.3f} |")
            print()


# ------------------------------------------------------------------------------------- W2
def w2(dirn):
    rows = read_runs(os.path.join(dirn, "w2.txt"))
    if not rows:
        return
    ns = sorted({int(r["n"]) for r in rows})
    print("## W2 per-item overhead: `spin seconds=0`, mpirun -np 2, every result written to the HDF5 file\n")
    print("items/s = pmap-report `items_per_second` (items / pmap's wall, file create to close). Whole-process = "
          "`mpirun ...` end to end. Peak RSS per rank = `/usr/bin/time -f %M` around each rank "
          "(max of the 2 ranks), and pmap's own `max_rss_mib`.\n")
    print("| items | runs | items/s (pmap) | pmap wall [s] | write [s] | whole-process wall [s] | "
          "items/s whole-process | peak RSS/rank, time [MiB] | max_rss_mib (report) [MiB] | rc |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    summary = {}
    for n in ns:
        rs = [r for r in rows if int(r["n"]) == n]
        ips = med([fnum(r, "items_per_second") for r in rs])
        wall = med([fnum(r, "wall_seconds") for r in rs])
        write = med([fnum(r, "write_seconds") for r in rs])
        whole = med([fnum(r, "whole_wall") for r in rs])
        rss = med([max(int(x) for x in r["rank_rss_kib"].split(",")) / 1024 for r in rs if r.get("rank_rss_kib")])
        rrss = med([fnum(r, "max_rss_mib") for r in rs])
        rcs = ",".join(sorted({r.get("rc", "?") for r in rs}))
        okall = all(r.get("ok") == str(n) and r.get("not_run") == "0" for r in rs)
        summary[n] = dict(ips=ips, rss=rss, whole=whole, okall=okall)
        print(f"| {n:,} | {len(rs)} | {ips:,.0f} | {wall:.3f} | {write:.3f} | {whole:.3f} | {n / whole:,.0f} | "
              f"{rss:.1f} | {rrss:.1f} | {rcs}{'' if okall else ' (items missing!)'} |")
    print()
    lo, hi = ns[0], ns[-1]
    rate_ok = all(s["ips"] >= TARGET_W2_RATE for s in summary.values())
    rss_ok = all(s["rss"] < TARGET_W2_RSS for s in summary.values())
    flat = summary[hi]["rss"] / summary[lo]["rss"] if summary[lo]["rss"] else float("nan")
    rates = ", ".join("%.2f M/s" % (s["ips"] / 1e6) for s in summary.values())
    wrates = ", ".join("%.2f M/s" % (n / s["whole"] / 1e6) for n, s in summary.items())
    print(f"* Target >= {TARGET_W2_RATE:,.0f} items/s (pmap-report) at every N: {mark(rate_ok)} "
          f"({rates}); whole-process {wrates} (mpirun and MPI start-up included there).")
    print(f"* Target < {TARGET_W2_RSS:.0f} MiB per rank, flat from {lo:,} to {hi:,}: "
          f"{mark(rss_ok and flat < 1.25)} ({summary[lo]['rss']:.1f} -> {summary[hi]['rss']:.1f} MiB, "
          f"x{flat:.2f} for x{hi // lo} items).")
    vf = os.path.join(dirn, "w2_verify.txt")
    if os.path.exists(vf):
        with open(vf) as f:
            lines = [l.strip() for l in f if l.strip()]
        print("* File check (last run of each N, h5py): " + "; ".join(lines[-len(ns):]))
    print("\nAnchors (W2 of the anchor harness: 100,000 x `f(x)=x*x`, P=2, results kept in memory, "
          "in-process map time; **measured by the anchor harness, RESULTS-2026-11-25.md, not re-run here**):\n")
    print("| anchor system (P=2) | tasks/s | pmap items/s at N=10^6 / anchor |")
    print("|---|---:|---:|")
    for name, rate in ANCHOR_W2:
        print(f"| {name} | {rate:,} | {summary[lo]['ips'] / rate:.2f}x |")
    print()


# ------------------------------------------------------------------------------------- W3
def w3(dirn):
    rows = read_runs(os.path.join(dirn, "w3.txt"))
    if not rows:
        return
    print("## W3 CPU-bound scaling: `spin seconds=0.01`, 400 items (4 CPU-seconds)\n")
    print("Speedup (pmap) = pmap `wall_seconds` of 1 rank x 1 thread / this one's. Speedup (whole) = whole-process "
          "wall of 1 x 1 with the same launcher / this one's (mpirun's ~0.3 s start-up is in both).\n")
    print("| ranks x threads | launcher | runs | pmap wall [s] | min-max [s] | whole wall [s] | efficiency | "
          "speedup (pmap) | speedup (whole) | target >= 1.9 |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    cfgs = [("1x1", "none"), ("1x1", "mpirun"), ("2x1", "mpirun"), ("1x2", "none")]
    stats = {}
    for c, l in cfgs:
        rs = [r for r in rows if r.get("config") == c and r.get("launcher") == l]
        if not rs:
            continue
        w = [fnum(r, "wall_seconds") for r in rs]
        stats[(c, l)] = dict(wall=med(w), lo=min(w), hi=max(w), whole=med([fnum(r, "whole_wall") for r in rs]),
                             eff=med([fnum(r, "parallel_efficiency") for r in rs]), n=len(rs))
    base = stats.get(("1x1", "none"))
    for (c, l), s in stats.items():
        sp = base["wall"] / s["wall"] if base else float("nan")
        bw = stats.get(("1x1", l))
        spw = bw["whole"] / s["whole"] if bw else float("nan")
        tgt = ""
        if c != "1x1":
            tgt = f"pmap {mark(sp >= TARGET_W3)}, whole {mark(spw >= TARGET_W3)}"
        launcher = "mpirun -np " + c[0] if l == "mpirun" else "none (--threads " + c[2] + ")"
        print(f"| {c[0]} x {c[2]} | {launcher} | {s['n']} | {s['wall']:.3f} | {s['lo']:.3f}-{s['hi']:.3f} | "
              f"{s['whole']:.3f} | {s['eff']:.3f} | {sp:.2f}x | {spw:.2f}x | {tgt} |")
    print("\nAnchors (W3 of the anchor harness, 200 CPython items of ~15 ms, speedup P=1 -> P=2; "
          "**measured by the anchor harness, RESULTS-2026-11-25.md**): " +
          ", ".join(f"{n} {v:.2f}x" for n, v in ANCHOR_W3) + ".\n")


# ------------------------------------------------------------------------------------- W4
def w4(dirn):
    allrows = read_runs(os.path.join(dirn, "w4.txt"))
    if not allrows:
        return
    ranges = []
    for r in allrows:
        r.setdefault("range", "0:2048")
        if r["range"] not in ranges:
            ranges.append(r["range"])
    for rng in ranges:
        rows = [r for r in allrows if r["range"] == rng]
        what = {"0:2048": "the whole image, the issue's workload",
                "0:1024": "top half only: row cost rises towards the middle, the skewed case"}.get(rng, "")
        print(f"## W4 load balance: `mandelbrot`, rows {rng} of 2048 ({what}; width 2048, max_iter 1000), "
              "mpirun -np 2\n")
        print("Lower bound LB = busy_seconds / workers (pmap-report, per run; busy = summed per-item wall "
              "time). LB1 = (1 worker's pmap wall) / 2, measured without scheduling. Ratios are medians of "
              "per-run ratios.\n")
        serial = [fnum(r, "wall_seconds") for r in rows if r.get("schedule") == "serial"]
        lb1 = med(serial) / 2 if serial else float("nan")
        print("| schedule | runs | pmap wall [s] | min-max [s] | busy [s] | LB [s] | wall / LB | wall / LB1 | "
              "load_imbalance | parallel_efficiency | whole wall [s] | target (dynamic <= 1.10 x LB) |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for s in ["static", "cyclic", "dynamic", "guided"]:
            rs = [r for r in rows if r.get("schedule") == s]
            if not rs:
                continue
            w = [fnum(r, "wall_seconds") for r in rs]
            busy = [fnum(r, "busy_seconds") for r in rs]
            workers = [fnum(r, "workers") or 2 for r in rs]
            ratio = med([wi / (b / k) for wi, b, k in zip(w, busy, workers)])
            lb = med([b / k for b, k in zip(busy, workers)])
            tgt = f"{mark(ratio <= TARGET_W4)}" if s == "dynamic" else ""
            print(f"| {s} | {len(rs)} | {med(w):.3f} | {min(w):.3f}-{max(w):.3f} | {med(busy):.3f} | {lb:.3f} | "
                  f"{ratio:.3f} | {med(w) / lb1:.3f} | {med([fnum(r, 'load_imbalance') for r in rs]):.3f} | "
                  f"{med([fnum(r, 'parallel_efficiency') for r in rs]):.3f} | "
                  f"{med([fnum(r, 'whole_wall') for r in rs]):.3f} | {tgt} |")
        if serial:
            print(f"| (1 worker, `--threads 1`, no mpirun) | {len(serial)} | {med(serial):.3f} | "
                  f"{min(serial):.3f}-{max(serial):.3f} | | LB1 = {lb1:.3f} | | | | | | |")
        print()


def header(dirn):
    mf = os.path.join(dirn, "machine.txt")
    if os.path.exists(mf):
        print("## Machine\n")
        with open(mf) as f:
            for line in f:
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    print(f"* {k}: {v}")
        print()
    lf = os.path.join(dirn, "load.txt")
    if os.path.exists(lf):
        print("Load before each benchmark (1-s CPU busy fraction from /proc/stat, load average, top 3 processes):\n")
        with open(lf) as f:
            for line in f.readlines():
                print(f"* `{line.strip()}`")
        print()


def verify(path, n):
    """Every row of a W2 file present and right: status 0, item = row, value[:,0] = item."""
    import h5py
    import numpy as np
    with h5py.File(path, "r") as f:
        g = f["compute"]
        item = g["item"][...]
        status = g["status"][...]
        value = g["value"][:, 0]
        rank = g["rank"][...]
        exp = np.arange(n, dtype=np.int64)
        ok = (len(item) == n and bool((status == 0).all()) and bool((item == exp).all())
              and bool((value == exp.astype(np.float64)).all()))
        per_rank = np.bincount(rank, minlength=2).tolist()
    print(f"{os.path.basename(path)}: {n:,} rows, status all 0, item and value[:,0] = 0..N-1: "
          f"{'OK' if ok else 'FAILED'}; rows per rank {per_rank}")
    return 0 if ok else 1


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "verify":
        sys.exit(verify(sys.argv[2], int(sys.argv[3])))
    dirn = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "results")
    header(dirn)
    w1(dirn)
    w2(dirn)
    w3(dirn)
    w4(dirn)


if __name__ == "__main__":
    main()
