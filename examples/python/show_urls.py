"""Prints 'URL - verdict' for a URL list and the results file of tutorial.url_existence.

    python3 examples/python/show_urls.py data/urls.txt urls.h5      (needs h5py)
"""
import sys

import h5py

NAMES = {0: "exists", 1: "does not exist", 2: "unknown"}


def main(urls_path, results_path):
    with open(urls_path) as f:
        urls = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    with h5py.File(results_path, "r") as f:
        values, status = f["compute/value"][:], f["compute/status"][:]
    for url, (verdict, http_status), ok in zip(urls, values, status):
        print(url, "-", NAMES[int(verdict)] if ok == 0 else "not checked")


if __name__ == "__main__":
    main(*sys.argv[1:3])
