"""Sharded and multi-process training give the same losses as one device.

Each run is a subprocess so it can choose its devices before JAX starts: two CPU devices via
``XLA_FLAGS=--xla_force_host_platform_device_count=2`` (FSDP, then tensor parallel), and two
processes joined by ``jax.distributed`` with a coordinator on 127.0.0.1 and gloo CPU collectives,
each loading only its half of every batch.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

WORKER = Path(__file__).with_name("fit_worker.py")


def train_config(run_dir: Path, data: Path, **changes) -> dict:
    return {
        "run_dir": str(run_dir),
        "data": {"path": str(data)},
        "model": {"overrides": {"dtype": "float32", "remat_policy": "full"}},
        "optimizer": {"peak_lr": 3e-3, "end_lr": 3e-4, "warmup_steps": 1, "total_steps": 10},
        "batch_size": 4,
        "steps": 4,
        "checkpoint": {"every_steps": 2},
        "tensorboard": False,
        "export_hf": False,
        **changes,
    }


def start(config: dict, devices: int = 1) -> subprocess.Popen:
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}", "JAX_PLATFORMS": "cpu"}
    return subprocess.Popen(
        [sys.executable, str(WORKER), json.dumps(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def result(process: subprocess.Popen, timeout: float = 240) -> dict:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"worker timed out; stderr tail: {err[-2000:]}")
    assert process.returncode == 0, err[-3000:]
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


@pytest.fixture(scope="module")
def one_device(packed_shards, tmp_path_factory) -> list[float]:
    run = result(start(train_config(tmp_path_factory.mktemp("one") / "run", packed_shards)))
    assert run["devices"] == 1 and len(run["losses"]) == 4
    return run["losses"]


@pytest.mark.slow
@pytest.mark.parametrize("mesh", [{"fsdp": 2, "tensor": 1}, {"fsdp": 1, "tensor": 2}], ids=["fsdp", "tensor"])
def test_two_device_mesh_matches_one_device(mesh, one_device, packed_shards, tmp_path) -> None:
    run = result(start(train_config(tmp_path / "run", packed_shards, mesh=mesh), devices=2))
    assert run["devices"] == 2
    np.testing.assert_allclose(run["losses"], one_device, rtol=1e-5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_two_processes_match_one(one_device, packed_shards, tmp_path) -> None:
    address = f"127.0.0.1:{free_port()}"
    workers = [
        start(
            train_config(
                tmp_path / "run",
                packed_shards,
                distributed={
                    "enabled": True,
                    "coordinator_address": address,
                    "num_processes": 2,
                    "process_id": index,
                    "cpu_collectives": "gloo",
                },
            )
        )
        for index in range(2)
    ]
    runs = [result(worker) for worker in workers]
    assert [run["processes"] for run in runs] == [2, 2]
    assert [run["devices"] for run in runs] == [2, 2]
    for run in runs:
        np.testing.assert_allclose(run["losses"], one_device, rtol=1e-5)
