#!/usr/bin/python3
"""Checks on pmap results files for the Slurm tests (Debian's /usr/bin/python3 + python3-h5py).

    h5check.py same A.h5 B.h5        /compute item, value and status byte-identical, and the
                                     run checksums equal
    h5check.py same-urls A.h5 B.h5   /urls url, verdict, http_status, attempts, error and
                                     final_url identical, every row checked
    h5check.py complete F.h5 [--ranks R] [--threads T]
                                     every item ok; the run's layout is R ranks x T threads
    h5check.py partial F.h5          a checkpoint: some items ok, some not run (-1), nothing
                                     else; every ok row of compute_x holds (x, y)
    h5check.py default F.h5 M        the default job: compute_x over 1..10 with y=2, all ok,
                                     then M URLs checked in /urls
    h5check.py attr F.h5 NAME        print attribute NAME of /compute (or of / if absent)

Exit 0 when the check holds, 1 with the reason on stderr when it does not.
"""
import json
import os
import re
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from pmaptools import attr, compute_differences  # noqa: E402  (the repository's shared helpers)


def fail(message):
    print(f"h5check: {message}", file=sys.stderr)
    sys.exit(1)


def open_group(path, name):
    """The file and its group NAME; fails when either is missing."""
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        fail(f"{path}: cannot open: {e}")
    if name not in f:
        fail(f"{path}: no /{name} group")
    return f, f[name]


def load(path):
    f, c = open_group(path, "compute")
    return f, c, c["item"][:], c["value"][:], c["status"][:]


def same(a, b):
    for path in (a, b):
        open_group(path, "compute")  # fails clearly when a file or its /compute is missing
    bad = compute_differences(a, b)
    if bad:
        fail(f"{a} and {b} differ: " + "; ".join(bad))
    print(f"h5check: {a} and {b}: item/value/status bytes and checksum identical")


def same_urls(a, b):
    _, ua = open_group(a, "urls")
    _, ub = open_group(b, "urls")
    if ua["verdict"].shape != ub["verdict"].shape:
        fail(f"/urls sizes differ: {a} {ua['verdict'].shape} vs {b} {ub['verdict'].shape}")
    unchecked = int(np.count_nonzero(ua["verdict"][:] < 0))
    if unchecked:
        fail(f"{a}: {unchecked} rows not checked")
    for name in ("url", "verdict", "http_status", "attempts", "error", "final_url"):
        da, db = ua[name][:], ub[name][:]
        if name == "error":  # curl's texts carry timings: "... port 1 after 0 ms: ..."
            da, db = (np.array([re.sub(rb"\d+ ms", b"N ms", e) for e in d]) for d in (da, db))
        if not np.array_equal(da, db):
            rows = np.nonzero(da != db)[0]
            fail(f"/urls/{name} differs in {len(rows)} rows, first {rows[:3].tolist()}: "
                 f"{da[rows[:3]].tolist()} vs {db[rows[:3]].tolist()}")
    print(f"h5check: {a} and {b}: {len(ua['verdict'])} URL rows identical")


def complete(path, ranks, threads):
    f, _, items, _, status = load(path)
    bad = np.count_nonzero(status != 0)
    if bad:
        fail(f"{path}: {bad} of {len(status)} items not ok (status values "
             f"{sorted(set(status.tolist()))})")
    got_ranks, got_threads = attr(f, "mpi_ranks"), attr(f, "omp_threads")
    report = attr(f, "report") or ""
    if ranks is not None and int(got_ranks) != ranks:
        fail(f"{path}: ran on {got_ranks} ranks, expected {ranks} ({report})")
    if threads is not None and int(got_threads) != threads:
        fail(f"{path}: ran with {got_threads} threads per rank, expected {threads} ({report})")
    print(f"h5check: {path}: {len(items)} items ok, {got_ranks} ranks x {got_threads} threads")


def partial(path):
    f, _, items, values, status = load(path)
    kinds = set(status.tolist())
    if not kinds <= {0, -1}:
        fail(f"{path}: status holds {sorted(kinds)}, a checkpoint holds only 0 and -1")
    ok = np.count_nonzero(status == 0)
    if ok == 0 or ok == len(status):
        fail(f"{path}: {ok} of {len(status)} items ok: not a mid-run checkpoint")
    if attr(f, "kernel") == "compute_x":
        y = json.loads(attr(f, "args")).get("y", 2.0)
        rows = status == 0
        if not (np.array_equal(values[rows, 0], items[rows].astype(float))
                and np.all(values[rows, 1] == y)):
            fail(f"{path}: an ok row does not hold (x, y={y})")
    print(f"h5check: {path}: checkpoint with {ok} of {len(status)} items ok, the rest not run")


def default_job(path, urls):
    f, _, items, values, status = load(path)
    if not np.array_equal(items, np.arange(1, 11)) or np.any(status != 0):
        fail(f"{path}: not the default job's 10 ok items: {items.tolist()} {status.tolist()}")
    if not (np.array_equal(values[:, 0], items.astype(float)) and np.all(values[:, 1] == 2.0)):
        fail(f"{path}: the default job's values are not (x, 2)")
    if "urls" not in f or len(f["urls"]["url"]) != urls:
        fail(f"{path}: expected /urls with {urls} URLs")
    verdicts = f["urls"]["verdict"][:]
    print(f"h5check: {path}: default job, 10 items ok, {urls} URLs checked "
          f"(verdicts {np.bincount(verdicts.astype(int), minlength=3).tolist()})")


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, path = argv[1], argv[2]
    if cmd == "same" and len(argv) == 4:
        same(path, argv[3])
    elif cmd == "same-urls" and len(argv) == 4:
        same_urls(argv[2], argv[3])
    elif cmd == "complete":
        opts = dict(zip(argv[3::2], argv[4::2]))
        complete(path, int(opts["--ranks"]) if "--ranks" in opts else None,
                 int(opts["--threads"]) if "--threads" in opts else None)
    elif cmd == "partial":
        partial(path)
    elif cmd == "default" and len(argv) == 4:
        default_job(path, int(argv[3]))
    elif cmd == "attr" and len(argv) == 4:
        f, *_ = load(path)
        value = attr(f, argv[3])
        if value is None:
            fail(f"{path}: no attribute {argv[3]}")
        print(value)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
