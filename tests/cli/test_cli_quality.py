"""The command line's denoising and sample-quality surface: train --denoise, evaluate --noise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import run_cli


@pytest.fixture(scope="module")
def denoiser(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli-quality") / "dae"
    r = run_cli("train", "--data", "mnist", "--limit", "600", "--family", "ae", "--latent-dim", "4",
                "--hidden", "64", "--epochs", "1", "--threads", "1", "--denoise", "mask:0.5",
                "--out", str(out), block_qt=True)
    assert r.returncode == 0, r.stderr
    return out


def test_train_records_the_noise_and_info_shows_it(denoiser: Path) -> None:
    config = json.loads((denoiser / "config.json").read_text())
    assert config["model"]["options"] == {"denoise": "mask:0.5"}
    r = run_cli("info", str(denoiser))
    assert r.returncode == 0 and "denoise mask:0.5" in r.stdout


def test_evaluate_prints_sample_quality_and_denoising_psnr(denoiser: Path) -> None:
    r = run_cli("evaluate", "--model", str(denoiser), "--noise", "gaussian:0.5", "--samples", "200",
                block_qt=True)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["n"] == 120
    assert {"psnr", "psnr_noisy", "sample_fd", "class_coverage", "class_entropy"} <= set(result)
    assert 0 < result["psnr_noisy"] < 60 and 0 < result["psnr"] < 60 and 0 <= result["class_coverage"] <= 10
    plain = json.loads(run_cli("evaluate", "--model", str(denoiser), "--samples", "200").stdout)
    assert "psnr" not in plain and plain["sample_fd"] == result["sample_fd"]


def test_evaluate_leaves_sample_quality_out_for_other_shapes(tmp_path: Path) -> None:
    out = tmp_path / "shapes"
    r = run_cli("train", "--data", "shapes", "--limit", "200", "--image-size", "32", "--family", "vae",
                "--hidden", "16",
                "--epochs", "1", "--threads", "1", "--out", str(out))
    assert r.returncode == 0, r.stderr
    r = run_cli("evaluate", "--model", str(out))
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert "n" in result and not {"sample_fd", "class_coverage", "class_entropy"} & set(result)


@pytest.mark.parametrize("args, message", [
    (("train", "--data", "mnist", "--denoise", "gaussian:-1"), "--denoise: noise 'gaussian:-1'"),
    (("train", "--data", "mnist", "--denoise", "foo:2"), "--denoise: unknown noise 'foo:2'"),
    (("train", "--data", "mnist", "--limit", "50", "--family", "pca", "--denoise", "mask:0.5"),
     "cannot train as a denoiser"),
    (("evaluate", "--model", "unused", "--noise", "mask:1.5"), "--noise: noise 'mask:1.5'"),
])
def test_bad_noise_is_one_clear_line(args: tuple[str, ...], message: str, tmp_path: Path) -> None:
    extra = ("--out", str(tmp_path / "m")) if args[0] == "train" else ()
    r = run_cli(*args, *extra)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "m").exists()
