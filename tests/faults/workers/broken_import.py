"""A module that does not import: the worker must not start (exit 2, traceback in the message)."""
import no_such_module_for_pmap_tests  # noqa: F401


def f(x):
    return x
