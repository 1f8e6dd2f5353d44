#!/usr/bin/env python3
"""The Python tools pmap's worker kernel is measured against (bench/workers.sh).

    python3 bench/workers_anchors.py --system mp_pool --task double --n 1000000 --workers 2
    mpirun -np 3 python3 -m mpi4py.futures bench/workers_anchors.py --system mpi_futures ...

Starts the pool, warms every worker up with a few trivial calls, then times the map of the task
over its items (results collected in memory, checked). Prints one JSON line: system, task, n,
workers, start_s (pool start + warm-up), map_s (the map alone).

Systems: mp_pool (multiprocessing.Pool.map, default chunksize ceil(n / 4P)), mpi_futures
(mpi4py.futures.MPIPoolExecutor.map, chunksize ceil(n / 4P); workers: the other ranks),
joblib_loky (joblib.Parallel, loky, batch_size='auto'), tpe (ThreadPoolExecutor.map).
"""
import argparse
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workers_fns as fns  # noqa: E402

TASKS = {
    "double": (fns.double, lambda n: range(n), lambda x, r: r == 2 * x),
    "compute_x": (fns.compute_x, lambda n: range(1, n + 1), lambda x, r: r == (x, 2)),
    "sqrt_sum": (fns.sqrt_sum, lambda n: range(n), lambda x, r: r >= 0),
}


class Pool:
    """A started pool of `system` with P workers: map(fn, xs) -> list."""

    def __init__(self, system, P, n):
        self.system, chunk = system, max(1, math.ceil(n / (4 * P)))
        if system == "mp_pool":
            import multiprocessing as mp
            self.pool = mp.Pool(P)
            self.map = lambda fn, xs: self.pool.map(fn, xs)
            self.close = self.pool.close
        elif system in ("mpi_futures", "tpe"):
            if system == "tpe":
                from concurrent.futures import ThreadPoolExecutor as Executor
                self.ex = Executor(max_workers=P)
                chunk = 1
            else:
                from mpi4py.futures import MPIPoolExecutor as Executor
                self.ex = Executor()
            self.map = lambda fn, xs: list(self.ex.map(fn, xs, chunksize=chunk))
            self.close = lambda: self.ex.shutdown(wait=True)
        elif system == "joblib_loky":
            from joblib import Parallel, delayed
            self.par = Parallel(n_jobs=P, backend="loky")
            self.par.__enter__()
            self.map = lambda fn, xs: self.par(delayed(fn)(x) for x in xs)
            self.close = lambda: self.par.__exit__(None, None, None)
        else:
            raise SystemExit("unknown system %s" % system)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--system", required=True)
    ap.add_argument("--task", required=True, choices=sorted(TASKS))
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--workers", type=int, required=True)
    a = ap.parse_args()
    fn, items, check = TASKS[a.task]
    xs = list(items(a.n))
    t0 = time.perf_counter()
    pool = Pool(a.system, a.workers, a.n)
    pool.map(fns.double, range(4 * a.workers))  # every worker started
    t1 = time.perf_counter()
    out = pool.map(fn, xs)
    t2 = time.perf_counter()
    pool.close()
    if len(out) != len(xs) or not all(check(x, r) for x, r in zip(xs, out)):
        sys.exit("workers_anchors.py: WRONG RESULT")
    print(json.dumps(dict(system=a.system, task=a.task, n=a.n, workers=a.workers,
                          start_s=round(t1 - t0, 6), map_s=round(t2 - t1, 6))), flush=True)


if __name__ == "__main__":
    main()
