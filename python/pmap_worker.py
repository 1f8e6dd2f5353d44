"""Run a plain Python function as a pmap worker, with nothing but the standard library.

    pmap run --kernel worker --arg cmd='python3 -m pmap_worker mymodule:myfunction' \
             --arg columns=x,y --arg y=3 --range 1:11

pmap starts one such process per worker thread of every rank and streams it items; this module
speaks pmap's worker protocol (docs/worker-protocol.md) on the process's stdin and stdout and
calls ``myfunction(item, **args)`` for each item:

* the item is an ``int`` for ``--range``; an ``--input`` line, and every ``--arg`` value that
  is not one of the worker kernel's own (cmd, shell, columns, window, start_timeout, mpi_env),
  is converted like a literal: ``int`` if it reads as one, else ``float``, else ``True``/
  ``False`` for true/false (any case), else the text itself;
* the function returns a number (one column), a tuple or list of numbers (one per column, in
  order) or a dict of numbers keyed by the column names (``--arg columns=x,y``);
* an exception fails that item (status 1, ``TypeName: message (file:line)`` in
  ``/compute/errors``) and the worker goes on with the next one.

Answers leave in groups (a run of successes is one line) and the function is called over
slices of a range at once, so that a trivial function costs ~150 ns a call here.

``module`` is imported the way ``python3 -m`` finds modules: from the current directory first,
then PYTHONPATH. The module is imported and the function's signature checked against the
arguments before the worker says it is ready, so an import error or an unknown keyword stops
the run before anything is written, with the traceback in pmap's message. Whatever the function
prints goes to stderr: stdout carries the protocol only.

A script can also serve one of its functions itself (``cmd='python3 myscript.py'``)::

    if __name__ == "__main__":
        pmap_worker.serve(compute_x)
"""

import functools
import importlib
import inspect
import itertools
import os
import sys
import time
import traceback

PROTOCOL = "pmap-worker"
VERSION = "1"

_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_UNESCAPES = {"t": "\t", "n": "\n", "r": "\r"}


def escape(text):
    """A protocol field: backslash, tab, line feed and carriage return escaped."""
    if not any(c in text for c in "\\\t\n\r"):
        return text
    return "".join(_ESCAPES.get(c, c) for c in text)


def unescape(field):
    """The text of a protocol field."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        c = field[i]
        if c == "\\" and i + 1 < len(field):
            i += 1
            c = _UNESCAPES.get(field[i], field[i])
        out.append(c)
        i += 1
    return "".join(out)


def convert(text):
    """An input line or an --arg value as the literal it reads as (int, float, bool or text)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        pass
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    return text


def numbers(result, columns):
    """The function's result as a list of len(columns) numbers, or raises TypeError/ValueError."""
    if isinstance(result, dict):
        missing = [c for c in columns if c not in result]
        extra = [key for key in result if key not in columns]
        if missing or extra:
            raise ValueError(
                "returned a dict with keys %s, the columns are %s (--arg columns=...)"
                % (sorted(map(str, result)), list(columns)))
        items = [result[c] for c in columns]
    elif isinstance(result, (tuple, list)):
        items = result
    else:
        items = (result,)
    if len(items) != len(columns):
        raise ValueError("returned %d value%s, the columns are %s (--arg columns=...)"
                         % (len(items), "" if len(items) == 1 else "s", list(columns)))
    out = []
    for v in items:
        if type(v) is float or type(v) is int:
            out.append(v)
        elif isinstance(v, (str, bytes)) or not hasattr(v, "__float__"):
            raise TypeError("returned %r, expected a number, a tuple of numbers or a dict of "
                            "numbers" % (result,))
        else:
            out.append(float(v))  # bool, numpy scalars, Decimal, Fraction
    return out


def describe(error):
    """'TypeName: message (file:line)' of an exception, at the innermost frame."""
    text = "%s: %s" % (type(error).__name__, error)
    frames = traceback.extract_tb(error.__traceback__)
    if frames:
        last = frames[-1]
        text += " (%s:%d)" % (os.path.basename(last.filename), last.lineno)
    return text


class _Channel:
    """The protocol's stdin and stdout; stdout is kept for it and fd 1 becomes stderr."""

    def __init__(self):
        self.infd = 0
        self.outfd = os.dup(1)
        os.dup2(2, 1)  # prints, even from C code, go to stderr
        sys.stdout = sys.stderr
        self.pending = ""

    def blocks(self):
        """Yields the complete input lines of each read, as a list."""
        while True:
            chunk = os.read(self.infd, 1 << 16)
            if not chunk:
                return
            lines = (self.pending + chunk.decode("utf-8", "surrogateescape")).split("\n")
            self.pending = lines.pop()
            yield lines

    def write(self, text):
        data = text.encode("utf-8", "surrogateescape")
        while data:
            n = os.write(self.outfd, data)
            data = data[n:]


_PLAIN = {int, float}


