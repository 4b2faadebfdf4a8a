"""Shared by every test package. `tests/` is on sys.path (pyproject's pytest `pythonpath`), so
the builders in tests/model_factory.py and tests/corpus.py import directly."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """The test models are tiny and the CI box has 2 shared cores: one intra-op thread is
    several times faster than two fighting over them (measured on the reference fixture)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
