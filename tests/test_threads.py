"""Worker pools limit every native thread pool of their workers to their CPU share."""

from __future__ import annotations

import os

import torch
from threadpoolctl import threadpool_info

from bootsep_lib.util import threads


def _report(_: int) -> tuple[int, list[int]]:
    return torch.get_num_threads(), [p["num_threads"] for p in threadpool_info()]


def test_threads_per_worker():
    cpus = os.cpu_count() or 1
    assert threads.threads_per_worker(1) == cpus
    assert threads.threads_per_worker(cpus) == 1
    assert threads.threads_per_worker(4 * cpus) == 1
    assert threads.threads_per_worker(0) == cpus


def test_worker_pool_limits_torch_blas_and_openmp():
    import numpy as np  # noqa: F401  (loads the BLAS that threadpoolctl then reports)

    jobs = 2
    expected = threads.threads_per_worker(jobs)
    with threads.worker_pool(jobs) as pool:
        reports = list(pool.map(_report, range(4)))
    for torch_threads, pools in reports:
        assert torch_threads == expected
        assert pools and all(n == expected for n in pools), pools



def _in_worker(_: int) -> bool:
    return threads.in_pool_worker()


def test_pool_workers_know_they_are_workers():
    """Progress bars are off in workers (one forked from a Jupyter kernel cannot draw them)."""
    assert not threads.in_pool_worker()
    with threads.worker_pool(2) as pool:
        assert list(pool.map(_in_worker, range(4))) == [True] * 4
    assert not threads.in_pool_worker()
