"""Image, animation and code-table writers; atomic replacement of files."""

from __future__ import annotations

import csv
import os

import numpy as np
import pytest
import torch
from PIL import Image

from latentlab.core import export
from latentlab.core.errors import LatentLabError
from latentlab.core.export import (
    atomic_write,
    save_apng,
    save_codes,
    save_gif,
    save_grid,
    save_png,
    save_strip,
    to_uint8,
)


def _frames(n: int, c: int = 1, h: int = 6, w: int = 5) -> torch.Tensor:
    # Each frame a different flat grey, so no two frames are alike and encoders keep them all.
    levels = torch.linspace(0.0, 1.0, n).view(n, 1, 1, 1)
    return levels.expand(n, c, h, w).contiguous()


def _open(path) -> tuple[tuple[int, int], int, str]:
    with Image.open(path) as im:
        return im.size, getattr(im, "n_frames", 1), im.format


def test_to_uint8_shapes_rounding_and_clipping() -> None:
    gray = torch.tensor([[[0.0, 0.5, 1.0], [-1.0, 2.0, float("nan")]]])
    out = to_uint8(gray)
    assert out.dtype == np.uint8 and out.shape == (2, 3)
    assert out.tolist() == [[0, 128, 255], [0, 255, 0]]
    rgb = torch.zeros(3, 2, 4)
    rgb[1] = 1.0
    out = to_uint8(rgb)
    assert out.shape == (2, 4, 3) and (out[..., 1] == 255).all() and (out[..., 0] == 0).all()
    assert to_uint8(torch.zeros(5, 1, 2, 4)).shape == (5, 2, 4)
    with pytest.raises(LatentLabError):
        to_uint8(torch.zeros(2, 4, 4))


def test_png_scale_is_nearest_neighbour(tmp_path) -> None:
    img = torch.tensor([[[0.0, 1.0], [1.0, 0.0]]])
    path = tmp_path / "one.png"
    save_png(path, img, scale=3)
    with Image.open(path) as im:
        assert im.size == (6, 6) and im.mode == "L"
        px = np.asarray(im)
    expected = np.kron(np.array([[0, 255], [255, 0]], dtype=np.uint8), np.ones((3, 3), dtype=np.uint8))
    assert np.array_equal(px, expected)


def test_png_rgb_and_batch_of_one(tmp_path) -> None:
    path = tmp_path / "rgb.png"
    save_png(path, torch.rand(1, 3, 4, 7))
    with Image.open(path) as im:
        assert im.size == (7, 4) and im.mode == "RGB"
    with pytest.raises(LatentLabError, match="batch"):
        save_png(tmp_path / "two.png", torch.rand(2, 1, 4, 4))


def test_grid_and_strip_sizes(tmp_path) -> None:
    imgs = _frames(7, h=4, w=5)
    save_grid(tmp_path / "grid.png", imgs, n_cols=3, scale=2, pad=1)
    # 3 rows x 3 columns of 4x5 images with 1-pixel gutters, then doubled.
    assert _open(tmp_path / "grid.png")[0] == ((3 * 5 + 2) * 2, (3 * 4 + 2) * 2)
    save_strip(tmp_path / "strip.png", imgs, scale=1, pad=0)
    assert _open(tmp_path / "strip.png")[0] == (7 * 5, 4)
    with Image.open(tmp_path / "strip.png") as im:
        px = np.asarray(im)
    assert px[0, 0] == 0 and px[0, -1] == 255  # first frame left, last frame right


@pytest.mark.parametrize("writer, fmt", [(save_gif, "GIF"), (save_apng, "PNG")])
def test_animation_frame_counts_and_scale(tmp_path, writer, fmt) -> None:
    path = tmp_path / f"anim.{fmt.lower()}"
    writer(path, _frames(5), fps=10, loop=0, pingpong=False, scale=2)
    assert _open(path) == ((10, 12), 5, fmt)
    writer(path, _frames(5), fps=10, loop=0, pingpong=True, scale=1)
    # Forward 5, back 3: the ends are not shown twice.
    assert _open(path) == ((5, 6), 8, fmt)
    with Image.open(path) as im:
        im.seek(5)
        assert np.asarray(im.convert("L"))[0, 0] == np.asarray(to_uint8(_frames(5)[3]))[0, 0]


def test_animation_rgb_and_timing(tmp_path) -> None:
    path = tmp_path / "rgb.png"
    save_apng(path, _frames(3, c=3), fps=20, loop=2)
    with Image.open(path) as im:
        assert im.mode == "RGB" and im.n_frames == 3
        assert im.info["duration"] == pytest.approx(50)
        assert im.info["loop"] == 2
    with pytest.raises(LatentLabError, match="frame"):
        save_gif(tmp_path / "none.gif", [])
    with pytest.raises(LatentLabError, match="per second"):
        save_gif(tmp_path / "bad.gif", _frames(2), fps=0)


