"""Shared fixtures: the smoke-profile corpus and cache, built once per session."""

from __future__ import annotations

import os

import pytest
import torch

from bootsep_lib import paths
from bootsep_lib.config import get_profile


@pytest.fixture(scope="session")
def smoke_data():
    """Build (or reuse) the smoke profile's corpus under the default data root.

    The build is resumable and deterministic, so reusing a finished one is safe.
    """
    from bootsep_lib.data import build_all

    profile = get_profile("smoke")
    root = paths.data_root(profile.data.root)
    build_all(profile.data, root=root, jobs=os.cpu_count() or 1)
    return root


@pytest.fixture(scope="module")
def one_torch_thread():
    """Train on one thread: on a shared 2-core machine, two threads mostly wait on each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
