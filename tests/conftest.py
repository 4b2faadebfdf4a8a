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


@pytest.fixture(scope="session", autouse=True)
def _private_onnx_cache(tmp_path_factory):
    """`auto` (the default backend) caches ONNX conversions in the user cache folder: the tests
    use one of their own, shared by the session (the same model bytes convert once), never the
    user's. Tests that look at the cache set their own folder."""
    import os

    from engine import onnx_cache

    folder = tmp_path_factory.mktemp("scriptlens-cache")
    before = os.environ.get(onnx_cache.ENV_CACHE_DIR)
    os.environ[onnx_cache.ENV_CACHE_DIR] = str(folder)
    yield folder
    if before is None:
        os.environ.pop(onnx_cache.ENV_CACHE_DIR, None)
    else:
        os.environ[onnx_cache.ENV_CACHE_DIR] = before
