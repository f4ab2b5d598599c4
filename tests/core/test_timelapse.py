"""Training time-lapse: the latent plane beside the decoded probe, one frame per chosen snapshot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentlab.core.checkpoint import load_model
from latentlab.core.data import load_dataset
from latentlab.core.errors import LatentLabError
from latentlab.core.timelapse import _CAPTION, PALETTE, Timelapse, TimelapseRecorder, render_frame
from latentlab.core.training_types import Progress, Snapshot

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bundled():
    loaded = load_model(REPO / "resources" / "models" / "mnist-vae-2d")
    return loaded.config, {k: v.clone() for k, v in loaded.model.state_dict().items()}


@pytest.fixture(scope="module")
def digits():
    return load_dataset("mnist", limit=200)


def test_a_frame_draws_points_in_their_label_colours_and_the_decoded_probe() -> None:
    xy = np.array([[-1.0, -1.0], [1.0, 1.0]])
    decoded = np.full((28, 28), 200, np.uint8)
    px = render_frame(xy, np.array([0, 3]), np.array([0.0, 0.0]), decoded, size=100, caption="epoch 1")
    assert px.shape == (100 + _CAPTION, 200, 3) and px.dtype == np.uint8
    colours = {tuple(c) for c in px[:, :100].reshape(-1, 3)}
    assert PALETTE[0] in colours and PALETTE[3] in colours and PALETTE[1] not in colours
    # The first point (lower left on the plane) is drawn lower on the picture than the second.
    rows_0 = np.nonzero((px[:, :100] == PALETTE[0]).all(2))[0]
    rows_3 = np.nonzero((px[:, :100] == PALETTE[3]).all(2))[0]
    assert rows_0.mean() > rows_3.mean()
    assert (px[_CAPTION:, 100:] == 200).all()           # the probe's picture fills the right panel


def test_frames_change_as_the_weights_change(bundled, digits, tmp_path: Path) -> None:
    config, state = bundled
    tl = Timelapse(tmp_path / "t.gif", config, digits, size=96)
    early = tl.frame({k: v * 0.1 for k, v in state.items()})
    late = tl.frame(state)
    assert early.shape == late.shape == (96 + _CAPTION, 192, 3)
    assert np.abs(early[_CAPTION:, 96:].astype(int) - late[_CAPTION:, 96:]).mean() > 5


def test_the_recorder_frames_every_n_steps_and_the_last_snapshot(bundled, digits, tmp_path: Path) -> None:
    pytest.importorskip("imageio_ffmpeg", reason="the video extra is not installed")
    from latentlab.core.video import probe_video

    config, state = bundled
    out = tmp_path / "run.mp4"
    with TimelapseRecorder(out, config, digits, every=3, size=64, fps=5) as rec:
        for step in range(1, 11):
            rec.offer(Progress(1, 1, step, 10, {}, 0.0, 0.0))   # not a snapshot: ignored
            rec.offer(Snapshot(state={k: v * step / 10 for k, v in state.items()}, epoch=1, step=step))
    # Steps 1, 3, 6 and 9 reach a mark; step 10 is the run's last snapshot.
    info = probe_video(out)
    assert (info.frames, info.width, info.height) == (5, 128, 64 + _CAPTION)
    assert info.duration == pytest.approx(1.0, abs=0.05)


def test_a_gif_time_lapse_and_a_failed_run_leaving_nothing(bundled, digits, tmp_path: Path) -> None:
    config, state = bundled
    out = tmp_path / "run.gif"
    with TimelapseRecorder(out, config, digits, size=64) as rec:
        for step in (1, 2):
            rec.offer(Snapshot(state=state, epoch=1, step=step))
    with Image.open(out) as im:
        assert im.n_frames == 2 and im.size == (128, 64 + _CAPTION)
    failed = tmp_path / "failed.gif"
    with pytest.raises(RuntimeError), TimelapseRecorder(failed, config, digits, size=64) as rec:
        rec.offer(Snapshot(state=state, epoch=1, step=1))
        raise RuntimeError("training broke")
    assert not failed.exists()


def test_time_lapse_mistakes_are_clear(bundled, digits, tmp_path: Path) -> None:
    config, _ = bundled
    with pytest.raises(LatentLabError, match=".mp4 or .gif"):
        Timelapse(tmp_path / "t.avi", config, digits)
    with pytest.raises(LatentLabError, match="64 to 1024"):
        Timelapse(tmp_path / "t.gif", config, digits, size=10)
    with pytest.raises(LatentLabError, match="code of 2 numbers"):
        Timelapse(tmp_path / "t.gif", config, digits, probe=np.zeros(3))
    with pytest.raises(LatentLabError, match="expects items of shape"):
        Timelapse(tmp_path / "t.gif", config, load_dataset("moons", limit=10, image_size=16))
    with pytest.raises(LatentLabError, match="at least one frame"):
        Timelapse(tmp_path / "t.gif", config, digits).close()


def test_train_writes_a_time_lapse_from_the_command_line(tmp_path: Path) -> None:
    pytest.importorskip("imageio_ffmpeg", reason="the video extra is not installed")
    from latentlab.core.video import probe_video
    from tests.cli.test_cli import run_cli

    video = tmp_path / "run.mp4"
    r = run_cli("train", "--data", "mnist", "--limit", "300", "--epochs", "2", "--hidden", "16",
                "--batch-size", "60", "--threads", "1", "--out", str(tmp_path / "m"),
                "--timelapse", str(video), "--timelapse-every", "2")
    assert r.returncode == 0, r.stderr
    info = probe_video(video)
    # 240 training items in batches of 60: 8 steps, a frame at steps 1, 2, 4, 6 and 8 (at least).
    assert info.frames >= 5 and (info.width, info.height) == (512, 256 + _CAPTION)
    assert f"wrote {video}" in r.stderr
    r = run_cli("train", "--data", "mnist", "--limit", "100", "--epochs", "1", "--out", str(tmp_path / "n"),
                "--timelapse", str(tmp_path / "run.avi"))
    assert r.returncode == 2 and ".mp4 or .gif" in r.stderr and not (tmp_path / "n").exists()
