"""Batches run in worker processes (corpus code)."""

from concurrent.futures import ProcessPoolExecutor


def _one(index):
    return index


def run_batch(folder, workers):
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_one, range(workers)))


def kinds_of(value):
    if type(value) is type(iter(set())):
        return "set-iterator"
    if isinstance(value, list):
        return "list"
    return "other"