def test_codes_csv_round_trip(tmp_path) -> None:
    codes = torch.randn(6, 3, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 1, 2, 1, 0, 2])
    path = tmp_path / "codes.csv"
    save_codes(path, codes, labels, names=["zero", "one, with comma", "two"])
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["z0", "z1", "z2", "label", "label_name"]
    back = torch.tensor([[float(v) for v in r[:3]] for r in rows[1:]])
    assert torch.equal(back, codes)  # float32 survives the text exactly
    assert [int(r[3]) for r in rows[1:]] == labels.tolist()
    assert rows[2][4] == "one, with comma"
    save_codes(path, codes)
    with open(path, newline="", encoding="utf-8") as f:
        assert next(csv.reader(f)) == ["z0", "z1", "z2"]


def test_codes_npy_and_npz_round_trip(tmp_path) -> None:
    codes = torch.randn(4, 2, generator=torch.Generator().manual_seed(1))
    labels = torch.tensor([3, 1, 0, 2])
    save_codes(tmp_path / "plain.npy", codes)
    assert np.array_equal(np.load(tmp_path / "plain.npy", allow_pickle=False), codes.numpy())
    save_codes(tmp_path / "lab.npy", codes, labels)
    table = np.load(tmp_path / "lab.npy", allow_pickle=False)
    assert table.shape == (4, 3) and table.dtype == np.float32
    assert np.array_equal(table[:, :2], codes.numpy()) and table[:, 2].tolist() == [3, 1, 0, 2]
    save_codes(tmp_path / "all.npz", codes, labels, names=list("abcd"))
    with np.load(tmp_path / "all.npz", allow_pickle=False) as z:
        assert np.array_equal(z["codes"], codes.numpy())
        assert z["labels"].tolist() == [3, 1, 0, 2]
        assert z["label_names"].tolist() == ["a", "b", "c", "d"]
    with pytest.raises(LatentLabError, match=r"\.csv"):
        save_codes(tmp_path / "codes.txt", codes)
    with pytest.raises(LatentLabError, match="one label per code"):
        save_codes(tmp_path / "x.csv", codes, labels[:2])


def _leftovers(folder) -> list[str]:
    return sorted(p for p in os.listdir(folder) if p.endswith(".tmp"))


def test_failed_write_keeps_the_old_file_and_no_temp(tmp_path, monkeypatch) -> None:
    path = tmp_path / "sheet.png"
    save_png(path, torch.zeros(1, 4, 4))
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export.os, "replace", broken_replace)
    with pytest.raises(LatentLabError, match="sheet.png"):
        save_png(path, torch.ones(1, 8, 8))
    assert path.read_bytes() == before
    assert _leftovers(tmp_path) == []


def test_writer_crash_midway_keeps_the_old_file(tmp_path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"old")

    def half_then_fail(f) -> None:
        f.write(b"partial")
        raise RuntimeError("encoder failed")

    with pytest.raises(RuntimeError):
        atomic_write(path, half_then_fail)
    assert path.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []
    atomic_write(path, lambda f: f.write(b"new"))
    assert path.read_bytes() == b"new" and _leftovers(tmp_path) == []


def test_bad_destination_raises_a_clear_error(tmp_path) -> None:
    missing = tmp_path / "no such folder" / "out.png"
    with pytest.raises(LatentLabError, match="does not exist"):
        save_png(missing, torch.zeros(1, 2, 2))
    with pytest.raises(LatentLabError, match="folder"):
        save_gif(tmp_path, _frames(2))
    assert not missing.parent.exists()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores permissions")
def test_unwritable_folder_raises_a_clear_error(tmp_path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(LatentLabError, match="cannot save"):
            save_codes(locked / "codes.csv", torch.zeros(2, 2))
    finally:
        locked.chmod(0o700)


def test_refused_temp_file_raises_a_clear_error(tmp_path, monkeypatch) -> None:
    # Stands in for a read-only folder where permissions cannot be relied on (e.g. as root).
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(export.os, "open", refuse)
    with pytest.raises(LatentLabError, match="Permission denied"):
        save_codes(tmp_path / "codes.npy", torch.zeros(2, 2))
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_new_files_follow_the_umask_not_private_temp_permissions(tmp_path) -> None:
    path = tmp_path / "shared.png"
    save_png(path, torch.zeros(1, 2, 2))
    old = os.umask(0o022)
    os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o666 & ~old