class _Answers:
    """Answers waiting to be sent: a run of successes on consecutive rows becomes one "oks"
    line. They leave when the input runs dry, every `flush_count` values, or once
    `flush_seconds` passed since the last send. Items are called in blocks (map over a slice),
    sized to take about a millisecond: thousands of trivial calls, or one slow call at a time,
    so that answers of slow items still leave within flush_seconds."""

    def __init__(self, channel, columns, flush_seconds, flush_count):
        self.channel, self.columns, self.k = channel, columns, len(columns)
        self.flush_seconds, self.flush_count = flush_seconds, flush_count
        self.lines, self.values, self.first_row = [], [], 0
        self.since = time.monotonic()
        self.block = 1

    def close_run(self):
        if self.values:
            n = len(self.values) // self.k
            self.lines.append("oks\t%d\t%d\t%s\n" % (
                self.first_row, n, "\t".join(map(repr, self.values))))
            self.values = []

    def flush(self):
        self.close_run()
        if self.lines:
            self.channel.write("".join(self.lines))
            self.lines = []
        self.since = time.monotonic()

    def fail_next(self, error):
        """The next item (after those kept) failed with `error`."""
        bad_row = self.first_row + len(self.values) // self.k
        self.close_run()
        self.lines.append("error\t%d\t%s\n" % (bad_row, escape(describe(error))))
        self.first_row = bad_row + 1

    def keep(self, results):
        """Results of consecutive items, as values (a result that is no number fails its item)."""
        if self.k == 1 and set(map(type, results)) <= _PLAIN:
            self.values.extend(results)
            return
        for r in results:
            try:
                self.values.extend(numbers(r, self.columns))
            except (TypeError, ValueError) as error:
                self.fail_next(error)

    def run(self, call, xs, row):
        """Calls `call` on each item of xs (at rows row, row + 1, ...) and keeps the answers."""
        if self.values and self.first_row + len(self.values) // self.k != row:
            self.close_run()
        if not self.values:
            self.first_row = row
        clock, pos = time.monotonic, 0
        while pos < len(xs):
            results, error, t0 = [], None, clock()
            try:
                results.extend(map(call, xs[pos:pos + self.block]))  # keeps what came before
            except Exception as e:  # the item's failure, not the worker's
                error = e
            self.keep(results)
            called = len(results) + (error is not None)
            if error is not None:
                self.fail_next(error)
            pos += called
            per_item = (clock() - t0) / called
            self.block = max(1, min(1024, int(0.001 / per_item))) if per_item > 0 else 1024
            if clock() - self.since >= self.flush_seconds or len(self.values) >= self.flush_count:
                next_row = self.first_row + len(self.values) // self.k
                self.flush()
                self.first_row = next_row


def _header(blocks):
    """Reads the header up to 'end': (columns, args, input_items, lines read after it)."""
    columns, args, input_items = ["value"], {}, False
    for block in blocks:
        for i, line in enumerate(block):
            fields = line.split("\t")
            if fields[0] == PROTOCOL and (len(fields) < 2 or fields[1] != VERSION):
                sys.exit("pmap_worker: pmap speaks protocol %s, this module %s"
                         % (fields[1:2], VERSION))
            if fields[0] == "columns":
                columns = [unescape(f) for f in fields[1:]]
            elif fields[0] == "arg" and len(fields) >= 3:
                args[unescape(fields[1])] = convert(unescape(fields[2]))
            elif fields[0] == "items":
                input_items = fields[1:2] == ["input"]
            elif fields[0] == "end":
                return columns, args, input_items, block[i + 1:]
    sys.exit("pmap_worker: input ended inside the header")


def _check_call(fn, args):
    """Exits (status 2, message on stderr) when fn cannot take an item and these arguments."""
    try:
        inspect.signature(fn).bind(0, **args)
    except TypeError as error:
        sys.exit("pmap_worker: %s(item, %s) cannot be called: %s" % (
            getattr(fn, "__name__", fn),
            ", ".join("%s=%r" % kv for kv in args.items()), error))
    except ValueError:  # no signature (a builtin): let the calls say
        pass


def serve(fn, flush_seconds=0.01, flush_count=4096):
    """Serves `fn` on stdin/stdout until pmap closes stdin. Answers are sent in groups: when no
    input is left to read, every `flush_count` values, or once `flush_seconds` passed (pmap
    replays items one at a time when a worker dies holding answers)."""
    channel = _Channel()
    blocks = channel.blocks()
    columns, args, input_items, rest = _header(blocks)
    _check_call(fn, args)
    # "ranges": pmap may send many range items in one line.
    channel.write("%s\t%s\tranges\tpython %s\n" % (PROTOCOL, VERSION, sys.version.split()[0]))
    call = functools.partial(fn, **args) if args else fn
    answers = _Answers(channel, columns, flush_seconds, flush_count)
    for block in itertools.chain([rest], blocks):
        answers.since = time.monotonic()
        for line in block:
            fields = line.split("\t")
            if fields[0] == "range":
                row, count, start, step = map(int, fields[1:5])
                answers.run(call, range(start, start + count * step, step), row)
            elif fields[0] == "item":
                text = fields[2]
                item = convert(unescape(text)) if input_items else int(text)
                answers.run(call, (item,), int(fields[1]))
        answers.flush()


def load(spec):
    """The function named by 'module:function' (the function may be dotted: 'mod:Class.f')."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        sys.exit("pmap_worker: expected module:function, got %r" % spec)
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    obj = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        sys.exit("pmap_worker: %s is not callable" % spec)
    return obj


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        fn = load(argv[0])
    except (ImportError, AttributeError):
        traceback.print_exc()
        return 2
    try:
        serve(fn)
    except BrokenPipeError:  # pmap is gone
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
