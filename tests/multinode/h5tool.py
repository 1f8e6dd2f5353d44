#!/usr/bin/python3
"""Reads pmap results files for the multinode tests (Debian's python3-h5py).

  h5tool.py same A.h5 B.h5      exit 0 when /compute/item, value and status are byte-identical
                                and the report checksums are equal; says what differs otherwise
  h5tool.py ranks FILE.h5       one line a rank: rank host threads items busy_seconds
  h5tool.py status FILE.h5      ok=N failed=N timed_out=N not_run=N rows=N
  h5tool.py attr FILE.h5 NAME   one attribute of /compute (or of / if absent)
  h5tool.py urls FILE.h5        exists=N does_not_exist=N unknown=N not_checked=N rows=N
"""
import os
import sys

import h5py

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import pmaptools  # noqa: E402  (the repository's shared helpers)
from pmaptools import text  # noqa: E402


def same(a, b):
    bad = pmaptools.compute_differences(a, b)
    if bad:
        print(f"{a} and {b} differ: " + "; ".join(bad))
        return 1
    print(f"identical item/value/status bytes and checksum "
          f"{pmaptools.file_attr(a, 'checksum')}: {a} = {b}")
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
    print(" ".join(f"{k}={v}" for k, v in pmaptools.status_counts(s).items()) + f" rows={len(s)}")
    return 0


def attr(path, name):
    with h5py.File(path, "r") as f:
        value = pmaptools.attr(f, name)
    if value is None:
        print(f"{path}: no attribute {name} in /compute or /", file=sys.stderr)
        return 1
    print(text(value))
    return 0


def urls(path):
    with h5py.File(path, "r") as f:
        v = f["urls"]["verdict"][()].astype(int)
    print(f"exists={int((v == 0).sum())} does_not_exist={int((v == 1).sum())} "
          f"unknown={int((v == 2).sum())} not_checked={int((v == -1).sum())} rows={len(v)}")
    return 0


def main(argv):
    commands = {"same": (same, 2), "ranks": (ranks, 1), "status": (status, 1),
                "attr": (attr, 2), "urls": (urls, 1)}
    if len(argv) < 2 or argv[1] not in commands or len(argv) - 2 != commands[argv[1]][1]:
        print(__doc__, file=sys.stderr)
        return 2
    fn, _ = commands[argv[1]]
    return fn(*argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
