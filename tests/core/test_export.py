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
from latentlab.core.atomic_file import atomic_write
from latentlab.core.export import (
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


# -- outputs that are not images ----------------------------------------------------


@pytest.fixture
def toys():
    from tests.toy_sequence import toy_families

    with toy_families():
        yield


def _decoded(family: str, n: int) -> tuple[torch.Tensor, object]:
    from latentlab.core import inference
    from latentlab.core.render import output_spec
    from tests.toy_sequence import toy_model

    model = toy_model(family)
    codes = torch.stack([torch.linspace(-1.5, 1.5, n), torch.linspace(1.0, -1.0, n)], dim=1)
    return inference.decode(model, codes), output_spec(model.config)


def _gif_frames(path) -> list[np.ndarray]:
    frames = []
    with Image.open(path) as im:
        for k in range(im.n_frames):
            im.seek(k)
            frames.append(np.asarray(im.convert("RGB"), dtype=np.int16))
    return frames


@pytest.mark.parametrize("family, channels", [("toy-strokes", 1), ("toy-signals", 3)])
def test_sequence_outputs_render_into_every_picture_export(tmp_path, toys, family, channels) -> None:
    outputs, spec = _decoded(family, 5)
    assert outputs.shape == (5, 24, len(spec.features))
    save_strip(tmp_path / "strip.png", outputs, spec=spec, size=40)
    with Image.open(tmp_path / "strip.png") as im:
        assert im.size == (5 * 40 + 4, 40) and im.mode == ("L" if channels == 1 else "RGB")
        strip = np.asarray(im.convert("L"), dtype=np.int16)
    cells = [strip[:, k * 41:k * 41 + 40] for k in range(5)]
    assert (strip[:, 40] == round(export.SEQUENCE_GUTTER * 255)).all()  # a grey gutter
    assert all(np.abs(a - b).sum() > 0 for a, b in zip(cells, cells[1:]))
    save_gif(tmp_path / "path.gif", outputs, fps=10, spec=spec, size=(36, 48), scale=2)
    frames = _gif_frames(tmp_path / "path.gif")
    assert len(frames) == 5 and frames[0].shape == (72, 96, 3)
    assert all(np.abs(a - b).sum() > 0 for a, b in zip(frames, frames[1:]))
    save_gif(tmp_path / "pp.gif", outputs, spec=spec, size=32, pingpong=True)
    assert _open(tmp_path / "pp.gif")[1] == 8
    save_apng(tmp_path / "path.png", list(outputs), spec=spec, size=32)
    assert _open(tmp_path / "path.png") == ((32, 32), 5, "PNG")
    save_png(tmp_path / "one.png", outputs[2], spec=spec, size=50, scale=2)
    assert _open(tmp_path / "one.png")[0] == (100, 100)
    save_grid(tmp_path / "grid.png", outputs, n_cols=2, spec=spec, pad=0)
    assert _open(tmp_path / "grid.png")[0] == (2 * 96, 3 * 96)  # the default 96-pixel render


def test_frames_of_one_animation_share_one_scale(tmp_path, toys) -> None:
    from latentlab.core import render

    outputs, spec = _decoded("toy-strokes", 3)
    save_apng(tmp_path / "a.png", outputs, spec=spec, size=40)
    with Image.open(tmp_path / "a.png") as im:
        first = np.asarray(im.convert("L"))
    assert np.array_equal(first, render.render_batch(outputs, spec, size=40)[0])
    assert not np.array_equal(first, render.render(outputs[0], spec, size=40))  # alone it would fill the frame


def test_a_render_size_is_for_sequences_only(tmp_path) -> None:
    with pytest.raises(LatentLabError, match="scale images"):
        save_strip(tmp_path / "s.png", _frames(3), size=40)
    with pytest.raises(LatentLabError, match="scale images"):
        save_gif(tmp_path / "s.gif", _frames(3), size=40)
    assert os.listdir(tmp_path) == []


def test_raw_sequences_round_trip_through_csv_and_npy(tmp_path, toys) -> None:
    outputs, spec = _decoded("toy-strokes", 3)
    export.save_sequences(tmp_path / "all.csv", outputs, spec.features)
    with open(tmp_path / "all.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["frame", "step", "x", "y", "pen"] and len(rows) == 1 + 3 * 24
    assert rows[25][:2] == ["1", "0"]
    table = np.array([[float(v) for v in r[2:]] for r in rows[1:]], np.float32).reshape(3, 24, 3)
    assert np.array_equal(table, outputs.numpy())  # float32 survives the text exactly
    export.save_sequences(tmp_path / "all.npy", outputs, spec.features)
    assert np.array_equal(np.load(tmp_path / "all.npy", allow_pickle=False), outputs.numpy())
    export.save_sequences(tmp_path / "one.csv", outputs[1], spec.features)
    export.save_sequences(tmp_path / "one.npy", outputs[1], spec.features)
    assert np.load(tmp_path / "one.npy").shape == (24, 3)
    for name in ("one.csv", "one.npy"):
        assert np.array_equal(export.load_sequence(tmp_path / name, spec.features), outputs[1].numpy())


def test_a_hand_written_sequence_csv_may_order_its_columns_freely(tmp_path) -> None:
    path = tmp_path / "hand.csv"
    path.write_text("pen,y,x\n1,0.5,0\n0,0.25,2\n")
    seq = export.load_sequence(path, ("x", "y", "pen"))
    assert seq.tolist() == [[0.0, 0.5, 1.0], [2.0, 0.25, 0.0]]


@pytest.mark.parametrize("name, text, message", [
    ("a.txt", "x\n1\n", r"\.csv or \.npy"),
    ("b.csv", "x,y\n1,2\n", "no column pen"),
    ("c.csv", "frame,step,x,y,pen\n0,0,1,2,1\n1,0,1,2,1\n", "2 frames"),
    ("d.csv", "x,y,pen\n1,two,1\n", "line 2: a cell is not a number"),
    ("e.csv", "x,y,pen\n1,2\n", "line 2: 2 cells"),
    ("f.csv", "x,y,pen\n", "no steps"),
    ("g.csv", "", "empty"),
])
def test_bad_sequence_files_are_refused_by_name(tmp_path, name, text, message) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(LatentLabError, match=message) as info:
        export.load_sequence(path, ("x", "y", "pen"))
    assert name in str(info.value)


def test_sequence_npy_files_must_be_plain_numbers_of_the_right_width(tmp_path) -> None:
    np.save(tmp_path / "wide.npy", np.zeros((5, 4), np.float32))
    with pytest.raises(LatentLabError, match=r"\[T, 3\]"):
        export.load_sequence(tmp_path / "wide.npy", ("x", "y", "pen"))
    np.save(tmp_path / "objects.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(LatentLabError, match="plain numeric"):
        export.load_sequence(tmp_path / "objects.npy", ("x", "y", "pen"))
    with pytest.raises(LatentLabError, match="no such|cannot read"):
        export.load_sequence(tmp_path / "missing.npy", ("x", "y", "pen"))
    with pytest.raises(LatentLabError, match=r"F = 3"):
        export.save_sequences(tmp_path / "bad.csv", np.zeros((2, 5, 2)), ("x", "y", "pen"))
    with pytest.raises(LatentLabError, match=r"\.csv or \.npy"):
        export.save_sequences(tmp_path / "bad.npz", np.zeros((5, 3)), ("x", "y", "pen"))
