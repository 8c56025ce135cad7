"""The cross-cutting helpers: atomic writes, temp-file sweeps, parallel map, cache entries."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

from bootsep_lib.util import (
    atomic_write,
    atomic_write_text,
    cache_entry,
    cached_table,
    parallel_map,
    stage_key,
    sweep_temp_files,
)
from bootsep_lib.util.cache import CacheWarning
from bootsep_lib.util.parallel import strided


def _square(x: int) -> int:
    return x * x


def test_atomic_write_leaves_no_file_on_error(tmp_path):
    target = tmp_path / "sub" / "out.txt"

    def fail(tmp):
        tmp.write_text("half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        atomic_write(target, fail)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []
    atomic_write_text(target, "whole", fsync=True)
    assert target.read_text() == "whole"


def test_atomic_write_honours_umask(tmp_path):
    old = os.umask(0o027)
    try:
        path = atomic_write_text(tmp_path / "f.txt", "x")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640


def test_sweep_removes_only_dead_processes_temp_files(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = tmp_path / "a" / f".x.wav.{dead}-0.tmp"
    live = tmp_path / f".y.wav.{os.getpid()}-3.tmp"
    other = tmp_path / "keep.tmp"
    stale.parent.mkdir()
    for p in (stale, live, other):
        p.write_text("")
    assert sweep_temp_files(tmp_path) == 1
    assert not stale.exists() and live.exists() and other.exists()


@pytest.mark.parametrize("jobs", [1, 2])
def test_parallel_map_keeps_order_with_cost(jobs):
    items = [3, 1, 4, 1, 5, 9, 2, 6]
    out = parallel_map(_square, items, jobs=jobs, progress=False, cost=lambda x: x)
    assert out == [x * x for x in items]


def test_strided_covers_each_index_once():
    parts = strided(10, 4)
    assert sorted(i for p in parts for i in p) == list(range(10))
    assert parts[0] == [0, 4, 8]
    assert strided(2, 5) == [[0], [1]]


def test_stage_key_depends_on_stage_version_and_parts():
    base = stage_key("spatial", 1, {"a": 1})
    assert base == stage_key("spatial", 1, {"a": 1})
    assert len({base, stage_key("spatial", 2, {"a": 1}), stage_key("eval", 1, {"a": 1}),
                stage_key("spatial", 1, {"a": 2})}) == 4


def test_cached_table_recomputes_a_damaged_entry(tmp_path, monkeypatch):
    monkeypatch.setenv("BOOTSEP_CACHE", str(tmp_path))
    path = cache_entry("evaluations", "abc", ".csv")
    assert path == tmp_path / "evaluations" / "abc.csv"
    calls = []

    def compute():
        calls.append(1)
        return pd.DataFrame({"id": [1, 2], "v": [0.5, 1.5]})

    first = cached_table(path, compute)
    again = cached_table(path, compute)
    assert len(calls) == 1
    pd.testing.assert_frame_equal(first, again)
    path.write_bytes(b"")
    with pytest.warns(CacheWarning, match="abc.csv"):
        cached_table(path, compute)
    assert len(calls) == 2
