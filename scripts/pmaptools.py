"""What pmap's Python scripts share (bench/, scripts/, tests/): the `pmap-report` line and other
key=value logs, medians and number formatting, run logs, and pmap results files.

Import it from a script anywhere in the repository through the script's own location:

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
    import pmaptools

Standard library only, except the results-file helpers, which import h5py and numpy when called
(Debian's python3-h5py belongs to /usr/bin/python3).
"""
import json
import math
import os
import shlex
import statistics

# ---------------------------------------------------------------------------- numbers, text


def number(text):
    """float(text), or None when it is missing or not a number."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def median(values, empty=None):
    """The median of the values that are not None; `empty` when there are none."""
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else empty


def fmt(value, digits=3, unit="", none=""):
    """A number with `digits` decimals and `unit`; `none` for None and NaN; others as str()."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return none
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:.{digits}f}{unit}"
    return f"{value}{unit}"


def text(value):
    """An HDF5 string (bytes or str) or any value as str."""
    return value.decode() if isinstance(value, bytes) else str(value)


# ------------------------------------------------------------------------------- key=value logs


def parse_kv(line):
    """The key=value tokens of one line (shell quoting allowed) as a dict; the first occurrence
    of a key wins, so a run's own tags written before a pmap-report line override its keys."""
    out = {}
    for tok in shlex.split(line):
        if "=" in tok:
            key, value = tok.split("=", 1)
            out.setdefault(key, value)
    return out


def report_lines(log):
    """Every `pmap-report key=value ...` line of a log (a string), parsed, in order."""
    return [parse_kv(line) for line in log.splitlines() if line.startswith("pmap-report ")]


def read_lines(path):
    """The non-empty lines of a file, without their newline; [] when the file does not exist."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def read_kv_file(path):
    """A file of key=value lines (machine.txt, study.txt) as a dict; {} when it does not exist."""
    return dict(line.split("=", 1) for line in read_lines(path) if "=" in line)


def read_runs(path, warmup="0"):
    """A run log, one key=value line a run (bench's w2.txt: "rep=1 ... <pmap-report line>"),
    as dicts; the warm-up repetition (rep=`warmup`) is dropped."""
    rows = [parse_kv(line) for line in read_lines(path)]
    return [r for r in rows if r.get("rep") != warmup]


def read_jsonl(path):
    """A file of JSON objects, one a line; [] when it does not exist."""
    return [json.loads(line) for line in read_lines(path)]


# ---------------------------------------------------------------------------- results files


def attr(f, name, group="compute"):
    """Attribute `name` of /group, else of the root, as str/int/float; None when neither has it.
    `f` is an open h5py.File."""
    for obj in ((f[group],) if group in f else ()) + (f,):
        if name in obj.attrs:
            value = obj.attrs[name]
            return value.decode() if isinstance(value, bytes) else value
    return None


def file_attr(path, name, group="compute"):
    """attr() of the file at `path`; None when it cannot be read."""
    try:
        import h5py
        with h5py.File(path, "r") as f:
            return attr(f, name, group)
    except (ImportError, OSError, KeyError):
        return None


def status_counts(status):
    """Counts of /compute/status values: ok, failed, timed_out, not_run (a numpy array)."""
    return dict(ok=int((status == 0).sum()), failed=int((status == 1).sum()),
                timed_out=int((status == 2).sum()), not_run=int((status == -1).sum()))


def compute_differences(a, b):
    """How the /compute results of files a and b differ: item, value and status compared byte
    for byte (type, shape, contents) and the run checksums; [] when they are the same."""
    import h5py
    import numpy as np
    bad = []
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        for f, path in ((fa, a), (fb, b)):
            if "compute" not in f:
                return [f"{path}: no /compute group"]
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
    return bad
