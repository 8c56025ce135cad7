"""Process pools whose workers share the CPU instead of fighting over it.

Each worker of a pool of ``jobs`` processes gets ``cpu_count // jobs`` threads in every native
thread pool it may use: PyTorch's, the BLAS behind NumPy / SciPy (``np.linalg.solve`` in
``fast_bss_eval``) and OpenMP (scikit-learn's K-means).  Left alone, each pool sizes itself to
the whole machine, so two workers on two cores run four BLAS threads that spin-wait on each
other: BSS-eval + STOI of 3-speaker 16 kHz mixtures in two workers then take 0.69 s per mixture
instead of 0.36 s (measured, 1.9x; ``benchmarks/bench_pipeline.py``).
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

import torch
from threadpoolctl import threadpool_limits

__all__ = ["in_pool_worker", "limit_threads", "threads_per_worker", "worker_pool"]

_POOL_WORKER = False


def threads_per_worker(jobs: int) -> int:
    """Threads each of ``jobs`` workers gets: ``cpu_count // jobs``, at least 1."""
    return max(1, (os.cpu_count() or 1) // max(1, jobs))


def limit_threads(threads: int) -> None:
    """Cap this process's PyTorch, BLAS and OpenMP thread pools at ``threads`` threads."""
    torch.set_num_threads(threads)
    threadpool_limits(limits=threads)


def in_pool_worker() -> bool:
    """True inside a worker of :func:`worker_pool`.

    Progress bars are off there: a worker forked from a Jupyter kernel cannot draw a widget,
    and each attempt makes the kernel log "attempted to send message from fork" with the
    whole message; the pool's own bar in the parent shows the progress.
    """
    return _POOL_WORKER


def _start_worker(threads: int) -> None:
    global _POOL_WORKER
    _POOL_WORKER = True
    limit_threads(threads)


def worker_pool(jobs: int) -> ProcessPoolExecutor:
    """A pool of ``jobs`` processes, each limited by :func:`limit_threads` to its CPU share."""
    return ProcessPoolExecutor(jobs, initializer=_start_worker,
                               initargs=(threads_per_worker(jobs),))
