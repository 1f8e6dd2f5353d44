"""The tutorial's two functions, plain Python, run by pmap's worker kernel.

From the repository root, after the build (the Python helper pmap_worker comes with pmap):

    mpirun -np 8 -x PYTHONPATH=examples/python ./build/pmap run --kernel worker \
        --arg cmd='python3 -m pmap_worker tutorial:compute_x' --arg columns=x,y \
        --range 1:11 --output compute_x.h5
    mpirun -np 8 -x PYTHONPATH=examples/python ./build/pmap run --kernel worker \
        --arg cmd='python3 -m pmap_worker tutorial:url_existence' \
        --arg columns=verdict,http_status --input data/urls.txt --output urls.h5
    python3 examples/python/show_urls.py data/urls.txt urls.h5

Each rank's worker is one Python process that stays up for all of its items; the results land
in one HDF5 file (/compute/value), failures in /compute/errors.
"""
import time
import urllib.error
import urllib.request

EXISTS, DOES_NOT_EXIST, UNKNOWN = 0, 1, 2  # the codes of pmap's own /urls/verdict


def compute_x(x, y=2):
    """The tutorial's example: sleeps 0.8 s and returns (x, y)."""
    time.sleep(0.8)
    return (x, y)


def url_existence(url, timeout=10):
    """The tutorial's URL check: 200 -> exists, 404 -> does not exist, anything else (another
    status, a timeout, a DNS or connection error) -> unknown. Redirects are followed."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except (urllib.error.URLError, OSError, ValueError):
        return {"verdict": UNKNOWN, "http_status": 0}
    verdict = EXISTS if status == 200 else DOES_NOT_EXIST if status == 404 else UNKNOWN
    return {"verdict": verdict, "http_status": status}
