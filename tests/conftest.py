"""Shared test setup: in-process training runs on one torch thread, as the runner's workers
train (two threads on a two-core machine already busy made the learning test ~20x slower);
commands that estimate wall time read fixed per-env rates, the same for every pack size,
instead of calibrating (tests of the calibration give their own ``HARNESS_RATES``)."""

import json
import os
import socket

import pytest
import torch

from harness.runs.expand import MAX_PACK

RATES = {"Hopper-v5": 10_000.0, "InvertedPendulum-v5": 20_000.0, "Walker2d-v5": 10_000.0,
         "HalfCheetah-v5": 20_000.0}


@pytest.fixture(autouse=True, scope="session")
def fixed_rates(tmp_path_factory):
    path = tmp_path_factory.mktemp("rates") / "rates.json"
    every_pack = {f"{env}@{k}": rate for env, rate in RATES.items() for k in range(1, MAX_PACK + 1)}
    path.write_text(json.dumps({socket.gethostname(): every_pack}))
    before = os.environ.get("HARNESS_RATES")
    os.environ["HARNESS_RATES"] = str(path)  # subprocesses inherit it
    yield
    if before is None:
        del os.environ["HARNESS_RATES"]
    else:
        os.environ["HARNESS_RATES"] = before


@pytest.fixture(autouse=True)
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
