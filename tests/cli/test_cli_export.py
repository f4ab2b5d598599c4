"""export-grid, interpolate and encode, run on the bundled pretrained model."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.cli.test_cli import REPO, run_cli

MODEL = str(REPO / "resources" / "models" / "mnist-vae-2d")


def test_export_grid_writes_an_n_by_n_sheet(tmp_path: Path) -> None:
    out = tmp_path / "grid.png"
    r = run_cli("export-grid", "--model", MODEL, "--n", "6", "--scale", "2", "--out", str(out))
    assert r.returncode == 0, r.stderr
    with Image.open(out) as im:
        assert im.size == (6 * 28 * 2, 6 * 28 * 2)
        pixels = np.asarray(im.convert("L"), dtype=np.float32)
    # The corners of the prior grid decode to different digits: tiles must differ.
    tile = 28 * 2
    assert np.abs(pixels[:tile, :tile] - pixels[-tile:, -tile:]).mean() > 10


def test_interpolate_strip_gif_and_apng(tmp_path: Path) -> None:
    strip = tmp_path / "strip.png"
    r = run_cli("interpolate", "--model", MODEL, "--from", "mnist:0", "--to", "mnist:1",
                "--via", "mnist:2", "--steps", "3", "--out", str(strip))
    assert r.returncode == 0, r.stderr
    frames = 3 + 2 * 3  # three waypoints and three new frames between each pair
    with Image.open(strip) as im:
        assert im.size[1] == 28 and im.size[0] >= frames * 28
    gif = tmp_path / "path.gif"
    r = run_cli("interpolate", "--model", MODEL, "--from", "mnist:0", "--to", "mnist:1",
                "--steps", "4", "--slerp", "--gif", str(gif), "--pingpong")
    assert r.returncode == 0, r.stderr
    with Image.open(gif) as im:
        assert im.n_frames == 2 * 6 - 2  # forth, then back without repeating the ends
    apng = tmp_path / "path.png"
    r = run_cli("interpolate", "--model", MODEL, "--from", "mnist:0", "--to", "mnist:1",
                "--steps", "4", "--apng", str(apng))
    assert r.returncode == 0, r.stderr
    with Image.open(apng) as im:
        assert im.n_frames == 6


def test_interpolate_from_an_image_file(tmp_path: Path) -> None:
    from latentlab.core.data import load_dataset

    digit = (load_dataset("mnist").images[7, 0].numpy() * 255).astype(np.uint8)
    Image.fromarray(digit).resize((56, 56)).save(tmp_path / "seven.png")
    out, ref = tmp_path / "s.png", tmp_path / "ref.png"
    r = run_cli("interpolate", "--model", MODEL, "--from", str(tmp_path / "seven.png"),
                "--to", "mnist:3", "--steps", "2", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert run_cli("interpolate", "--model", MODEL, "--from", "mnist:7", "--to", "mnist:3",
                   "--steps", "2", "--out", str(ref)).returncode == 0
    with Image.open(out) as a, Image.open(ref) as b:
        assert a.size == b.size == (4 * 28 + 3, 28)  # 4 frames with 1-pixel gutters
        strip, expected = (np.asarray(im.convert("L"), dtype=np.float32) for im in (a, b))
    # The enlarged file is read back to 28 x 28, so its path starts where the digit's own does.
    first = np.abs(strip[:, :28] - expected[:, :28]).mean()
    assert first < 0.25 * np.abs(expected[:, :28] - expected[:, -28:]).mean()


def test_encode_csv_and_npy(tmp_path: Path) -> None:
    out = tmp_path / "codes.csv"
    r = run_cli("encode", "--model", MODEL, "--out", str(out))
    assert r.returncode == 0, r.stderr
    with out.open() as f:
        rows = list(csv.reader(f))
    assert rows[0][:3] == ["z0", "z1", "label"]
    assert len(rows) == 10001
    npy = tmp_path / "codes.npy"
    assert run_cli("encode", "--model", MODEL, "--out", str(npy)).returncode == 0
    codes = np.load(npy, allow_pickle=False)
    assert codes.shape[0] == 10000
    assert np.allclose(codes[:, :2], np.array([[float(v) for v in row[:2]] for row in rows[1:]]), atol=1e-4)


@pytest.mark.parametrize("args, fragment", [
    (("interpolate", "--model", MODEL, "--from", "mnist:99999", "--to", "mnist:1", "--out", "x.png"),
     "out of range"),
    (("interpolate", "--model", MODEL, "--from", "missing.png", "--to", "mnist:1", "--out", "x.png"),
     "missing.png"),
    (("export-grid", "--model", MODEL, "--n", "0", "--out", "g.png"), "--n"),
    (("export-grid", "--model", MODEL, "--out", "no/such/dir/g.png"), "no/such/dir"),
    (("encode", "--model", MODEL, "--out", "codes.txt"), "codes.txt"),
])
def test_export_mistakes_exit_2(args: tuple[str, ...], fragment: str, tmp_path: Path) -> None:
    r = run_cli(*args, cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and fragment in r.stderr
    assert not any(tmp_path.iterdir())
