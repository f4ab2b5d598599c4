"""The headless command line, run as a person would: subprocesses and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, block_qt: bool = False, cwd: Path | None = None,
            setup: str = "") -> subprocess.CompletedProcess:
    """Run ``python -m latentlab ARGS`` in a fresh interpreter with one torch thread.

    ``setup`` is Python code run first in that interpreter (e.g. to simulate a keypress).
    """
    prelude = "import sys\n"
    if block_qt:
        # A None entry in sys.modules makes any import of these packages fail, as if absent.
        prelude += "for m in ('PySide6', 'pyqtgraph', 'superqt', 'shiboken6'): sys.modules[m] = None\n"
    prelude += ("import torch; torch.set_num_threads(1)\n" + setup +
                "from latentlab.__main__ import main\n"
                "sys.exit(main(sys.argv[1:]))\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-c", prelude, *args], capture_output=True, text=True,
                          env=env, cwd=cwd or REPO, timeout=300)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A small 2-D VAE trained on 600 digits for one epoch, through the CLI with Qt blocked."""
    out = tmp_path_factory.mktemp("cli") / "vae"
    r = run_cli("train", "--data", "mnist", "--limit", "600", "--family", "vae", "--arch", "mlp",
                "--latent-dim", "2", "--epochs", "2", "--batch-size", "64", "--threads", "1",
                "--out", str(out), block_qt=True)
    assert r.returncode == 0, r.stderr
    return out


def test_version() -> None:
    from latentlab import __version__

    r = run_cli("--version")
    assert r.returncode == 0
    assert __version__ in r.stdout


