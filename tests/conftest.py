"""Shared test setup: in-process training runs on one torch thread, as the runner's workers
train (two threads on a two-core machine already busy made the learning test ~20x slower)."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
