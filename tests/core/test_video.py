"""MP4 export: frames streamed to the H.264 encoder, written atomically, read back through ffmpeg."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from latentlab.core.errors import LatentLabError

pytest.importorskip("imageio_ffmpeg", reason="the video extra (imageio-ffmpeg) is not installed")

from latentlab.core import video  # noqa: E402


def _ramp(n: int, h: int = 24, w: int = 32) -> list[np.ndarray]:
    return [np.full((h, w, 3), 20 * i, np.uint8) for i in range(n)]


def test_write_mp4_keeps_frame_count_size_rate_and_duration(tmp_path: Path) -> None:
    out = tmp_path / "ramp.mp4"
    assert video.write_mp4(out, iter(_ramp(10)), fps=10) == 10
    info = video.probe_video(out)
    assert (info.frames, info.width, info.height, info.codec) == (10, 32, 24, "h264")
    assert info.fps == pytest.approx(10.0)
    assert info.duration == pytest.approx(1.0, abs=0.05)


def test_odd_sides_are_padded_to_even_and_grey_frames_become_rgb(tmp_path: Path) -> None:
    out = tmp_path / "odd.mp4"
    video.write_mp4(out, [np.full((27, 33), v, np.uint8) for v in (0, 128, 255)], fps=3)
    info = video.probe_video(out)
    assert (info.frames, info.width, info.height) == (3, 34, 28)


def test_save_mp4_of_decoded_images_scales_and_plays_pingpong(tmp_path: Path) -> None:
    out = tmp_path / "path.mp4"
    frames = torch.linspace(0, 1, 5).view(5, 1, 1, 1).expand(5, 1, 28, 28)
    video.save_mp4(out, frames, fps=5, pingpong=True, scale=2)
    info = video.probe_video(out)
    assert (info.frames, info.width, info.height) == (8, 56, 56)   # 5 forth, 3 back
    assert info.duration == pytest.approx(8 / 5, abs=0.05)


def test_a_failed_video_leaves_the_previous_file_and_no_temporary(tmp_path: Path) -> None:
    out = tmp_path / "keep.mp4"
    out.write_bytes(b"previous")
    with pytest.raises(LatentLabError, match="same size"):
        video.write_mp4(out, [np.zeros((8, 8, 3), np.uint8), np.zeros((10, 8, 3), np.uint8)], fps=4)
    assert out.read_bytes() == b"previous"
    with pytest.raises(RuntimeError), video.VideoWriter(out, fps=4) as w:
        w.append(np.zeros((8, 8, 3), np.uint8))
        raise RuntimeError("stopped half-way")
    assert out.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.mp4"]


@pytest.mark.parametrize("fps", [0, -1, 1000])
def test_bad_frame_rates_are_refused(tmp_path: Path, fps: float) -> None:
    with pytest.raises(LatentLabError, match="frames per second"):
        video.write_mp4(tmp_path / "x.mp4", _ramp(2), fps=fps)


def test_no_frames_and_a_missing_folder_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(LatentLabError, match="at least one frame"):
        video.write_mp4(tmp_path / "x.mp4", [], fps=4)
    with pytest.raises(LatentLabError, match="does not exist"):
        video.write_mp4(tmp_path / "nope" / "x.mp4", _ramp(2), fps=4)
    assert not any(tmp_path.iterdir())


def test_a_missing_encoder_names_the_install_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)
    with pytest.raises(LatentLabError, match=r'pip install "latentlab\[video\]"'):
        video.write_mp4(tmp_path / "x.mp4", _ramp(2), fps=4)