def test_help_command_prints_the_overview() -> None:
    r = run_cli("help", block_qt=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: latentlab") and "export-grid" in r.stdout


def test_train_writes_a_model_folder_without_qt(trained: Path) -> None:
    assert (trained / "model.safetensors").is_file()
    meta = json.loads((trained / "config.json").read_text())
    assert meta["model"]["latent_dim"] == 2
    assert len(meta["history"]) == 2
    assert meta["data"]["source"]["kind"] == "mnist"


def test_train_progress_is_plain_lines_when_piped(tmp_path: Path) -> None:
    r = run_cli("train", "--data", "moons", "--limit", "300", "--epochs", "2", "--threads", "1",
                "--out", str(tmp_path / "m"))
    assert r.returncode == 0, r.stderr
    epoch_lines = [line for line in r.stderr.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in epoch_lines] == ["1/2", "2/2"]
    assert "\r" not in r.stderr


# Presses Ctrl+C (a real SIGINT) while the trainer is inside its third optimiser step.
CTRL_C_IN_STEP_3 = (
    "import signal\n"
    "from latentlab.core import training\n"
    "real_step = training._SGDRun._step\n"
    "def step(self, *args):\n"
    "    if self.step == 2:\n"
    "        signal.raise_signal(signal.SIGINT)\n"
    "    return real_step(self, *args)\n"
    "training._SGDRun._step = step\n"
)


def test_ctrl_c_during_training_stops_and_saves_what_was_trained(tmp_path: Path) -> None:
    out = tmp_path / "m"
    r = run_cli("train", "--data", "moons", "--limit", "300", "--epochs", "2", "--batch-size", "32",
                "--threads", "1", "--out", str(out), setup=CTRL_C_IN_STEP_3)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert "cancelled at epoch 1, step 3" in r.stderr
    meta = json.loads((out / "config.json").read_text())
    assert meta["history"] == []  # no epoch was finished
    assert (out / "model.safetensors").is_file()


def test_evaluate_prints_metrics_on_the_recorded_validation_split(trained: Path) -> None:
    r = run_cli("evaluate", "--model", str(trained), block_qt=True)
    assert r.returncode == 0, r.stderr
    metrics = json.loads(r.stdout)
    for key in ("neg_elbo", "recon", "kl", "kl_per_dim", "n"):
        assert key in metrics
    assert metrics["n"] == 120  # 20 % of the 600 digits it was trained on
    assert len(metrics["kl_per_dim"]) == 2
    assert metrics["neg_elbo"] == pytest.approx(metrics["recon"] + metrics["kl"], rel=1e-4)


def test_evaluate_uses_the_reference_split_when_the_model_records_none(tmp_path: Path) -> None:
    from latentlab.core.checkpoint import describe_data, save_model
    from latentlab.core.data import load_dataset
    from latentlab.core.models import ModelConfig, build_model

    data = load_dataset("moons", limit=150)
    model = build_model(ModelConfig(input_shape=data.shape, latent_dim=2, hidden=(8,)))
    # Saved without training settings: the data block holds null val_fraction and seed.
    path = save_model(tmp_path / "m", model, data_info=describe_data(data))
    assert json.loads((path / "config.json").read_text())["data"]["val_fraction"] is None
    r = run_cli("evaluate", "--model", str(path))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["n"] == 30  # the default 20 % of 150


def test_evaluate_reports_factor_r2_for_procedural_data(tmp_path: Path) -> None:
    out = tmp_path / "moons"
    assert run_cli("train", "--data", "moons", "--limit", "400", "--epochs", "1", "--threads", "1",
                   "--out", str(out)).returncode == 0
    r = run_cli("evaluate", "--model", str(out))
    assert r.returncode == 0, r.stderr
    r2 = json.loads(r.stdout)["factor_r2"]
    assert list(r2) == ["phase", "rotation_cos", "rotation_sin"]  # the moons' known factors
    assert all(v is not None and 0.0 <= v <= 1.0 for v in r2.values())


def test_info_describes_the_model(trained: Path) -> None:
    r = run_cli("info", str(trained), block_qt=True)
    assert r.returncode == 0, r.stderr
    assert "vae" in r.stdout and "latent dim   2" in r.stdout and "1 x 28 x 28" in r.stdout
    assert "2 epochs" in r.stdout


@pytest.mark.parametrize("args, fragment", [
    (("train", "--data", "no/such/folder", "--epochs", "1", "--out", "x"), "no/such/folder"),
    (("train", "--data", "mnist", "--epochs", "0", "--out", "x"), "--epochs"),
    (("train", "--data", "mnist", "--family", "wgan", "--out", "x"), "--family"),
    (("info", "no/such/model"), "no/such/model"),
    (("evaluate",), "--model"),
])
def test_user_mistakes_exit_2_with_one_line(args: tuple[str, ...], fragment: str, tmp_path: Path) -> None:
    r = run_cli(*args, cwd=tmp_path)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and fragment in lines[0]


def test_train_refuses_a_foreign_out_folder_before_training(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "holiday.jpg").write_bytes(b"precious")
    r = run_cli("train", "--data", "moons", "--limit", "200", "--epochs", "1", "--threads", "1",
                "--out", str(photos))
    assert r.returncode == 2 and "not a LatentLab model" in r.stderr
    assert "epoch 1/1" not in r.stderr  # refused up front, not after the work
    assert sorted(p.name for p in photos.iterdir()) == ["holiday.jpg"]


def test_hostile_model_file_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    model = tmp_path / "evil"
    model.mkdir()
    import pickle

    class Boom:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (model / "model.safetensors").write_bytes(pickle.dumps(Boom()))
    (model / "config.json").write_text(json.dumps({"format_version": 1, "family": "vae"}))
    r = run_cli("info", str(model))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert not marker.exists()


def test_cvae_needs_labels(tmp_path: Path) -> None:
    import numpy as np

    np.save(tmp_path / "x.npy", np.zeros((20, 8, 8), dtype=np.uint8))
    r = run_cli("train", "--data", str(tmp_path / "x.npy"), "--family", "cvae", "--epochs", "1",
                "--out", str(tmp_path / "m"))
    assert r.returncode == 2 and "label" in r.stderr


def test_info_survives_a_hand_edited_history(trained: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "edited"
    shutil.copytree(trained, copy)
    meta = json.loads((copy / "config.json").read_text())
    meta["history"] = [{"epoch": 1, "train": "oops", "val": {"loss": "x"}}, 7]
    meta["data"] = ["not", "a", "dict"]
    (copy / "config.json").write_text(json.dumps(meta))
    r = run_cli("info", str(copy))
    # The weights and architecture are intact, so info shows what it can of the rest.
    assert r.returncode == 0, r.stderr
    assert "1 epoch; last train loss ?, validation loss ?" in r.stdout
    assert "data         null, ? items" in r.stdout


def test_encode_without_data_refuses_image_options(tmp_path: Path, trained: Path) -> None:
    r = run_cli("encode", "--model", str(trained), "--image-size", "20", "--out", str(tmp_path / "c.csv"))
    assert r.returncode == 2 and "--image-size" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "c.csv").exists()


def test_the_family_choices_and_help_come_from_the_registry() -> None:
    from latentlab import cli
    from latentlab.core.models import registry
    from tests.toy_families import NAME, toy_family_registered

    def train_help() -> str:
        sub = next(a for a in cli.build_parser()._actions if a.dest == "command")
        return sub.choices["train"].format_help()

    before = train_help()
    assert all(f.name in before for f in registry.families()) and NAME not in before
    with toy_family_registered():
        text = " ".join(train_help().split())
        assert NAME in text and "code_weight" in text and f"{NAME}: encoder, decoder" in text


def test_a_registered_family_trains_saves_and_loads_from_the_command_line(tmp_path: Path, capsys) -> None:
    from latentlab import cli
    from tests.toy_families import NAME, TERMS, toy_family_registered

    out = tmp_path / "toy"
    with toy_family_registered():
        rc = cli.main(["train", "--data", "mnist", "--limit", "300", "--family", NAME, "--latent-dim", "2",
                       "--epochs", "2", "--batch-size", "50", "--lr-for", "decoder=0.01",
                       "--option", "code_weight=0.5", "--device", "cpu", "--threads", "1", "--out", str(out)])
        err = capsys.readouterr().err
        assert rc == 0, err
        epoch_lines = [line for line in err.splitlines() if line.startswith("epoch ")]
        assert len(epoch_lines) == 2 and all("code_norm" in line and "recon" in line for line in epoch_lines)
        meta = json.loads((out / "config.json").read_text())
        assert meta["family"] == NAME and meta["model"]["options"] == {"code_weight": 0.5}
        assert meta["train"]["lrs"] == {"decoder": 0.01}
        assert [tuple(h["train"]) for h in meta["history"]] == [TERMS, TERMS]
        assert [h["code_weight"] for h in meta["history"]] == pytest.approx([0.25, 0.5])

        assert cli.main(["info", str(out)]) == 0
        info = capsys.readouterr().out
        assert f"family       {NAME}: Split toy" in info and "optimisers of their own" in info
        assert "options      code_weight 0.5" in info and "2 epochs" in info

        assert cli.main(["evaluate", "--model", str(out)]) == 0
        metrics = json.loads(capsys.readouterr().out)
        assert set(TERMS) <= set(metrics) and "neg_elbo" not in metrics and metrics["n"] == 60

        rc = cli.main(["train", "--data", "mnist", "--limit", "100", "--family", NAME, "--option",
                       "code_weight=-1", "--out", str(tmp_path / "bad")])
        assert rc == 2 and "code_weight" in capsys.readouterr().err and not (tmp_path / "bad").exists()
    assert cli.main(["info", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"unknown model family '{NAME}'" in err and len(err.strip().splitlines()) == 1


def test_every_command_of_the_cli_reaches_it_from_the_entry_point():
    # `latentlab COMMAND` goes to the CLI only for names in __main__.SUBCOMMANDS; any other
    # first argument opens the app (which then refuses the options).
    import argparse

    from latentlab import __main__ as entry
    from latentlab.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) <= set(entry.SUBCOMMANDS)
