"""The command line with the adversarial families: train, inspect, export and place a GAN's data."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import safetensors.torch

from tests.cli.test_cli import run_cli


@pytest.fixture(scope="module")
def gan(tmp_path_factory) -> Path:
    """A small 2-D MLP GAN trained on 300 digits for two epochs, with Qt blocked."""
    out = tmp_path_factory.mktemp("cli-gan") / "gan"
    r = run_cli("train", "--data", "mnist", "--limit", "300", "--family", "gan", "--latent-dim", "2",
                "--hidden", "64,32", "--epochs", "2", "--batch-size", "60", "--threads", "1",
                "--option", "spectral_norm=true", "--out", str(out), block_qt=True)
    assert r.returncode == 0, r.stderr
    assert "d_loss" in r.stderr and "d_real" in r.stderr and "warning" not in r.stderr
    return out


def test_train_saves_a_gan_with_its_terms_in_the_history(gan: Path) -> None:
    meta = json.loads((gan / "config.json").read_text())
    assert meta["model"]["family"] == "gan" and meta["model"]["options"]["spectral_norm"] is True
    assert [set(h["train"]) for h in meta["history"]] == [{"d_loss", "g_loss", "d_real", "d_fake"}] * 2


def test_info_and_evaluate_describe_a_gan(gan: Path) -> None:
    r = run_cli("info", str(gan))
    assert r.returncode == 0, r.stderr
    assert "gan: GAN" in r.stdout and "last train d loss" in r.stdout and "?" not in r.stdout.splitlines()[-1]
    r = run_cli("evaluate", "--model", str(gan))
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert {"d_loss", "g_loss", "d_real", "d_fake"} <= set(report) and "kl_per_dim" not in report


def test_encode_places_every_item_by_inversion(gan: Path, tmp_path: Path) -> None:
    out = tmp_path / "codes.csv"
    r = run_cli("encode", "--model", str(gan), "--out", str(out), block_qt=True)
    assert r.returncode == 0, r.stderr
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 300 and {"z0", "z1", "label"} <= set(rows[0])
    codes = [(float(row["z0"]), float(row["z1"])) for row in rows]
    assert len(set(codes)) > 100  # items land in many places, not one point
    assert all(abs(a) < 6 and abs(b) < 6 for a, b in codes)


def test_interpolate_inverts_its_waypoints_and_export_grid_decodes(gan: Path, tmp_path: Path) -> None:
    strip = tmp_path / "path.png"
    r = run_cli("interpolate", "--model", str(gan), "--from", "mnist:0", "--to", "mnist:1", "--steps", "4",
                "--out", str(strip))
    assert r.returncode == 0, r.stderr
    assert strip.is_file() and "6 frames" in r.stdout
    grid = tmp_path / "grid.png"
    r = run_cli("export-grid", "--model", str(gan), "--n", "5", "--out", str(grid))
    assert r.returncode == 0, r.stderr
    from PIL import Image

    with Image.open(grid) as img:
        assert img.size == (5 * 28, 5 * 28)


def test_a_model_missing_its_discriminator_is_one_clear_error(gan: Path, tmp_path: Path) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(gan, broken)
    weights = broken / "model.safetensors"
    tensors = safetensors.torch.load_file(weights)
    safetensors.torch.save_file({k: v for k, v in tensors.items() if not k.startswith("discriminator.")}, weights)
    r = run_cli("encode", "--model", str(broken), "--out", str(tmp_path / "c.csv"))
    assert r.returncode != 0 and "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "model.safetensors" in lines[0] and "discriminator" in lines[0]
    assert not (tmp_path / "c.csv").exists()


def test_bad_option_values_are_one_clear_error(tmp_path: Path) -> None:
    for option in ("ema_decay=2", "ema=maybe", "adv_weight=-1"):
        family = "vae-gan" if option.startswith("adv") else "gan"
        r = run_cli("train", "--data", "mnist", "--limit", "100", "--family", family, "--option", option,
                    "--out", str(tmp_path / "m"))
        assert r.returncode != 0 and "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and option.split("=")[0] in r.stderr
        assert not (tmp_path / "m").exists()


def test_a_discriminator_that_wins_outright_gets_a_warning(tmp_path: Path) -> None:
    out = tmp_path / "won"
    r = run_cli("train", "--data", "mnist", "--limit", "300", "--family", "gan", "--latent-dim", "2",
                "--hidden", "64,32", "--epochs", "7", "--batch-size", "50", "--threads", "1",
                "--lr-for", "discriminator=0.01", "--lr-for", "generator=0.000001", "--out", str(out))
    assert r.returncode == 0, r.stderr
    warnings = [line for line in r.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1
    assert "discriminator has won" in warnings[0] and "--lr-for discriminator" in warnings[0]
    assert "spectral_norm" in warnings[0]
    assert (out / "model.safetensors").is_file()
