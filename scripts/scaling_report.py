#!/usr/bin/python3
"""Table and plots of a scaling study written by scripts/scaling.sh.

    /usr/bin/python3 scripts/scaling_report.py DIR

reads DIR/runs.csv and DIR/study.txt, writes DIR/table.md, DIR/speedup.png,
DIR/efficiency.png and DIR/breakdown.png. Debian's python3-matplotlib (and numpy) belong to
/usr/bin/python3; without matplotlib the table is still written and the plots are skipped.

Definitions (W = workers = ranks x threads, T = median wall seconds of the compute stage, the
baseline b is the layout with the fewest workers):
  strong scaling  speedup S = W_b * T_b / T, efficiency E = S / W
  weak scaling    efficiency E = T_b / T, scaled speedup S = W * E (Gustafson)
  Karp-Flatt      e = (1/S - 1/W) / (1 - 1/W), the experimentally determined serial fraction:
                  constant e means a fixed serial part; e growing with W means overhead
                  (communication, imbalance, start-up) growing with W
"""
import csv
import os
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pmaptools  # noqa: E402  (shared with bench/ and tests/)
from pmaptools import median, number, read_kv_file  # noqa: E402


def family(ranks, threads):
    if ranks == 1 and threads == 1:
        return "serial"
    if threads == 1:
        return "MPI"
    if ranks == 1:
        return "OpenMP"
    return "hybrid"


def summarise(rows):
    """One entry per (study, layout): medians over the successful repetitions."""
    groups = defaultdict(list)
    for row in rows:
        groups[(row["study"], row["layout"])].append(row)
    out = {}
    for (study, layout), runs in groups.items():
        good = [r for r in runs if r["exit_code"] == "0" and number(r["wall_seconds"])]
        first = runs[0]
        ranks, threads = int(first["ranks"]), int(first["threads"])
        entry = {
            "study": study, "layout": layout, "ranks": ranks, "threads": threads,
            "workers": ranks * threads, "family": family(ranks, threads),
            "runs": len(good), "failed": len(runs) - len(good),
        }
        for key in ("wall_seconds", "items_per_second", "busy_seconds", "load_imbalance",
                    "write_seconds", "parallel_efficiency", "max_rss_mib", "launch_seconds",
                    "items"):
            entry[key] = median([number(r[key]) for r in good])
        walls = [number(r["wall_seconds"]) for r in good]
        entry["wall_min"] = min(walls) if walls else None
        entry["wall_max"] = max(walls) if walls else None
        entry["checksums"] = sorted({r["checksum"] for r in good})
        out[(study, layout)] = entry
    return out


def add_speedups(entries):
    for study in ("strong", "weak"):
        rows = [e for e in entries.values() if e["study"] == study and e["wall_seconds"]]
        if not rows:
            continue
        base = min(rows, key=lambda e: (e["workers"], e["threads"]))
        tb, wb = base["wall_seconds"], base["workers"]
        for e in rows:
            w, t = e["workers"], e["wall_seconds"]
            if study == "strong":
                e["speedup"] = wb * tb / t
                e["efficiency"] = e["speedup"] / w
            else:
                e["efficiency"] = tb / t
                e["speedup"] = w * e["efficiency"]
            s = e["speedup"]
            e["karp_flatt"] = (1 / s - 1 / w) / (1 - 1 / w) if w > 1 and s > 0 else None
            e["baseline"] = base["layout"]


def fmt(value, digits=3, none="—"):
    return pmaptools.fmt(value, digits, none=none)


def kind_sentence(meta):
    cpus = meta.get("cpus", "?")
    host_cpus = meta.get("host_cpus", cpus)
    where = f"{meta.get('host', '?')}, {host_cpus} CPUs"
    if meta.get("cpu_model"):
        where += f" ({meta['cpu_model']})"
    if meta.get("kind") == "sleep":
        return (f"**Sleep-based** ({meta.get('kernel')}): items wait instead of computing, so this "
                f"measures pmap's concurrency and overheads (scheduling, claims, writes), not CPU "
                f"throughput; layouts with more workers than the {host_cpus} CPUs are "
                f"deliberate. Machine: {where}.")
    return (f"**CPU-bound** ({meta.get('kernel')}): every worker needs a core, so layouts stop at "
            f"the {cpus} CPUs. Machine: {where}.")


