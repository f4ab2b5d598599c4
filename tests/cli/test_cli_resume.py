"""``latentlab train --checkpoint-every N`` and ``--resume``: a run killed mid-way ends as if it never was."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import safetensors.torch
import torch

ROOT = Path(__file__).resolve().parents[2]
ARGS = ["train", "--data", "mnist", "--limit", "600", "--epochs", "4", "--hidden", "32", "--batch-size", "64",
        "--lr", "0.003", "--seed", "5", "--threads", "1", "--device", "cpu", "--kl-warmup", "2"]

# Runs the CLI, and kills its own process with SIGKILL right after the checkpoint of epoch 2 is
# on disk: nothing of the run after that point (not even Python's clean-up) happens.
_KILLED_AFTER_EPOCH_2 = """
import os, signal, sys
import torch
torch.set_num_threads(1)
from latentlab.core import autosave
write = autosave.write_checkpoint
def write_then_die(folder, state, **kw):
    path = write(folder, state, **kw)
    if state.epoch == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return path
autosave.write_checkpoint = write_then_die
from latentlab.cli import main
sys.exit(main(sys.argv[1:]))
"""
_PLAIN = "import sys, torch\ntorch.set_num_threads(1)\nfrom latentlab.cli import main\nsys.exit(main(sys.argv[1:]))\n"


def cli(script: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)


def saved(folder: Path) -> tuple[dict[str, torch.Tensor], list]:
    weights = safetensors.torch.load_file(folder / "model.safetensors")
    history = json.loads((folder / "config.json").read_text())["history"]
    return weights, [(h["epoch"], h["train"], h["val"], h.get("kl_weight")) for h in history]


def test_a_run_killed_after_a_checkpoint_resumes_to_the_same_model(tmp_path):
    whole = cli(_PLAIN, *ARGS, "--out", str(tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr

    out = tmp_path / "killed"
    killed = cli(_KILLED_AFTER_EPOCH_2, *ARGS, "--checkpoint-every", "1", "--out", str(out))
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not out.exists()
    assert json.loads((tmp_path / "killed.checkpoint" / "run.json").read_text())["epoch"] == 2

    # Starting afresh over an interrupted run is refused, not silently overwritten.
    again = cli(_PLAIN, *ARGS, "--out", str(out))
    assert again.returncode == 2 and "add --resume" in again.stderr

    # Different settings are refused, naming what differs.
    other = cli(_PLAIN, *[a if a != "0.003" else "0.01" for a in ARGS], "--out", str(out), "--resume")
    assert other.returncode == 2
    assert "cannot resume" in other.stderr and "lr 0.003 (now 0.01)" in other.stderr

    resumed = cli(_PLAIN, *ARGS, "--out", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming after epoch 2" in resumed.stderr
    assert not (tmp_path / "killed.checkpoint").exists()  # removed once the model is saved

    (w_whole, h_whole), (w_resumed, h_resumed) = saved(tmp_path / "whole"), saved(out)
    assert [e for e, *_ in h_resumed] == [1, 2, 3, 4]
    assert h_resumed == h_whole
    assert w_whole.keys() == w_resumed.keys()
    assert all(torch.equal(w_whole[k], w_resumed[k]) for k in w_whole)


def test_resume_without_a_checkpoint_says_how_to_make_one(tmp_path):
    done = cli(_PLAIN, *ARGS, "--out", str(tmp_path / "m"), "--resume")
    assert done.returncode == 2
    assert "no interrupted run to resume" in done.stderr and "--checkpoint-every" in done.stderr
