"""InterpolationPanel and FrameStrip: waypoints, steps, strip, scrubber, playback, drops, export."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from latentlab.gui.tools import InterpolationPanel, export_dialogs, interpolation
from latentlab.gui.tools.strip import FrameStrip
from tests.gui.test_tools_support import SIDE, FakeHost


@pytest.fixture
def setup(qtbot):
    host = FakeHost()
    ctrl = host.controller()
    panel = InterpolationPanel(ctrl)
    qtbot.addWidget(panel)
    panel.resize(500, 420)
    panel.show()
    return host, ctrl, panel


def _add_two_probes(host: FakeHost, panel: InterpolationPanel) -> None:
    host.z = host.codes_[0].copy()
    panel.add_probe_button.click()
    host.z = host.codes_[1].copy()
    panel.add_probe_button.click()


def _errors(monkeypatch) -> list[str]:
    shown: list[str] = []
    monkeypatch.setattr(interpolation.dialogs, "show_error", lambda _p, _t, msg: shown.append(msg))
    return shown


def test_panel_defaults(setup) -> None:
    _host, _ctrl, panel = setup
    assert panel.objectName() == "interpolationPanel"
    assert panel.steps_spin.value() == 8
    assert (panel.steps_spin.minimum(), panel.steps_spin.maximum()) == (1, 200)
    assert [panel.method_combo.itemText(k) for k in range(2)] == ["Linear", "Spherical"]
    assert panel.findChild(type(panel.scrubber), "pathScrubber") is panel.scrubber
    assert not panel.play_button.isEnabled() and not panel.export_gif_action.isEnabled()


def test_two_waypoints_fill_the_strip_and_steps_change_its_length(setup) -> None:
    host, ctrl, panel = setup
    _add_two_probes(host, panel)
    assert [panel.waypoint_list.item(k).text() for k in range(2)] == ["probe 1", "probe 2"]
    assert panel.strip.count() == 10 and panel.scrubber.maximum() == 9
    panel.steps_spin.setValue(3)
    assert panel.strip.count() == 5 and len(ctrl.path()) == 5
    np.testing.assert_array_equal(ctrl.path()[0], host.codes_[0])
    np.testing.assert_array_equal(ctrl.path()[-1], host.codes_[1])
    assert panel.play_button.isEnabled()


def test_spherical_changes_the_middle_of_the_path(setup) -> None:
    host, ctrl, panel = setup
    _add_two_probes(host, panel)
    panel.steps_spin.setValue(1)
    linear = ctrl.path()[1]
    panel.method_combo.setCurrentIndex(1)
    assert ctrl.method == "slerp"
    assert not np.allclose(ctrl.path()[1], linear, atol=1e-4)


def test_scrubber_and_strip_clicks_move_the_probe(setup, qtbot) -> None:
    host, ctrl, panel = setup
    _add_two_probes(host, panel)
    panel.scrubber.setValue(4)
    np.testing.assert_array_equal(host.z, ctrl.path()[4])
    assert panel.strip.current() == 4
    centre = panel.strip.thumbnail_rect(7).center()
    qtbot.mouseClick(panel.strip.canvas(), Qt.MouseButton.LeftButton, pos=centre)
    np.testing.assert_array_equal(host.z, ctrl.path()[7])
    assert panel.scrubber.value() == 7 and panel.strip.current() == 7


def test_play_runs_to_the_end_and_stops_without_loop(setup, qtbot) -> None:
    host, ctrl, panel = setup
    _add_two_probes(host, panel)
    panel.steps_spin.setValue(3)
    panel.fps_spin.setValue(60)
    panel.loop_check.setChecked(False)
    positions: list[int] = []
    ctrl.positionChanged.connect(positions.append)
    panel.play_button.click()
    assert panel.is_playing() and panel.play_button.text() == "Pause"
    qtbot.waitUntil(lambda: not panel.is_playing(), timeout=5000)
    assert positions == [1, 2, 3, 4]
    np.testing.assert_array_equal(host.z, ctrl.path()[-1])
    assert panel.play_button.text() == "Play"


def test_ping_pong_goes_back_to_the_start(setup, qtbot) -> None:
    host, ctrl, panel = setup
    _add_two_probes(host, panel)
    panel.steps_spin.setValue(2)
    panel.fps_spin.setValue(60)
    panel.loop_check.setChecked(False)
    panel.pingpong_check.setChecked(True)
    positions: list[int] = []
    ctrl.positionChanged.connect(positions.append)
    panel.play_button.click()
    qtbot.waitUntil(lambda: not panel.is_playing(), timeout=5000)
    assert positions == [1, 2, 3, 2, 1, 0]


def test_looping_wraps_around(setup, qtbot) -> None:
    host, ctrl, panel = setup
    _add_two_probes(host, panel)
    panel.steps_spin.setValue(1)
    panel.fps_spin.setValue(60)
    positions: list[int] = []
    ctrl.positionChanged.connect(positions.append)
    panel.play_button.click()
    qtbot.waitUntil(lambda: len(positions) >= 5, timeout=5000)
    panel.play_button.click()
    assert not panel.is_playing()
    assert positions[:5] == [1, 2, 0, 1, 2]


def test_remove_move_and_clear_buttons(setup) -> None:
    host, ctrl, panel = setup
    _add_two_probes(host, panel)
    host.selected = 3
    panel.add_selected_button.click()
    assert [w.name for w in ctrl.waypoints] == ["probe 1", "probe 2", "item 3"]
    panel.waypoint_list.setCurrentRow(2)
    panel.up_button.click()
    assert [w.name for w in ctrl.waypoints] == ["probe 1", "item 3", "probe 2"]
    assert panel.waypoint_list.currentRow() == 1
    panel.remove_button.click()
    assert [w.name for w in ctrl.waypoints] == ["probe 1", "probe 2"]
    panel.clear_button.click()
    assert panel.waypoint_list.count() == 0 and panel.strip.count() == 0
    assert not panel.scrubber.isEnabled()


def test_add_selected_without_selection_shows_an_error(setup, monkeypatch) -> None:
    _host, ctrl, panel = setup
    shown = _errors(monkeypatch)
    panel.add_selected_button.click()
    assert shown and "Select a point" in shown[0]
    assert ctrl.waypoints == []


def _png(tmp_path, name: str, value: int):
    path = tmp_path / name
    Image.fromarray(np.full((SIDE, SIDE), value, np.uint8)).save(path)
    return path


def test_add_images_button_encodes_the_chosen_files(setup, monkeypatch, tmp_path) -> None:
    _host, ctrl, panel = setup
    files = [str(_png(tmp_path, "dark.png", 40)), str(_png(tmp_path, "light.png", 200))]
    monkeypatch.setattr(interpolation, "_ask_files", lambda _parent: files)
    panel.add_files_button.click()
    assert [panel.waypoint_list.item(k).text() for k in range(2)] == ["dark.png", "light.png"]
    assert panel.strip.count() == 10


def test_dropping_image_files_adds_waypoints(setup, monkeypatch, tmp_path) -> None:
    _host, ctrl, panel = setup
    shown = _errors(monkeypatch)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(_png(tmp_path, "a.png", 90)))])
    drop = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    panel.dropEvent(drop)
    assert [w.name for w in ctrl.waypoints] == ["a.png"]
    (tmp_path / "bad.png").write_bytes(b"not a png")
    assert panel.add_image_files([tmp_path / "bad.png"]) is False
    assert shown and "bad.png" in shown[0]
    assert len(ctrl.waypoints) == 1


def test_gif_export_writes_the_frames(setup, monkeypatch, tmp_path) -> None:
    host, ctrl, panel = setup
    _add_two_probes(host, panel)
    panel.steps_spin.setValue(2)
    target = tmp_path / "path.gif"
    monkeypatch.setattr(export_dialogs, "_ask_options", lambda _p, _t, opts: dict(opts, scale=2))
    monkeypatch.setattr(export_dialogs, "_ask_save_path", lambda *_a: str(target))
    panel.export_gif_action.trigger()
    with Image.open(target) as gif:
        assert gif.size == (2 * SIDE, 2 * SIDE)
        assert gif.n_frames == 4


def test_codes_export_writes_the_path_codes(setup, monkeypatch, tmp_path) -> None:
    host, ctrl, panel = setup
    _add_two_probes(host, panel)
    target = tmp_path / "path.npy"
    monkeypatch.setattr(export_dialogs, "_ask_save_path", lambda *_a: str(target))
    panel.export_codes_action.trigger()
    np.testing.assert_allclose(np.load(target, allow_pickle=False), ctrl.path())


def test_frame_strip_shows_frames_and_reports_clicks(qtbot) -> None:
    strip = FrameStrip(thumb_size=20)
    qtbot.addWidget(strip)
    strip.show()
    frames = np.random.default_rng(0).random((5, 3, 4, 6)).astype(np.float32)
    strip.set_frames(frames)
    assert strip.count() == 5
    assert strip.thumbnail_image(2).size().toTuple() == (6, 4)
    with qtbot.waitSignal(strip.frameClicked) as blocker:
        qtbot.mouseClick(strip.canvas(), Qt.MouseButton.LeftButton, pos=strip.thumbnail_rect(3).center())
    assert blocker.args == [3]
    strip.set_current(4)
    assert strip.current() == 4
    strip.set_frames(frames[:2])
    assert strip.count() == 2 and strip.current() == -1
    strip.canvas().setFixedWidth(400)   # room to click past the last thumbnail
    with qtbot.assertNotEmitted(strip.frameClicked):
        qtbot.mouseClick(strip.canvas(), Qt.MouseButton.LeftButton, pos=QPoint(300, 5))
