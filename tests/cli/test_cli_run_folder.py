"""``train --run-dir``, ``info`` on a live run, and ``--precision`` (refusals, the default), through the CLI."""

from __future__ import annotations

import json
import time
from pathlib import Path

from latentlab.core.models import ModelConfig
from latentlab.core.run_folder import RunFolderWriter
from latentlab.core.training import TrainConfig
from tests.cli.test_cli import run_cli

SMALL = ("train", "--data", "mnist", "--limit", "200", "--family", "ae", "--hidden", "16", "--epochs", "2",
         "--batch-size", "50", "--threads", "1", "--device", "cpu")


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_train_keeps_a_run_folder_that_info_describes(tmp_path: Path) -> None:
    out, live = tmp_path / "model", tmp_path / "live"
    r = run_cli(*SMALL, "--out", str(out), "--run-dir", str(live), block_qt=True)
    assert r.returncode == 0, r.stderr
    status = json.loads((live / "status.json").read_text())
    assert (status["status"], status["epoch"], status["epochs"], status["world_size"]) == ("finished", 2, 2, 1)
    assert json.loads((live / "config.json").read_text())["history"] == \
        json.loads((out / "config.json").read_text())["history"]
    assert (live / "model.safetensors").read_bytes() == (out / "model.safetensors").read_bytes()
    r = run_cli("info", str(live), block_qt=True)
    assert r.returncode == 0, r.stderr
    assert "status       finished" in r.stdout and "epoch        2 of 2" in r.stdout
    assert "history      2 epochs" in r.stdout  # and the model as far as it has come


def test_info_calls_a_silent_run_stalled(tmp_path: Path) -> None:
    config = ModelConfig(family="vae", arch="mlp", latent_dim=2, hidden=(16,))
    long_ago = time.time() - 3600
    writer = RunFolderWriter(tmp_path / "run", config, train_config=TrainConfig(epochs=9), clock=lambda: long_ago)
    writer.begin()
    r = run_cli("info", str(tmp_path / "run"))
    assert r.returncode == 0, r.stderr
    assert "status       running (stalled: no update for 60 min)" in r.stdout
    assert "epoch        0 of 9" in r.stdout and "snapshot     none yet" in r.stdout


def test_the_run_folder_must_be_apart_from_the_model(tmp_path: Path) -> None:
    r = run_cli(*SMALL, "--out", str(tmp_path / "m"), "--run-dir", str(tmp_path / "m" / "live"))
    assert r.returncode == 2
    assert "must be a folder of its own" in one_error_line(r.stderr)
    assert not (tmp_path / "m").exists()


def test_fp16_on_a_cpu_is_one_clear_error(tmp_path: Path) -> None:
    r = run_cli(*SMALL, "--precision", "fp16", "--out", str(tmp_path / "m"))
    assert r.returncode == 2
    assert "fp16 training needs a CUDA GPU" in one_error_line(r.stderr)
    assert not (tmp_path / "m").exists()


def test_the_cli_says_when_the_default_precision_is_bfloat16(tmp_path: Path) -> None:
    gan = ("train", "--data", "mnist", "--limit", "200", "--family", "gan", "--latent-dim", "2", "--hidden", "16",
           "--epochs", "1", "--batch-size", "50", "--threads", "1", "--device", "cpu")
    said = "training in bfloat16: this CPU has native bfloat16 arithmetic, which trains the GAN faster " \
           "(--precision fp32 for float32)"

    def stderr(native: bool, *extra: str) -> str:
        setup = f"import latentlab.core.precision as p; p.native_bfloat16 = lambda: {native}\n"
        r = run_cli(*gan, *extra, "--out", str(tmp_path / f"gan-{native}-{len(extra)}"), setup=setup, block_qt=True)
        assert r.returncode == 0, r.stderr
        return r.stderr

    assert said in stderr(True)
    assert said not in stderr(False)                        # float32 without native bfloat16
    assert said not in stderr(True, "--precision", "fp32")  # asked for float32: nothing to say
