"""The functions of bench/workers.sh, one module for pmap's workers and for the Python anchors,
so that every system runs the very same code."""
import math
import time


def double(x):
    """The trivial function: what is left is the tool's own cost per item."""
    return x * 2


def compute_x(x, y=2):
    """The tutorial's function."""
    time.sleep(0.8)
    return (x, y)


def sqrt_sum(x, m=200_000):
    """W3, CPU-bound pure Python (~15-20 ms an item here)."""
    return sum(math.sqrt(i * x) for i in range(m))
