"""MP4 from the window: interpolation and traversal exports, and the training time-lapse."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from latentlab.core import inference
from latentlab.core.errors import LatentLabError
from latentlab.gui import timelapse_recorder
from latentlab.gui.timelapse_recorder import FrameRenderer, write_timelapse
from latentlab.gui.tools import export_dialogs, traversal_export
from tests.gui.controller_support import tiny_model, training_settings, wait_for_codes

video = pytest.importorskip("latentlab.core.video")
pytest.importorskip("imageio_ffmpeg")


def _save_to(monkeypatch, path) -> None:
    monkeypatch.setattr(export_dialogs, "_ask_options", lambda parent, title, options: dict(options))
    monkeypatch.setattr(export_dialogs, "_ask_save_path", lambda *a: str(path))


def test_the_traversal_sweeps_one_dimension_from_the_probe(qtbot, opened) -> None:
    window, controller = opened(tiny_model(latent_dim=3), items=60)
    controller.decode_at(0.5, 0.25)
    z = controller.probe.z.copy()
    frames = traversal_export.traversal_frames(controller.tools, 1, 5, 2.0)
    codes = np.repeat(z[None], 5, axis=0)
    codes[:, 1] = np.linspace(-2.0, 2.0, 5)
    expected = inference.decode(controller.model, codes).numpy()
    np.testing.assert_allclose(frames, expected, atol=1e-5)
    with pytest.raises(LatentLabError, match="no latent dimension 3"):
        traversal_export.traversal_frames(controller.tools, 3, 5, 2.0)


def test_a_traversal_exports_as_mp4(qtbot, opened, monkeypatch, tmp_path) -> None:
    window, controller = opened(tiny_model(latent_dim=3), items=60)
    controller.decode_at(0.0, 0.0)
    asked = []

    def choose(parent, latent_dim, default_dim):
        asked.append((latent_dim, default_dim))
        return {"dim": 2, "steps": 10, "sigma_range": 2.0, "format": "MP4"}

    monkeypatch.setattr(traversal_export, "_ask_traversal", choose)
    target = tmp_path / "sweep.mp4"
    _save_to(monkeypatch, target)
    window.findChild(type(window.open_action), "exportTraversalAction").trigger()
    assert asked == [(3, 0)]
    info = video.probe_video(target)
    # Ping-pong: 10 frames forwards, 8 back; each 28 px frame scaled 4×.
    assert (info.frames, info.width, info.height, info.codec) == (18, 112, 112, "h264")


def test_the_interpolation_panel_offers_mp4(qtbot, opened, monkeypatch, tmp_path) -> None:
    window, controller = opened(tiny_model(), items=60)
    wait_for_codes(qtbot, controller)
    controller.tools.add_item(0)
    controller.tools.add_item(1)
    panel = window.interpolation
    assert panel.export_mp4_action.isEnabled()
    panel.pingpong_check.setChecked(False)
    target = tmp_path / "path.mp4"
    _save_to(monkeypatch, target)
    panel.export_mp4_action.trigger()
    info = video.probe_video(target)
    assert info.frames == len(controller.tools.frames()) and (info.width, info.height) == (112, 112)
    assert info.fps == pytest.approx(panel.fps_spin.value())


class _FakeTimelapse:
    """Frames whose first pixel says which snapshot made them."""

    class config:  # noqa: N801 - stands for a ModelConfig
        latent_dim = 2

    def __init__(self) -> None:
        self.probe = None

    def frame(self, state, caption):
        return np.full((4, 6, 3), int(state["k"]), np.uint8)


def test_a_long_recording_is_thinned_evenly_and_keeps_the_last_snapshot(qtbot) -> None:
    renderer = FrameRenderer(_FakeTimelapse(), max_frames=4)
    for k in range(11):
        renderer.offer({"k": k}, None, "")
        # One snapshot at a time, as training sends them: each is taken before the next comes.
        qtbot.waitUntil(lambda: renderer._pending is None, timeout=5000)
    frames = renderer.finish()
    firsts = [int(np.asarray(Image.open(io.BytesIO(f)))[0, 0, 0]) for f in frames]
    # 0..4 exceed four frames: every other one goes and the stride doubles; again at 8; the
    # last snapshot (10), passed over by the stride, is framed at the end.
    assert firsts == [0, 4, 8, 10]


def test_training_with_record_time_lapse_saves_an_mp4_when_it_ends(qtbot, opened, monkeypatch, tmp_path) -> None:
    window, controller = opened(items=240)
    controller.ask_unsaved = lambda _text: "discard"
    recorder = controller.timelapse
    target = tmp_path / "learning.mp4"
    recorder.ask_path = lambda: str(target)
    window.training_panel.timelapse_check.setChecked(True)
    # Long enough (a second or more) for snapshots at the start, on the way and at the end.
    assert controller.start_training(training_settings(epochs=200, hidden=[16]))
    qtbot.waitUntil(lambda: target.exists(), timeout=120000)
    count = len(recorder.frames)
    assert count >= 2   # the first snapshot and the last at least
    info = video.probe_video(target)
    width, height = 2 * timelapse_recorder.PANEL_PX, timelapse_recorder.PANEL_PX + 18
    assert (info.frames, info.width, info.height) == (count, width, height)
    # On demand, the same frames as a GIF.
    gif = tmp_path / "learning.gif"
    recorder.ask_path = lambda: str(gif)
    assert controller.export("timelapse") == str(gif)
    with Image.open(gif) as im:
        assert im.n_frames == count and im.size == (width, height)


def test_cancelling_the_save_keeps_the_frames_and_nothing_is_recorded_unticked(qtbot, opened, tmp_path) -> None:
    window, controller = opened(items=240)
    controller.ask_unsaved = lambda _text: "discard"
    recorder = controller.timelapse
    recorder.ask_path = lambda: None
    errors = []
    window.show_error = lambda title, message: errors.append(title)
    assert controller.export("timelapse") is None and errors == ["No time-lapse"]
    assert controller.start_training(training_settings(epochs=2, hidden=[8]))   # not ticked
    qtbot.waitUntil(lambda: not controller.is_training, timeout=60000)
    assert recorder.frame_count() == 0
    window.training_panel.timelapse_check.setChecked(True)
    assert controller.start_training(training_settings(epochs=2, hidden=[8]))
    qtbot.waitUntil(lambda: not controller.is_training and recorder.renderer is None, timeout=60000)
    qtbot.waitUntil(lambda: "is kept until the next recorded run" in window.statusBar().currentMessage())
    assert recorder.frame_count() >= 1
    out = tmp_path / "later.mp4"
    recorder.ask_path = lambda: str(out)
    assert controller.export("timelapse") == str(out) and video.probe_video(out).frames == recorder.frame_count()


def test_write_timelapse_refuses_other_suffixes(tmp_path) -> None:
    with pytest.raises(LatentLabError, match=".mp4 or .gif"):
        write_timelapse(tmp_path / "x.avi", [b"png"])
    assert not (tmp_path / "x.avi").exists()


def test_a_model_without_an_encoder_says_why_it_has_no_time_lapse(qtbot, opened) -> None:
    window, controller = opened(items=120)
    controller.ask_unsaved = lambda _text: "discard"
    window.training_panel.timelapse_check.setChecked(True)
    messages = []
    window.show_status = lambda text, ms=0: messages.append(text)
    assert controller.start_training(training_settings(epochs=1, family="gan", hidden=[8]))
    assert controller.timelapse.renderer is None
    assert any("No time-lapse for this run" in m and "encoder" in m for m in messages)
    controller.stop_training()
    qtbot.waitUntil(lambda: not controller.is_training, timeout=30000)