def order(e):
    return (e["workers"], -e["ranks"])


def write_table(directory, meta, entries, rows):
    lines = [f"# {meta.get('title', 'pmap scaling study')}", ""]
    lines.append(f"Command: `{meta.get('command', '?')}`, launcher {meta.get('launcher', '?')}, "
                 f"{meta.get('reps', '?')} repetitions per layout (medians), "
                 f"{meta.get('pmap_version', 'pmap')}, {meta.get('date', '')}.")
    lines.append("")
    lines.append(kind_sentence(meta))
    lines.append("")
    load = number((meta.get("loadavg") or "").split(" ")[0])
    host_cpus = number(meta.get("host_cpus"))
    cap0, cap1 = number(meta.get("cpu_capacity_start")), number(meta.get("cpu_capacity_end"))
    if cap0 is not None and host_cpus:
        when = f"{cap0:.2f} CPUs' worth of time at the start" + (
            f" and {cap1:.2f} at the end" if cap1 is not None else "")
        lines.append(f"Calibration: one busy process per CPU received {when}, of the "
                     f"{int(host_cpus)} a quiet machine gives: CPU-bound speedups cannot exceed "
                     "what the machine delivers.")
        lines.append("")
    niceness = int(number(meta.get("nice")) or 0)
    if load is not None and host_cpus and load > 0.25 * host_cpus:
        end = f" and {meta['loadavg_end']} when it ended" if meta.get("loadavg_end") else ""
        note = (f"Note: the load average was {meta['loadavg']} when the study started{end} "
                f"({int(host_cpus)} CPUs): other work shared the machine")
        if niceness < 0:
            note += (f"; the study ran at nice {niceness}, so it took the CPUs first, but "
                     "caches and memory bandwidth were still shared")
        elif meta.get("kind") == "sleep":
            note += ", so pmap's own overheads (the gap to ideal) are pessimistic"
        else:
            note += ", so CPU-bound times are pessimistic"
        lines.append(note + ".")
        lines.append("")
    for study in ("strong", "weak"):
        rows_s = sorted((e for e in entries.values() if e["study"] == study), key=order)
        if not rows_s:
            continue
        if study == "strong":
            lines.append("## Strong scaling (fixed total work)")
            lines.append("")
            lines.append("Speedup relative to the "
                         f"{rows_s[0].get('baseline', rows_s[0]['layout'])} layout; "
                         "efficiency = speedup / workers.")
            head = "speedup"
        else:
            lines.append("## Weak scaling (fixed work per worker)")
            lines.append("")
            lines.append("The range grows with the workers; efficiency = baseline wall / wall, "
                         "scaled speedup = workers x efficiency.")
            head = "scaled speedup"
        lines.append("")
        lines.append(f"| layout (ranks x threads) | kind | workers | items | median wall [s] | "
                     f"min-max [s] | {head} | efficiency | Karp-Flatt | load imbalance | "
                     "items/s | runs |")
        lines.append("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
        for e in rows_s:
            runs = f"{e['runs']}" + (f" ({e['failed']} failed)" if e["failed"] else "")
            lines.append(
                f"| {e['layout']} | {e['family']} | {e['workers']} | {fmt(e['items'], 0)} | "
                f"{fmt(e['wall_seconds'])} | {fmt(e['wall_min'], 2)}-{fmt(e['wall_max'], 2)} | "
                f"{fmt(e.get('speedup'), 2)} | "
                f"{fmt(e.get('efficiency'), 2)} | {fmt(e.get('karp_flatt'), 3)} | "
                f"{fmt(e['load_imbalance'], 2)} | {fmt(e['items_per_second'], 1)} | {runs} |")
        lines.append("")
        if study == "strong":
            sums = sorted({c for e in rows_s for c in e["checksums"]})
            if len(sums) == 1:
                lines.append(f"Self-check: every run produced checksum `{sums[0]}` — the same "
                             "results whatever the layout.")
            elif sums:
                lines.append(f"**Self-check failed**: the runs produced {len(sums)} different "
                             f"checksums ({', '.join(sums)}); results must not depend on the "
                             "layout.")
            lines.append("")
    # Ranks versus threads at the same worker count.
    strong = [e for e in entries.values() if e["study"] == "strong" and e["wall_seconds"]]
    by_workers = defaultdict(list)
    for e in strong:
        by_workers[e["workers"]].append(e)
    groups = {w: es for w, es in by_workers.items() if len(es) > 1}
    if groups:
        lines.append("## Ranks versus threads at the same worker count (strong scaling)")
        lines.append("")
        lines.append("Same work, same number of workers, split differently between MPI ranks "
                     "and OpenMP threads. \"vs best\" is the wall time over the fastest layout "
                     "with that many workers; memory is the peak RSS of one rank times the ranks.")
        lines.append("")
        lines.append("| workers | layout | kind | median wall [s] | vs best | efficiency | "
                     "compute [s/worker] | write [s] | memory [MiB] |")
        lines.append("|--:|---|---|--:|--:|--:|--:|--:|--:|")
        for w in sorted(groups):
            es = sorted(groups[w], key=lambda e: -e["ranks"])
            best = min(e["wall_seconds"] for e in es)
            for e in es:
                compute = e["busy_seconds"] / e["workers"] if e["busy_seconds"] else None
                memory = e["max_rss_mib"] * e["ranks"] if e["max_rss_mib"] else None
                lines.append(
                    f"| {w} | {e['layout']} | {e['family']} | {fmt(e['wall_seconds'])} | "
                    f"{fmt(e['wall_seconds'] / best, 2)} | {fmt(e.get('efficiency'), 2)} | "
                    f"{fmt(compute)} | {fmt(e['write_seconds'])} | {fmt(memory, 0)} |")
        lines.append("")
    failed = [r for r in rows if r["exit_code"] != "0"]
    if failed:
        lines.append(f"**{len(failed)} runs failed** and are left out: "
                     + ", ".join(f"{r['study']} {r['layout']} rep {r['rep']} (exit "
                                 f"{r['exit_code']})" for r in failed))
        lines.append("")
    lines.append("Wall = the compute stage's wall time from the pmap-report line (MPI start-up "
                 "excluded; it is `launch_seconds` in runs.csv). Karp-Flatt = (1/S - 1/W) / "
                 "(1 - 1/W): the serial fraction that would explain the speedup S on W workers.")
    lines.append("")
    (directory / "table.md").write_text("\n".join(lines))


MARKERS = {"serial": ("o", "black"), "MPI": ("s", "tab:blue"), "OpenMP": ("^", "tab:orange"),
           "hybrid": ("D", "tab:green")}


def plot(directory, meta, entries):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("scaling_report.py: matplotlib is missing (Debian: apt-get install "
              "python3-matplotlib): plots skipped", file=sys.stderr)
        return []
    studies = [s for s in ("strong", "weak")
               if any(e["study"] == s and e["wall_seconds"] for e in entries.values())]
    if not studies:
        return []
    kind = "sleep-based" if meta.get("kind") == "sleep" else "CPU-bound"
    subtitle = f"{meta.get('kernel', '')} ({kind}), {meta.get('host', '')}: " \
               f"{meta.get('host_cpus', '?')} CPUs"
    written = []

    def scatter(ax, study, key, ideal):
        es = sorted((e for e in entries.values() if e["study"] == study and e.get(key)),
                    key=order)
        ws = sorted({e["workers"] for e in es})
        if not ws:
            return
        if ideal == "linear":
            ax.plot(ws, ws, color="grey", linestyle="--", linewidth=1, label="ideal")
        else:
            ax.axhline(1.0, color="grey", linestyle="--", linewidth=1, label="ideal")
        serial = [e for e in es if e["family"] == "serial"]
        for fam, (marker, colour) in MARKERS.items():
            fs = [e for e in es if e["family"] == fam]
            if not fs:
                continue
            if fam in ("MPI", "OpenMP"):   # pure MPI and pure OpenMP: lines from the serial run
                line = serial + fs
                ax.plot([e["workers"] for e in line], [e[key] for e in line], color=colour,
                        linewidth=1)
            ax.plot([e["workers"] for e in fs], [e[key] for e in fs], marker=marker,
                    color=colour, linestyle="none", label=fam, markersize=6)
        for e in es:
            ax.annotate(e["layout"], (e["workers"], e[key]), textcoords="offset points",
                        xytext=(4, 4), fontsize=7, color="dimgrey")
        ax.set_xscale("log", base=2)
        ax.set_xticks(ws)
        ax.set_xticklabels([str(w) for w in ws])
        ax.set_xlabel("workers (ranks x threads)")
        ax.grid(True, alpha=0.3)

    for name, key, ideal, ylabel in (("speedup", "speedup", "linear", "speedup"),
                                     ("efficiency", "efficiency", "one", "efficiency")):
        fig, axes = plt.subplots(1, len(studies), figsize=(4.2 * len(studies), 3.4),
                                 squeeze=False)
        for ax, study in zip(axes[0], studies):
            scatter(ax, study, key, ideal)
            label = ylabel if study == "strong" or key == "efficiency" else "scaled speedup"
            ax.set_ylabel(label)
            ax.set_title(f"{study} scaling", fontsize=10)
            if key == "efficiency":
                top = max([1.05] + [e["efficiency"] * 1.05 for e in entries.values()
                                    if e.get("efficiency")])
                ax.set_ylim(0, top)
        axes[0][0].legend(fontsize=7, loc="best")
        fig.suptitle(f"{ylabel.capitalize()} — {subtitle}", fontsize=9)
        fig.tight_layout()
        path = directory / f"{name}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path)

    # Where the time goes: per layout, the wall split into compute, write and the rest.
    fig, axes = plt.subplots(1, len(studies), figsize=(4.6 * len(studies), 3.4), squeeze=False)
    for ax, study in zip(axes[0], studies):
        es = sorted((e for e in entries.values() if e["study"] == study and e["wall_seconds"]),
                    key=order)
        labels = [e["layout"] for e in es]
        compute = [(e["busy_seconds"] or 0) / e["workers"] for e in es]
        # Ranks write while others compute, so write can overlap compute: the bar is the wall
        # time, write is shown up to what compute leaves of it.
        write = [max(min(e["write_seconds"] or 0, e["wall_seconds"] - c), 0)
                 for e, c in zip(es, compute)]
        other = [max(e["wall_seconds"] - c - w, 0) for e, c, w in zip(es, compute, write)]
        xs = range(len(es))
        ax.bar(xs, compute, color="tab:blue", label="compute (busy / workers)")
        ax.bar(xs, write, bottom=compute, color="tab:red", label="write")
        ax.bar(xs, other, bottom=[c + w for c, w in zip(compute, write)], color="lightgrey",
               label="other (scheduling, communication, idle)")
        ax.set_xticks(list(xs))
        ax.set_xticklabels(labels, rotation=45, fontsize=7, ha="right")
        ax.set_ylabel("median seconds")
        ax.set_xlabel("layout (ranks x threads), by workers")
        ax.set_title(f"{study} scaling: time breakdown", fontsize=10)
        ax.grid(True, axis="y", alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="best")
    fig.suptitle(subtitle, fontsize=9)
    fig.tight_layout()
    path = directory / "breakdown.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    written.append(path)
    return written


def main(argv):
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        print(__doc__, file=sys.stderr)
        return 2
    directory = Path(argv[1])
    csv_path = directory / "runs.csv"
    if not csv_path.exists():
        print(f"scaling_report.py: {csv_path}: no such file", file=sys.stderr)
        return 2
    with csv_path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    meta = read_kv_file(directory / "study.txt")
    entries = summarise(rows)
    add_speedups(entries)
    write_table(directory, meta, entries, rows)
    for path in plot(directory, meta, entries):
        print(f"scaling_report.py: wrote {path}", file=sys.stderr)
    print(f"scaling_report.py: wrote {directory / 'table.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
