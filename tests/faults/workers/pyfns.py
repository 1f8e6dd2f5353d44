"""Python functions for the worker tests (python3 -m pmap_worker pyfns:NAME)."""
import os
import signal
import time


def square(x, offset=0):
    return x * x + offset


def pair(x, y=2, scale=1.0):
    return {"y": y * scale, "x": x}


def length(text):
    return len(text)


def fails_on(x, bad=3):
    if x == bad:
        raise ValueError("%d is not welcome" % x)
    return x


def chatty(x):
    print("the function prints", x)  # must not reach the protocol
    return -x


def crash_on(x, at=500):
    if x == at:
        os.kill(os.getpid(), signal.SIGSEGV)
    return x


def slow(x, pid_dir="", seconds=0.3):
    if pid_dir:
        open(os.path.join(pid_dir, "worker.%d" % os.getpid()), "w").close()
    time.sleep(seconds)
    return x


def wrong_types(x):
    return {5: "3", 6: (1, 2), 7: None}.get(x, x)
