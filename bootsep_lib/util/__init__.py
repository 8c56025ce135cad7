"""Cross-cutting chores, one helper each: atomic writes, parallel maps, caches, locks, threads."""

from .atomic import atomic_write, atomic_write_bytes, atomic_write_text, sweep_temp_files
from .cache import cache_entry, cached_table, stage_key
from .lock import folder_lock
from .parallel import parallel_map
from .threads import in_pool_worker, limit_threads, threads_per_worker, worker_pool

__all__ = [
    "atomic_write", "atomic_write_bytes", "atomic_write_text", "cache_entry", "cached_table",
    "folder_lock", "in_pool_worker",
    "limit_threads", "parallel_map", "stage_key", "sweep_temp_files", "threads_per_worker",
    "worker_pool",
]
