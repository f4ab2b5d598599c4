"""``latentlab generate``, ``compress`` and ``train --labels``, run as a person would."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.cli.test_cli import run_cli


@pytest.fixture(scope="module")
def cvae(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("uses") / "cvae"
    r = run_cli("train", "--data", "mnist", "--limit", "300", "--family", "cvae", "--latent-dim", "4",
                "--hidden", "32", "--epochs", "1", "--threads", "1", "--out", str(out), block_qt=True)
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture(scope="module")
def ae(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("uses") / "ae"
    r = run_cli("train", "--data", "mnist", "--limit", "300", "--family", "ae", "--latent-dim", "4",
                "--hidden", "32", "--epochs", "1", "--threads", "1", "--out", str(out), block_qt=True)
    assert r.returncode == 0, r.stderr
    return out


def test_generate_folder_per_class_with_manifest_and_reload(cvae: Path, tmp_path: Path) -> None:
    from latentlab.core.checkpoint_read import model_content_hash
    from latentlab.core.data import load_dataset

    out = tmp_path / "gen"
    r = run_cli("generate", "--model", str(cvae), "--n", "2", "--per-class", "--temperature", "0.7",
                "--seed", "5", "--out", str(out), block_qt=True)
    assert r.returncode == 0, r.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model_sha256"] == model_content_hash(cvae)
    assert manifest["temperature"] == 0.7 and manifest["seed"] == 5 and manifest["n"] == 20
    assert np.load(out / "codes.npy").shape == (20, 4)
    data = load_dataset(str(out))
    assert len(data) == 20 and data.labels.tolist() == sorted(data.labels.tolist())
    assert np.bincount(data.labels.numpy()).tolist() == [2] * 10
    # Refused without --force, replaced with it.
    again = run_cli("generate", "--model", str(cvae), "--n", "1", "--out", str(out), block_qt=True)
    assert again.returncode == 2 and "--force" in again.stderr and "Traceback" not in again.stderr
    forced = run_cli("generate", "--model", str(cvae), "--n", "1", "--class", "3", "--out", str(out),
                     "--force", block_qt=True)
    assert forced.returncode == 0, forced.stderr
    assert load_dataset(str(out)).class_names == ("3",)


def test_generate_npz_and_check(cvae: Path, tmp_path: Path) -> None:
    from latentlab.core.data import load_dataset

    path = tmp_path / "set.npz"
    r = run_cli("generate", "--model", str(cvae), "--n", "3", "--per-class", "--class", "1", "--class", "7",
                "--out", str(path), "--check", block_qt=True)
    assert r.returncode == 0, r.stderr
    check = json.loads(r.stdout)
    assert set(check["per_class"]) == {"1", "7"} and check["n"] == 6 and 0 <= check["agreement"] <= 1
    data = load_dataset(str(path))
    assert data.labels.tolist() == [1, 1, 1, 7, 7, 7]


@pytest.mark.parametrize("args, words", [
    (["--n", "0"], "--n must be at least 1"),
    (["--temperature", "0"], "temperature"),
    (["--temperature", "-2"], "temperature"),
    (["--class", "11"], "unknown class '11'"),
])
def test_generate_refusals(cvae: Path, tmp_path: Path, args: list[str], words: str) -> None:
    r = run_cli("generate", "--model", str(cvae), "--out", str(tmp_path / "x"), *args, block_qt=True)
    assert r.returncode == 2 and words in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x").exists()


def test_generate_per_class_needs_labels(ae: Path, tmp_path: Path) -> None:
    r = run_cli("generate", "--model", str(ae), "--n", "2", "--per-class", "--out", str(tmp_path / "x"),
                block_qt=True)
    assert r.returncode == 2 and "no labels" in r.stderr and "Traceback" not in r.stderr


def test_compress_writes_a_report(ae: Path, tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    r = run_cli("compress", "--model", str(ae), "--limit", "5", "--bits", "6", "--report", str(report),
                block_qt=True)
    assert r.returncode == 0, r.stderr
    got = json.loads(report.read_text())
    assert got["n"] == 5 and got["model"]["bits"] == 6 and got["model"]["bytes_per_image"] == 3
    assert {"jpeg", "webp", "curve", "model_unquantised"} <= set(got)
    assert "jpeg" in r.stdout and "PSNR" in r.stdout


@pytest.mark.parametrize("bits", ["0", "17", "many"])
def test_compress_refuses_bad_bits(ae: Path, tmp_path: Path, bits: str) -> None:
    r = run_cli("compress", "--model", str(ae), "--bits", bits, "--report", str(tmp_path / "r.json"), block_qt=True)
    assert r.returncode == 2 and "1 to 16" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "r.json").exists()


def test_ssvae_trains_with_few_labels_and_evaluates_accuracy(tmp_path: Path) -> None:
    out = tmp_path / "ss"
    r = run_cli("train", "--data", "mnist", "--limit", "300", "--family", "ssvae", "--labels", "20",
                "--latent-dim", "2", "--hidden", "32", "--epochs", "1", "--threads", "1", "--out", str(out),
                block_qt=True)
    assert r.returncode == 0, r.stderr
    e = run_cli("evaluate", "--model", str(out), block_qt=True)
    assert e.returncode == 0, e.stderr
    metrics = json.loads(e.stdout)
    assert 0 <= metrics["accuracy"] <= 1 and metrics["n"] == 60


@pytest.mark.parametrize("labels, words", [
    ("0", "at least 1"),
    ("5", "at least one label per class"),
    ("100000", "the training split has only 240"),
])
def test_labels_refusals(tmp_path: Path, labels: str, words: str) -> None:
    r = run_cli("train", "--data", "mnist", "--limit", "300", "--family", "ssvae", "--labels", labels,
                "--epochs", "1", "--out", str(tmp_path / "m"), block_qt=True)
    assert r.returncode == 2 and words in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "m").exists()


def test_labels_need_a_family_that_classifies(tmp_path: Path) -> None:
    r = run_cli("train", "--data", "mnist", "--limit", "300", "--family", "cvae", "--labels", "50",
                "--epochs", "1", "--out", str(tmp_path / "m"), block_qt=True)
    assert r.returncode == 2 and "classifies" in r.stderr and "Traceback" not in r.stderr
