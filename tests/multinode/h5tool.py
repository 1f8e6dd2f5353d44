#!/usr/bin/python3
"""Reads pmap results files for the multinode tests (Debian's python3-h5py).

  h5tool.py same A.h5 B.h5      exit 0 when /compute/item, value and status are byte-identical
                                and the report checksums are equal; says what differs otherwise
  h5tool.py ranks FILE.h5       one line a rank: rank host threads items busy_seconds
  h5tool.py status FILE.h5      ok=N failed=N timed_out=N not_run=N rows=N
  h5tool.py attr FILE.h5 NAME   one attribute of /compute
  h5tool.py urls FILE.h5        exists=N does_not_exist=N unknown=N not_checked=N rows=N
  h5tool.py bound FILE.h5 WALL WORKERS   ratio=R bound=B (max(sum of /compute/seconds / WORKERS,
                                the longest item)) sum=S longest=L: the wall time over the bound
"""
import sys

import h5py
import numpy as np


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def same(a, b):
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        bad = []
        for name in ("item", "value", "status"):
            x, y = fa["compute"][name][()], fb["compute"][name][()]
            if x.dtype != y.dtype or x.shape != y.shape:
                bad.append(f"{name}: {x.dtype}{x.shape} vs {y.dtype}{y.shape}")
            elif x.tobytes() != y.tobytes():
                rows = np.nonzero(np.any((x != y).reshape(len(x), -1), axis=1))[0]
                bad.append(f"{name}: {len(rows)} rows differ, first {rows[:5].tolist()}")
        ca, cb = (text(f["compute"].attrs.get("checksum", "")) for f in (fa, fb))
        if ca != cb:
            bad.append(f"checksum {ca} vs {cb}")
    if bad:
        print(f"{a} and {b} differ: " + "; ".join(bad))
        return 1
    print(f"identical item/value/status bytes and checksum {ca}: {a} = {b}")
    return 0


def ranks(path):
    with h5py.File(path, "r") as f:
        for r in f["compute"]["ranks"][()]:
            print(int(r["rank"]), text(r["host"]), int(r["threads"]), int(r["items"]),
                  f"{float(r['busy_seconds']):.3f}")
    return 0


def status(path):
    with h5py.File(path, "r") as f:
        s = f["compute"]["status"][()]
    print(f"ok={int((s == 0).sum())} failed={int((s == 1).sum())} "
          f"timed_out={int((s == 2).sum())} not_run={int((s == -1).sum())} rows={len(s)}")
    return 0


def attr(path, name):
    with h5py.File(path, "r") as f:
        print(text(f["compute"].attrs[name]))
    return 0


def urls(path):
    with h5py.File(path, "r") as f:
        v = f["urls"]["verdict"][()].astype(int)
    print(f"exists={int((v == 0).sum())} does_not_exist={int((v == 1).sum())} "
          f"unknown={int((v == 2).sum())} not_checked={int((v == -1).sum())} rows={len(v)}")
    return 0


def bound(path, wall, workers):
    with h5py.File(path, "r") as f:
        s = f["compute"]["seconds"][()]
    b = max(float(s.sum()) / int(workers), float(s.max()))
    print(f"ratio={float(wall) / b:.4f} bound={b:.4f} sum={float(s.sum()):.4f} "
          f"longest={float(s.max()):.4f}")
    return 0


def main(argv):
    commands = {"same": (same, 2), "ranks": (ranks, 1), "status": (status, 1),
                "attr": (attr, 2), "urls": (urls, 1), "bound": (bound, 3)}
    if len(argv) < 2 or argv[1] not in commands or len(argv) - 2 != commands[argv[1]][1]:
        print(__doc__, file=sys.stderr)
        return 2
    fn, _ = commands[argv[1]]
    return fn(*argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
