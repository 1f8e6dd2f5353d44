#!/usr/bin/env python3
"""Markdown tables (medians and ratios) from the raw results of bench/urls.sh, and its helpers.

    bench/url_table.py bench/results/urls          all tables (what urls.sh prints at the end)
    bench/url_table.py record ...                  one run -> one JSON line (called by urls.sh)
    bench/url_table.py bound LIST C DELAY TIMEOUT  in-order bound of a list split by host
    bench/url_table.py check-h5 FILE.h5 TSV        /urls of a results file against the expected TSV

Raw inputs in the results folder (written by urls.sh):
    machine.txt, load.txt     key=value lines
    bounds.txt                "A C=<C> simple=<s> inorder=<s> split_inorder=<s> split_simple=<s>"
    runs.jsonl                one JSON object per timed run (run 0 = warm-up, not in medians)
Cost model of the bounds (the same as ../shared/bench/make_urls.py): /ok, /missing, /error take
the server delay D, /redirect 2 D (two requests), /hang the client timeout; "simple" is
max(total / C, longest), "in-order" the makespan of an ideal zero-overhead pool of C slots taking
the list in order. make_urls.py prints both for one pool; `bound` computes the in-order bound for
pmap under mpirun, where each rank takes the URLs of its hosts, in order, with C/ranks slots.
"""
import heapq
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
# The repository's shared helpers (key=value logs, medians, formatting).
from pmaptools import fmt, read_jsonl, read_lines, report_lines  # noqa: E402
from pmaptools import median as med  # noqa: E402

TARGET_A = {32: 0.03, 128: 0.05}  # whole-process wall within this fraction of the in-order bound
TARGET_B = 10.0                   # pmap URLs/s >= 10 x ThreadPoolExecutor + requests
TARGET_C = 0.25                   # 100,000 URLs at C=1000: within 25% of the bound
KINDS = ("ok", "missing", "error", "redirect", "hang")
VERDICTS = ("exists", "does not exist", "unknown")


# ----------------------------------------------------------------------------------- helpers
def fmt_int(x):
    return "" if x is None else f"{x:,.0f}"


def mark(ok):
    return "**met**" if ok else "**NOT met**"


def kind_of(url):
    """The make_urls.py kind of a URL (http://host:port/KIND/N)."""
    parts = url.split("/")
    return parts[3] if len(parts) > 4 and parts[3] in KINDS else None


def host_of(url):
    return url.split("/")[2].rsplit(":", 1)[0]


def fnv1a(text):
    """pmap::host_hash: FNV-1a 64 of the host name (URLs go to rank hash % ranks)."""
    h = 0xCBF29CE484222325
    for b in text.encode():
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def read_list(path):
    """URLs (first TAB field) and expected verdicts (second field, if any) of a list/TSV."""
    urls, expect = [], []
    with open(path) as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if fields[0] and not fields[0].startswith("#"):
                urls.append(fields[0])
                expect.append(fields[1] if len(fields) > 1 else None)
    return urls, expect


def bounds_of(kinds, delay, timeout, slots):
    """(simple, in-order) bounds of one pool of `slots` taking `kinds` in order."""
    cost = {"ok": delay, "missing": delay, "error": delay, "redirect": 2 * delay, "hang": timeout}
    costs = [cost[k] for k in kinds]
    if not costs:
        return 0.0, 0.0
    simple = max(sum(costs) / slots, max(costs))
    pool = [0.0] * slots
    for c in costs:
        heapq.heappush(pool, heapq.heappop(pool) + c)
    return simple, max(pool)


