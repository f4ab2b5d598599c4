"""Image folders: classes, colour, size, and every kind of bad file."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import latentlab.core.data.folder as folder
from latentlab.core.data import load_dataset
from latentlab.core.errors import LatentLabError


def save(path: Path, array: np.ndarray, mode: str | None = None, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode).save(path, **kw)
    return path


def solid(rgb: tuple[int, int, int], h: int = 20, w: int = 20) -> np.ndarray:
    return np.broadcast_to(np.array(rgb, dtype=np.uint8), (h, w, 3)).copy()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a gigantic image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.fixture
def classes(tmp_path: Path) -> Path:
    root = tmp_path / "pets"
    save(root / "cat" / "a.png", solid((220, 20, 20)))
    save(root / "cat" / "deep" / "b.jpg", solid((200, 30, 30)), quality=95)
    save(root / "dog" / "c.bmp", solid((20, 20, 220)))
    save(root / "dog" / "d.webp", solid((30, 30, 200)), lossless=True)
    save(root / "dog" / ".hidden.png", solid((0, 255, 0)))
    save(root / ".cache" / "e.png", solid((0, 255, 0)))
    (root / "dog" / "notes.txt").write_text("not an image")
    return root


def test_class_subfolders_become_labels(classes):
    ds = load_dataset(str(classes))
    assert ds.class_names == ("cat", "dog")
    assert ds.labels.tolist() == [0, 0, 1, 1]  # sorted paths: cat/a, cat/deep/b, dog/c, dog/d
    assert ds.images.shape == (4, 3, 32, 32)  # colour found: RGB at the RGB default size
    red, blue = ds.images[:, 0].mean(dim=(1, 2)), ds.images[:, 2].mean(dim=(1, 2))
    assert (red[ds.labels == 0] > 0.7).all() and (blue[ds.labels == 1] > 0.7).all()
    assert ds.skipped == ()  # hidden files and non-image extensions are ignored silently
    assert ds.name == "pets"


def test_gray_folder_is_grayscale_at_28(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(3):
        save(tmp_path / f"{i}.png", rng.integers(0, 256, (40, 40), dtype=np.uint8))
    save(tmp_path / "rgb_but_gray.png", np.repeat(rng.integers(0, 256, (40, 40, 1), dtype=np.uint8), 3, axis=2))
    ds = load_dataset(str(tmp_path))
    assert ds.images.shape == (4, 1, 28, 28)
    assert ds.labels is None and ds.class_names == ()
    assert ds.source["color"] == "gray" and ds.source["size"] == 28


def test_forced_colour_modes(classes, tmp_path):
    gray = load_dataset(str(classes), color="gray", image_size=16)
    assert gray.images.shape == (4, 1, 16, 16)
    save(tmp_path / "g" / "x.png", np.full((10, 10), 128, dtype=np.uint8))
    rgb = load_dataset(str(tmp_path / "g"), color="rgb")
    assert rgb.images.shape == (1, 3, 32, 32)
    assert torch.equal(rgb.images[:, 0], rgb.images[:, 2])


def test_wide_images_are_center_cropped(tmp_path):
    wide = np.zeros((30, 90), dtype=np.uint8)
    wide[:, 30:60] = 255
    save(tmp_path / "wide.png", wide)
    ds = load_dataset(str(tmp_path), image_size=12)
    assert float(ds.images.min()) > 0.9  # padding or squashing would bring in black


def test_alpha_palette_and_16_bit_images(tmp_path):
    rgba = np.zeros((8, 8, 4), dtype=np.uint8)
    rgba[..., :3] = 255  # white, but fully transparent
    save(tmp_path / "a.png", rgba, "RGBA")
    Image.fromarray(np.full((8, 8), 200, dtype=np.uint8)).convert("P").save(tmp_path / "b.png")
    save(tmp_path / "c.png", np.full((8, 8), 65535, dtype=np.uint16))  # 16-bit gray
    half = np.zeros((8, 8, 2), dtype=np.uint8)
    half[..., 0], half[..., 1] = 255, 128  # white at half opacity
    save(tmp_path / "d.png", half, "LA")
    ds = load_dataset(str(tmp_path), color="gray", image_size=8)
    assert float(ds.images[0].max()) == 0.0  # transparent -> black background
    assert float(ds.images[1].mean()) == pytest.approx(200 / 255, abs=0.01)
    assert float(ds.images[2].mean()) == pytest.approx(1.0, abs=0.01)
    assert float(ds.images[3].mean()) == pytest.approx(128 / 255, abs=0.01)


def test_bad_files_are_skipped_and_reported(tmp_path):
    save(tmp_path / "good.png", np.full((10, 10), 90, dtype=np.uint8))
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("hello, I am not a picture")
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noise).save(buf, "JPEG", quality=90)
    (tmp_path / "cut.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    (tmp_path / "bomb.png").write_bytes(png_claiming(100_000, 100_000))
    (tmp_path / "big.png").write_bytes(png_claiming(8_000, 8_000))  # under Pillow's limit, over ours
    ds = load_dataset(str(tmp_path))
    assert len(ds) == 1 and float(ds.images.mean()) == pytest.approx(90 / 255, abs=0.01)
    reasons = dict(ds.skipped)
    assert set(reasons) == {"empty.png", "text.png", "cut.jpg", "bomb.png", "big.png"}
    assert "empty" in reasons["empty.png"]
    assert "not an image" in reasons["text.png"]
    assert "truncated" in reasons["cut.jpg"]
    assert "too large" in reasons["bomb.png"] and "too large" in reasons["big.png"]


def test_pixel_limit_applies_to_real_images(tmp_path, monkeypatch):
    save(tmp_path / "small.png", np.zeros((5, 5), dtype=np.uint8))
    save(tmp_path / "large.png", np.zeros((20, 20), dtype=np.uint8))
    monkeypatch.setattr(folder, "MAX_PIXELS", 100)
    ds = load_dataset(str(tmp_path))
    assert len(ds) == 1 and [name for name, _ in ds.skipped] == ["large.png"]


def test_images_outside_class_subfolders_are_reported(classes):
    save(classes / "loose.png", solid((9, 9, 9)))
    ds = load_dataset(str(classes))
    assert len(ds) == 4 and ds.skipped == (("loose.png", "not inside a class subfolder"),)


def test_empty_or_hopeless_folders_are_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(LatentLabError, match="no images found"):
        load_dataset(str(tmp_path / "empty"))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.png").write_bytes(b"")
    with pytest.raises(LatentLabError, match="x.png: empty file"):
        load_dataset(str(tmp_path / "bad"))


def test_limit_keeps_first_images_and_source_round_trips(classes):
    ds = load_dataset(str(classes), limit=3, image_size=20)
    assert len(ds) == 3 and ds.labels.tolist() == [0, 0, 1]
    again = load_dataset(ds.source)
    assert again.fingerprint == ds.fingerprint and again.images.shape == ds.images.shape
    assert ds.source["limit"] == 3 and ds.source["color"] == "rgb"


def test_single_image_file_fits_the_model_shape(tmp_path):
    wide = np.zeros((30, 90, 3), dtype=np.uint8)
    wide[:, 30:60] = (255, 0, 0)  # a red square in the middle third
    path = save(tmp_path / "wide.png", wide)
    square = folder.load_image_file(str(path), (1, 10, 10))
    assert square.shape == (1, 10, 10) and square.dtype == torch.float32
    assert float(square.min()) == pytest.approx(0.299, abs=0.06)  # only the red part survives the crop
    whole = folder.load_image_file(path, (3, 10, 30))
    assert whole.shape == (3, 10, 30)
    assert float(whole[0, :, 12:18].min()) > 0.9 and float(whole[0, :, :8].max()) < 0.1
    assert float(whole[1:].max()) < 0.1


def test_single_image_file_errors_name_the_file(tmp_path):
    (tmp_path / "note.png").write_text("words")
    with pytest.raises(LatentLabError, match="note.png: not an image"):
        folder.load_image_file(tmp_path / "note.png", (1, 8, 8))
    with pytest.raises(LatentLabError, match="gone.png: no such file"):
        folder.load_image_file(tmp_path / "gone.png", (1, 8, 8))
    save(tmp_path / "ok.png", np.zeros((4, 4), dtype=np.uint8))
    with pytest.raises(LatentLabError, match="image shape"):
        folder.load_image_file(tmp_path / "ok.png", (2, 8, 8))
