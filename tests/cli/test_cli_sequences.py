"""Sequence data and families on the command line: train, evaluate, info, encode, interpolate, score."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from latentlab.cli import main
from latentlab.core.checkpoint import load_model
from latentlab.core.data.sequences import procedural_stream


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def strokes_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("seq") / "strokes"
    assert main(["train", "--data", "strokes", "--limit", "300", "--epochs", "1", "--batch-size", "64",
                 "--threads", "1", "--device", "cpu", "--out", str(out)]) == 0
    return out


def _write_series(path: Path, length: int, seed: int, anomalies: int = 0) -> None:
    values, _ = procedural_stream(length, channels=2, seed=seed, anomalies=anomalies)
    rows = "\n".join(f"{k},{a:.5f},{b:.5f}" for k, (a, b) in enumerate(values))
    path.write_text("time,left,right\n" + rows + "\n")


def test_strokes_train_with_the_default_family_and_evaluate(strokes_model: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    config = load_model(strokes_model).config
    assert config.family == "seq-vae" and config.feature_names == ("x", "y", "pen")
    assert config.input_shape == (64, 3)
    code, out, _ = _cli(capsys, "evaluate", "--model", str(strokes_model))
    metrics = json.loads(out)
    assert code == 0 and metrics["n"] == 60
    assert set(metrics["factor_r2"]) == {"slant", "scale", "rotation", "jitter"}
    assert metrics["posterior"].split(":")[0] in ("active", "partly collapsed", "collapsed")
    code, out, _ = _cli(capsys, "info", str(strokes_model))
    assert code == 0 and "64 x 3 (T x F), features x, y, pen" in out


def test_strokes_interpolate_by_item_and_encode(strokes_model: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cli(capsys, "interpolate", "--model", str(strokes_model), "--from", "strokes:12",
                          "--to", "strokes:3", "--steps", "2", "--out", str(tmp_path / "strip.png"),
                          "--raw", str(tmp_path / "path.npy"))
    assert code == 0, err
    frames = np.load(tmp_path / "path.npy", allow_pickle=False)
    assert frames.shape == (4, 64, 3) and ((frames[..., 2] >= 0) & (frames[..., 2] <= 1)).all()
    code, out, err = _cli(capsys, "encode", "--model", str(strokes_model), "--out", str(tmp_path / "c.csv"))
    assert code == 0, err
    lines = (tmp_path / "c.csv").read_text().splitlines()
    assert lines[0] == "z0,z1,label,label_name" and len(lines) == 301


def test_rvae_takes_its_family_defaults(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(capsys, "train", "--data", "waves", "--window", "32", "--limit", "64", "--family", "rvae",
                        "--epochs", "1", "--threads", "1", "--device", "cpu", "--option", "free_bits=0.2",
                        "--out", str(tmp_path / "r"))
    assert code == 0, err
    config = load_model(tmp_path / "r").config
    assert (config.arch, config.kl_warmup_epochs, config.input_shape) == ("gru", 2, (32, 1))
    assert config.options["free_bits"] == 0.2


def test_stream_train_on_a_csv_and_score_a_new_series(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write_series(tmp_path / "train.csv", 2000, seed=0)
    _write_series(tmp_path / "new.csv", 500, seed=1, anomalies=3)
    code, _, err = _cli(capsys, "train", "--data", str(tmp_path / "train.csv"), "--family", "stream-ae",
                        "--window", "32", "--stride", "8", "--latent-dim", "3", "--epochs", "1",
                        "--threads", "1", "--device", "cpu", "--out", str(tmp_path / "m"))
    assert code == 0, err
    loaded = load_model(tmp_path / "m")
    assert loaded.config.arch == "conv" and loaded.config.feature_names == ("left", "right")
    assert loaded.meta["data"]["source"]["stride"] == 8
    code, out, err = _cli(capsys, "score", "--model", str(tmp_path / "m"), "--data", str(tmp_path / "new.csv"),
                          "--out", str(tmp_path / "scores.csv"))
    assert code == 0, err
    lines = (tmp_path / "scores.csv").read_text().splitlines()
    # 500 samples, windows of 32 every 8 steps (the training stride): starts 0..464.
    assert lines[0] == "start,error,peak,z0,z1,z2" and len(lines) == 1 + 59
    assert [int(r.split(",")[0]) for r in lines[1:4]] == [0, 8, 16]
    code, _, err = _cli(capsys, "score", "--model", str(tmp_path / "m"), "--data", str(tmp_path / "new.csv"),
                        "--stride", "100", "--out", str(tmp_path / "s2.csv"))
    assert code == 0 and len((tmp_path / "s2.csv").read_text().splitlines()) == 1 + 5
    # The series must have the model's columns.
    (tmp_path / "other.csv").write_text("a,b\n" + "1,2\n" * 40)
    code, _, err = _cli(capsys, "score", "--model", str(tmp_path / "m"), "--data", str(tmp_path / "other.csv"),
                        "--out", str(tmp_path / "s3.csv"))
    assert code == 2 and "columns a, b differ from the model's left, right" in err
    assert not (tmp_path / "s3.csv").exists()


def test_bad_series_file_is_one_line_naming_the_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3,oops\n")
    code, out, err = _cli(capsys, "train", "--data", str(tmp_path / "bad.csv"), "--window", "2",
                          "--out", str(tmp_path / "m"))
    assert code == 2 and "bad.csv, row 3: column 2 is not a number" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "m").exists()


def test_score_refuses_an_image_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--data", "moons", "--limit", "64", "--epochs", "1", "--threads", "1",
                 "--device", "cpu", "--out", str(tmp_path / "img")]) == 0
    (tmp_path / "s.csv").write_text("a\n" + "1\n" * 40)
    code, _, err = _cli(capsys, "score", "--model", str(tmp_path / "img"), "--data", str(tmp_path / "s.csv"),
                        "--out", str(tmp_path / "o.csv"))
    assert code == 2 and "score needs a sequence model" in err
