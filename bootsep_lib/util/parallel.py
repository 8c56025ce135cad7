"""One parallel map with a progress bar, used by every stage that fans work out over cores."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from tqdm.auto import tqdm

from .threads import in_pool_worker, worker_pool

__all__ = ["parallel_map", "strided"]

T = TypeVar("T")
R = TypeVar("R")


def parallel_map(
    fn: Callable[[T], R],
    items: Sequence[T],
    *,
    jobs: int = 1,
    desc: str | None = None,
    progress: bool = True,
    weight: Callable[[T], int] | None = None,
    cost: Callable[[T], float] | None = None,
    chunksize: int = 1,
    unit: str = "it",
) -> list[R]:
    """``[fn(item) for item in items]``, over ``jobs`` processes, with a tqdm bar.

    Parameters
    ----------
    fn
        A picklable, module-level function (it runs in worker processes when ``jobs > 1``).
    items
        The work, in the order results are returned.
    jobs
        Worker processes; ``<= 1`` (or a single item) runs in this process.  Each worker's
        native thread pools are capped at its CPU share (:func:`~bootsep_lib.util.worker_pool`).
    desc, progress, unit
        The bar's label, whether to show it (never inside a pool worker), and its unit.
    weight
        How far one finished item moves the bar (e.g. the number of mixtures in a chunk);
        default 1.
    cost
        When given, items are started most expensive first (a long item started last would run
        alone at the end with the other cores idle); results still come back in input order.
    chunksize
        Items handed to a worker at once.

    Returns
    -------
    list
        One result per item, in the order of ``items``.
    """
    items = list(items)
    weight = weight or (lambda _item: 1)
    total = sum(weight(item) for item in items)
    order = list(range(len(items)))
    if cost is not None:
        order.sort(key=lambda i: -cost(items[i]))
    results: dict[int, Any] = {}
    with tqdm(total=total, desc=desc, unit=unit, disable=not progress or in_pool_worker()) as bar:
        if jobs <= 1 or len(items) <= 1:
            for i in order:
                results[i] = fn(items[i])
                bar.update(weight(items[i]))
        else:
            with worker_pool(min(jobs, len(items))) as pool:
                mapped = pool.map(fn, [items[i] for i in order], chunksize=chunksize)
                for i, result in zip(order, mapped, strict=True):
                    results[i] = result
                    bar.update(weight(items[i]))
    return [results[i] for i in range(len(items))]


def strided(n: int, parts: int) -> list[list[int]]:
    """Split ``range(n)`` into ``parts`` strided, non-empty index lists (``k::parts``)."""
    return [c for c in (list(range(n))[k::parts] for k in range(max(1, parts))) if c]