# ----------------------------------------------------------------------------------- subcommands
def cmd_bound(argv):
    """bound LIST C DELAY TIMEOUT [RANKS]: bounds when each rank takes its hosts' URLs in order
    with C/RANKS slots (pmap under mpirun). Prints "split_simple=S split_inorder=S ranks_used=K"."""
    path, conc, delay, timeout = argv[0], int(argv[1]), float(argv[2]), float(argv[3])
    ranks = int(argv[4]) if len(argv) > 4 else 2
    urls, _ = read_list(path)
    by_rank = {}
    for u in urls:
        by_rank.setdefault(fnv1a(host_of(u)) % ranks, []).append(kind_of(u))
    slots = max(1, conc // ranks)
    res = [bounds_of(k, delay, timeout, slots) for k in by_rank.values()]
    print(f"split_simple={max(r[0] for r in res):.3f} split_inorder={max(r[1] for r in res):.3f} "
          f"ranks_used={len(by_rank)} per_rank={'/'.join(str(len(v)) for _, v in sorted(by_rank.items()))}")


def check_h5(path, tsv):
    """/urls of a pmap results file against the expected verdicts, row by row."""
    import h5py
    urls, expect = read_list(tsv)
    names = {0: "exists", 1: "does not exist", 2: "unknown", -1: "not checked"}
    with h5py.File(path, "r") as f:
        g = f["urls"]
        verdict = g["verdict"][:]
        url = g["url"][:]
        attempts = g["attempts"][:]
    counts, wrong = {}, 0
    for i, (u, e) in enumerate(zip(urls, expect)):
        got = names.get(int(verdict[i]), "?")
        counts[got] = counts.get(got, 0) + 1
        if got != e or url[i].decode() != u:
            wrong += 1
    return dict(n=len(verdict), counts=counts, wrong=wrong + abs(len(verdict) - len(urls)),
                max_attempts=int(attempts.max()) if len(attempts) else 0)


def cmd_check_h5(argv):
    print(json.dumps(check_h5(argv[0], argv[1])))


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def cmd_record(argv):
    """record KEY=VALUE...: one JSON line for runs.jsonl. Keys: meta (JSON of labels), t0, t1, rc,
    out (client stdout), tsv, checker (check_counts.py), summary (w4_url_check.py --summary),
    h5, time (prefix of /usr/bin/time files PREFIX.rankR), stats0, stats1 (fixture /stats)."""
    a = dict(x.split("=", 1) for x in argv)
    rec = json.loads(a.get("meta", "{}"))
    rec["whole_wall"] = float(a["t1"]) - float(a["t0"])
    rec["rc"] = int(a.get("rc", 0))
    out = a.get("out")
    if out and os.path.exists(out):
        with open(out) as f:
            text = f.read()
        reports = report_lines(text)
        if reports:
            rep = reports[0]
            rec["stage_wall"] = float(rep["wall_seconds"])
            rec["report"] = rep
        if a.get("checker") and a.get("tsv") and " - " in text:
            p = subprocess.run([sys.executable, a["checker"], a["tsv"]], input=text,
                               capture_output=True, text=True, check=True)
            c = json.loads(p.stdout)
            rec["check"] = dict(n=c["n"], counts=c["counts"], wrong=c["wrong"] + c["missing_lines"],
                                by="check_counts.py")
    summ = load_json(a["summary"]) if a.get("summary") else None
    if summ:
        rec["stage_wall"] = summ["wall_s"]
        rec["check"] = dict(n=summ["n"], counts=summ["counts"], wrong=summ["wrong"],
                            by="w4_url_check.py")
    if a.get("h5") and os.path.exists(a["h5"]):
        try:
            rec["check_h5"] = check_h5(a["h5"], a["tsv"])
        except Exception as e:  # noqa: BLE001 - a broken file is a result, not a crash
            rec["check_h5"] = dict(error=str(e), wrong=-1)
    if a.get("time"):
        rss, user, sys_ = [], 0.0, 0.0
        d, base = os.path.split(a["time"])
        for name in sorted(os.listdir(d or ".")):
            if name.startswith(base + ".rank"):
                with open(os.path.join(d, name)) as f:
                    last = [ln for ln in f.read().splitlines() if ln.strip()]
                try:
                    kb, _, u, s = last[-1].split()
                    rss.append(int(kb))
                    user += float(u)
                    sys_ += float(s)
                except (IndexError, ValueError):
                    pass
        rec["rss_kib"] = rss
        rec["cpu_user"], rec["cpu_sys"] = user, sys_
    s0, s1 = load_json(a.get("stats0", "")), load_json(a.get("stats1", ""))
    if s0 and s1:
        rec["server"] = dict(
            requests=s1["requests"], connections=s1["connections"],
            max_concurrent=s1["max_concurrent"],
            cpu=s1["cpu_seconds"] - s0["cpu_seconds"], elapsed=s1["uptime_seconds"] - s0["uptime_seconds"])
    print(json.dumps(rec, sort_keys=True))


# ----------------------------------------------------------------------------------- tables
def read_runs(results):
    return read_jsonl(os.path.join(results, "runs.jsonl"))


def groups(runs, section, keys):
    """Timed runs (run >= 1) of a section grouped by `keys`, in first-seen order."""
    out = {}
    for r in runs:
        if r.get("section") != section:
            continue
        k = tuple(r.get(x) for x in keys)
        out.setdefault(k, {"timed": [], "all": []})
        out[k]["all"].append(r)
        if r.get("run", 1) >= 1:
            out[k]["timed"].append(r)
    return out


def verdict_text(rs, expect_n=None):
    """'750/150/100, 0 wrong' over every run (warm-up included): the worst run's counts."""
    worst, total_wrong, bad_rc = None, 0, 0
    for r in rs:
        c = r.get("check") or {}
        h = r.get("check_h5") or {}
        wrong = (c.get("wrong") or 0) + max(h.get("wrong") or 0, 0) + (1 if h.get("wrong") == -1 else 0)
        if not c and not h:
            wrong += expect_n or 1
        total_wrong += wrong
        bad_rc += 1 if r.get("rc", 0) not in (0,) else 0
        if worst is None or wrong > worst[0]:
            worst = (wrong, c.get("counts") or h.get("counts") or {})
    if worst is None:
        return "", 1
    counts = worst[1]
    txt = "/".join(str(counts.get(v, 0)) for v in VERDICTS) + f", {total_wrong} wrong"
    if any(r.get("check_h5") for r in rs):
        txt += " (print + h5)" if any(r.get("check") for r in rs) else " (h5)"
    if bad_rc:
        txt += f", rc!=0 in {bad_rc}"
    return txt, total_wrong


def server_cols(rs):
    busy = med([r["server"]["cpu"] / r["server"]["elapsed"] for r in rs
                if r.get("server") and r["server"]["elapsed"] > 0])
    maxc = max((r["server"]["max_concurrent"] for r in rs if r.get("server")), default=None)
    us = med([1e6 * r["server"]["cpu"] / r["server"]["requests"] for r in rs
              if r.get("server") and r["server"]["requests"]])
    return busy, maxc, us


def cpu_of(rs):
    return med([(r.get("cpu_user") or 0) + (r.get("cpu_sys") or 0) for r in rs if "cpu_user" in r])


def rss_mib(rs):
    """Median over runs of the largest rank's peak RSS, MiB."""
    return med([max(r["rss_kib"]) / 1024 for r in rs if r.get("rss_kib")])


def table_machine(results):
    out = ["### Machine", ""]
    for line in read_lines(os.path.join(results, "machine.txt")):
        k, _, v = line.partition("=")
        out.append(f"* {k}: {v}")
    load = read_lines(os.path.join(results, "load.txt"))
    if load:
        out += ["", "Load before and after each section (1-s CPU busy fraction from /proc/stat, "
                "load average, top 3 processes):", ""]
        out += [f"* `{x}`" for x in load]
    return out


def parse_bounds(results):
    b = {}
    for line in read_lines(os.path.join(results, "bounds.txt")):
        toks = line.split()
        d = dict(t.split("=", 1) for t in toks[1:] if "=" in t)
        b[(toks[0], int(d["C"]))] = {k: float(v) for k, v in d.items()
                                     if k != "C" and re.fullmatch(r"[0-9.]+", v)}
    return b


def table_a(runs, results):
    g = groups(runs, "A", ("conc", "system"))
    if not g:
        return []
    bounds = parse_bounds(results)
    first = next(iter(g.values()))["all"][0]
    out = [f"### A. {first.get('n', 1000):,} URLs (70% 200, 15% 404, 5% 500, 5% 301 -> 200, 5% hang), "
           f"server delay {first.get('delay_ms', 50)} ms, client timeout {first.get('timeout', 2)} s", "",
           "Whole = the client process end to end (start-up, list reading, printing, for pmap also "
           "the HDF5 file; for mpirun rows mpirun itself); in-process = pmap's `wall_seconds` "
           "(stage start to end) or the anchor's own timer around its map. Bounds from "
           "`make_urls.py --bound C` (one pool of C); for `mpirun -np 2` rows the in-order bound "
           "of each rank taking its host's half of the list with C/2 slots (`url_table.py bound`). "
           "Verdicts: exists/does not exist/unknown of the worst run, wrong = rows differing from "
           "the expected TSV summed over every run (warm-up included). Server: the fixture's CPU "
           "busy fraction over the run, and the most requests it had in flight at once.", "",
           "| client | C | runs | whole wall [s] | min-max [s] | in-process [s] | in-order bound [s] "
           "| simple bound [s] | whole / in-order | in-process / in-order | verdicts | client CPU [s] "
           "| server busy | server max in flight | target |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---|"]
    verdicts = []
    for (conc, system), d in g.items():
        rs = d["timed"] or d["all"]
        whole = [r["whole_wall"] for r in rs]
        stage = med([r.get("stage_wall") for r in rs])
        b = bounds.get(("A", conc), {})
        split = rs[0].get("ranks", 1) > 1
        inorder = b.get("split_inorder") if split else b.get("inorder")
        simple = b.get("split_simple") if split else b.get("simple")
        mw = med(whole)
        vt, wrong = verdict_text(d["all"], rs[0].get("n"))
        busy, maxc, _ = server_cols(rs)
        target = ""
        if rs[0].get("target") and inorder:
            lim = TARGET_A.get(conc)
            if lim is not None:
                ok = mw <= inorder * (1 + lim) and wrong == 0
                target = f"<= +{lim:.0%} of in-order: {mark(ok)}"
                verdicts.append((f"A C={conc} {system}", ok, mw / inorder))
        out.append(
            f"| {system} | {conc} | {len(rs)} | {fmt(mw)} | {fmt(min(whole))}-{fmt(max(whole))} "
            f"| {fmt(stage)} | {fmt(inorder)} | {fmt(simple)} | {fmt(mw / inorder if inorder else None)} "
            f"| {fmt(stage / inorder if inorder and stage else None)} | {vt} | {fmt(cpu_of(rs), 2)} "
            f"| {fmt(busy, 2)} | {fmt_int(maxc)} | {target} |")
    out.append("")
    by_c = {}
    for (conc, system), d in g.items():
        rs = d["timed"] or d["all"]
        by_c.setdefault(conc, {})[rs[0].get("role")] = med([r["whole_wall"] for r in rs])
    for conc, w in by_c.items():
        b = bounds.get(("A", conc), {})
        if w.get("pmap") and b.get("inorder"):
            parts = [f"pmap (one process) {w['pmap']:.3f} s = {w['pmap'] / b['inorder'] - 1:+.1%} "
                     f"against the in-order bound {b['inorder']:.3f} s"]
            for role, name in (("curl", "curl --parallel"), ("tpe", "ThreadPoolExecutor"),
                               ("joblib", "joblib threading"), ("threadpool", "ThreadPool")):
                if w.get(role):
                    parts.append(f"{name} {w[role]:.3f} s (pmap {w[role] / w['pmap']:.2f}x as fast)")
            out.append(f"* C={conc}: " + "; ".join(parts) + ".")
    alls = [r for d in g.values() for r in d["timed"]]
    busy, maxc, us = server_cols(alls)
    if us:
        out.append(f"* Server in this section: busy {busy:.0%} of each run (median), at most {maxc} "
                   f"requests in flight, {us:.0f} us of CPU per request including connection set-up "
                   f"(requests opens a connection per URL): far below its capacity (section B); "
                   f"the 50 ms delays and the 2 s hangs set these times, not the server.")
    return out + [""]


def table_b(runs, results):
    g = groups(runs, "B", ("system", "conc", "n"))
    if not g:
        return []
    out = ["### B. Raw loopback throughput, zero delay (all /ok/N, HTTP/1.1 keep-alive server)", "",
           "URLs/s whole = URLs / whole-process wall; in-process = pmap's `urls_per_second` or the "
           "anchor's own timer. CPU per URL = user + system time of the client process(es) / URLs; "
           "server CPU per request and busy fraction from the fixture's /stats (getrusage). "
           "Capacity probes run after the comparison, on the same server.", "",
           "| client | C | URLs | runs | URLs/s whole | URLs/s in-process | min-max in-process | "
           "client CPU per URL [us] | server CPU per request [us] | server busy | verdicts | vs TPE (in-process) "
           "| vs TPE (whole) |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"]
    rows = []
    for (system, conc, n), d in g.items():
        rs = d["timed"] or d["all"]
        ws = [n / r["whole_wall"] for r in rs]
        ps = [n / r["stage_wall"] for r in rs if r.get("stage_wall")]
        busy, _, us = server_cols(rs)
        cpu = cpu_of(rs)
        vt, wrong = verdict_text(d["all"], n)
        rows.append(dict(system=system, conc=conc, n=n, runs=len(rs), whole=med(ws), proc=med(ps),
                         pmin=min(ps) if ps else None, pmax=max(ps) if ps else None,
                         cpu_us=1e6 * cpu / n if cpu else None, srv_us=us, busy=busy, vt=vt,
                         wrong=wrong, role=rs[0].get("role", "")))
    tpe = next((r for r in rows if r["role"] == "tpe"), None)
    verdicts = []
    for r in rows:
        vp = r["proc"] / tpe["proc"] if tpe and r["proc"] and tpe["proc"] else None
        vw = r["whole"] / tpe["whole"] if tpe and r["whole"] and tpe["whole"] else None
        label = r["system"]
        if r["role"] == "pmap" and vp is not None:
            label += f" (target >= {TARGET_B:.0f}x TPE: {mark(vp >= TARGET_B and r['wrong'] == 0)})"
        out.append(
            f"| {label} | {r['conc']} | {r['n']:,} | {r['runs']} | {fmt_int(r['whole'])} | {fmt_int(r['proc'])} "
            f"| {fmt_int(r['pmin'])}-{fmt_int(r['pmax'])} | {fmt(r['cpu_us'], 1)} | {fmt(r['srv_us'], 1)} "
            f"| {fmt(r['busy'], 2)} | {r['vt']} | {fmt(vp, 1, 'x')} | {fmt(vw, 1, 'x')} |")
    pm = next((r for r in rows if r["role"] == "pmap"), None)
    served = [r for r in rows if r["busy"] and (r["proc"] or r["whole"])]
    if served and pm:
        out.append("")
        for r in sorted(served, key=lambda r: -r["whole"]):
            out.append(f"* Server capacity seen by {r['system']}: it answered {r['whole']:,.0f} "
                       f"requests/s (over the client's whole run) while busy {r['busy']:.0%} of one "
                       f"core, {r['srv_us']:.1f} us per request: ~{1e6 / r['srv_us']:,.0f} requests/s "
                       f"at 100%.")
        if pm["cpu_us"] and pm["srv_us"] and pm["proc"]:
            ceiling = 2e6 / (pm["cpu_us"] + pm["srv_us"])
            out += [f"* pmap at C={pm['conc']}: {pm['cpu_us']:.1f} us of client CPU per URL + "
                    f"{pm['srv_us']:.1f} us of server CPU per request; with 2 cores shared by both, "
                    f"the CPU ceiling is 2 / ({pm['cpu_us']:.1f} + {pm['srv_us']:.1f}) us = "
                    f"~{ceiling:,.0f} URLs/s (measured {pm['proc']:,.0f}, server busy "
                    f"{pm['busy']:.0%}): the server is "
                    f"{'not ' if (pm['busy'] or 0) < 0.9 else ''}the limiting factor."]
    return out + [""]


def table_c(runs, results):
    g = groups(runs, "C", ("layout", "n"))
    if not g:
        return []
    first = next(iter(g.values()))["all"][0]
    conc, delay = first.get("conc", 1000), first.get("delay_ms", 100) / 1000
    out = [f"### C. Many URLs at concurrency {conc:,} (all /ok/N), server delay {delay * 1000:.0f} ms", "",
           f"Bound = URLs x {delay:g} s / {conc:,} (every URL costs exactly one delay). Peak RSS per "
           "rank = `/usr/bin/time` around each rank (the largest rank; median over runs). "
           "Verdicts read back from the HDF5 file, row by row, against the expected list (the --print row: "
           "check_counts.py on its output).", "",
           "| layout | URLs | runs | whole wall [s] | min-max [s] | in-process [s] | bound [s] | "
           "whole / bound | in-process / bound | peak RSS per rank [MiB] | client CPU [s] | verdicts | "
           "server busy | server max in flight | target |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|"]
    rss_by_layout = {}
    for (layout, n), d in g.items():
        rs = d["timed"] or d["all"]
        whole = [r["whole_wall"] for r in rs]
        stage = med([r.get("stage_wall") for r in rs])
        bound = n * delay / conc
        mw = med(whole)
        vt, wrong = verdict_text(d["all"], n)
        busy, maxc, _ = server_cols(rs)
        rss = rss_mib(rs)
        rss_by_layout.setdefault(layout, []).append((n, rss))
        target = ""
        if n >= 100_000 and rs[0].get("target") is not False:
            ok = mw <= bound * (1 + TARGET_C) and wrong == 0
            target = f"whole <= +{TARGET_C:.0%} of bound: {mark(ok)}"
        out.append(
            f"| {layout} | {n:,} | {len(rs)} | {fmt(mw)} | {fmt(min(whole))}-{fmt(max(whole))} | {fmt(stage)} "
            f"| {fmt(bound)} | {fmt(mw / bound)} | {fmt(stage / bound if stage else None)} | {fmt(rss, 1)} "
            f"| {fmt(cpu_of(rs), 2)} | {vt} | {fmt(busy, 2)} | {fmt_int(maxc)} | {target} |")
    out.append("")
    for layout, pts in rss_by_layout.items():
        pts = sorted(p for p in pts if p[1])
        if len(pts) >= 2:
            (n0, r0), (n1, r1) = pts[0], pts[-1]
            slope = (r1 - r0) * 1024 * 1024 / (n1 - n0)
            out.append(f"* Memory, {layout}: {r0:.1f} MiB at {n0:,} URLs -> {r1:.1f} MiB at {n1:,} "
                       f"(x{r1 / r0:.2f} for x{n1 / n0:.0f} URLs; {slope:.0f} bytes per extra URL "
                       f"of the job).")
    # What writing the HDF5 file costs: the same process shape with --print and no file.
    shape = {}
    for (layout, n), d in g.items():
        rs = d["timed"] or d["all"]
        key = (rs[0].get("ranks"), rs[0].get("threads"), n)
        shape.setdefault(key, {})[rs[0].get("role")] = med([r.get("stage_wall") for r in rs])
    for (ranks, threads, n), w in sorted(shape.items()):
        if w.get("pmap") and w.get("pmap_print"):
            bound = n * delay / conc
            out.append(f"* {ranks} x {threads}, {n:,} URLs: in-process {w['pmap']:.3f} s writing the HDF5 "
                       f"file, {w['pmap_print']:.3f} s with --print and no file ({w['pmap_print'] / bound - 1:+.1%} "
                       f"over the bound): the file costs {w['pmap'] - w['pmap_print']:+.3f} s.")
    alls = [r for d in g.values() for r in d["timed"]]
    busy, maxc, us = server_cols(alls)
    if us:
        out.append(f"* Server: {us:.1f} us of CPU per request (~{1e6 / us:,.0f} requests/s on one core), "
                   f"at most {maxc:,} requests in flight at once, busy {busy:.0%} of the run (median): "
                   f"it serves {conc:,} concurrent delayed requests without being the limit.")
    return out + [""]


def main():
    if len(sys.argv) > 1 and sys.argv[1] in ("record", "bound", "check-h5"):
        {"record": cmd_record, "bound": cmd_bound, "check-h5": cmd_check_h5}[sys.argv[1]](sys.argv[2:])
        return
    results = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "results", "urls")
    runs = read_runs(results)
    lines = table_machine(results) + [""]
    for part in (table_a, table_b, table_c):
        lines += part(runs, results)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
