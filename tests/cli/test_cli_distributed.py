"""``torchrun -m latentlab train``: two CPU processes (gloo) against one, a failed worker, run folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.cli.test_cli import REPO, run_cli

TRAIN = ("train", "--data", "mnist", "--limit", "400", "--family", "ae", "--arch", "mlp", "--hidden", "32",
         "--latent-dim", "2", "--epochs", "2", "--batch-size", "64", "--seed", "3", "--threads", "1",
         "--device", "cpu")


def torchrun(*args: str, script: str = "-m latentlab", processes: int = 2) -> subprocess.CompletedProcess:
    """``python -m torch.distributed.run --standalone --nproc_per_node=N`` on this checkout."""
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
               *script.split(), *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, timeout=300)


def test_two_processes_train_the_model_one_process_trains(tmp_path: Path) -> None:
    one, two, live = tmp_path / "one", tmp_path / "two", tmp_path / "live"
    r = run_cli(*TRAIN, "--out", str(one))
    assert r.returncode == 0, r.stderr
    r = torchrun(*TRAIN, "--out", str(two), "--run-dir", str(live))
    assert r.returncode == 0, r.stderr
    # Only the main process logs: one line per epoch, one "saved".
    assert r.stdout.count("saved") == 1 and r.stderr.count("epoch 2/2") == 1, r.stderr

    meta_one, meta_two = (json.loads((p / "config.json").read_text()) for p in (one, two))
    assert sorted(os.listdir(one)) == sorted(os.listdir(two)) == ["config.json", "model.safetensors"]
    assert meta_one.keys() == meta_two.keys() and meta_one["tensors"] == meta_two["tensors"]
    assert meta_one["model"] == meta_two["model"]
    assert (meta_one["train"]["world_size"], meta_one["train"]["backend"]) == (1, "")
    assert (meta_two["train"]["world_size"], meta_two["train"]["backend"]) == (2, "gloo")
    assert meta_two["train"]["batch_size"] == 64  # the global batch, as asked
    assert len(meta_one["history"]) == len(meta_two["history"]) == 2
    for a, b in zip(meta_one["history"], meta_two["history"]):
        for part in ("train", "val"):
            for term, value in a[part].items():
                assert b[part][term] == pytest.approx(value, rel=1e-4), (part, term)
    w_one, w_two = load_file(one / "model.safetensors"), load_file(two / "model.safetensors")
    assert w_one.keys() == w_two.keys()
    for name in w_one:
        torch.testing.assert_close(w_two[name], w_one[name], rtol=1e-4, atol=1e-5)

    status = json.loads((live / "status.json").read_text())
    assert status["status"] == "finished" and status["world_size"] == 2 and status["epoch"] == 2
    w_live = load_file(live / "model.safetensors")
    for name in w_two:
        torch.testing.assert_close(w_live[name], w_two[name])


def test_a_failed_worker_ends_the_run_without_a_model(tmp_path: Path) -> None:
    out = tmp_path / "model"
    r = torchrun(*TRAIN, "--out", str(out), script=str(REPO / "tests" / "cli" / "failing_worker.py"))
    assert r.returncode != 0
    assert "process 2 of 2 failed (RuntimeError: simulated crash of one worker)" in r.stderr
    assert "no model is saved" in r.stderr
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".model")]  # no half-written staging folder


def test_a_batch_that_does_not_split_over_the_processes_is_one_clear_error(tmp_path: Path) -> None:
    args = [a if a != "64" else "63" for a in TRAIN]
    r = torchrun(*args, "--out", str(tmp_path / "m"))
    assert r.returncode != 0
    errors = [line for line in r.stderr.splitlines() if line.startswith("latentlab: error")]
    assert errors == ["latentlab: error: the batch size 63 is the global batch and must split evenly over the 2 "
                      "processes; use a multiple of 2"]
    assert not (tmp_path / "m").exists()
