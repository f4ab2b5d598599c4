"""ToolsController: waypoints, paths, scrubbing, attribute vectors, bookmarks (no widgets)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from latentlab.core.errors import LatentLabError
from latentlab.core.latent import class_mean
from latentlab.gui.tools.image_files import as_nchw, load_image_files
from tests.gui.test_tools_support import SIDE, FakeHost


def _two_waypoints(host: FakeHost, ctrl) -> tuple[np.ndarray, np.ndarray]:
    a, b = host.codes_[0], host.codes_[1]
    ctrl.add_waypoint(a, "a")
    ctrl.add_waypoint(b, "b")
    return a, b


@pytest.mark.parametrize("steps", [0, 1, 5])
def test_path_has_the_right_length_and_ends_at_the_waypoints(qtbot, steps) -> None:
    host = FakeHost()
    ctrl = host.controller()
    ctrl.set_steps(steps)
    frames_seen: list[np.ndarray] = []
    ctrl.framesChanged.connect(frames_seen.append)
    a, b = _two_waypoints(host, ctrl)
    path = ctrl.path()
    assert path.shape == (steps + 2, host.dim)
    np.testing.assert_array_equal(path[0], a)
    np.testing.assert_array_equal(path[-1], b)
    assert frames_seen[-1].shape == (steps + 2, 1, SIDE, SIDE)
    np.testing.assert_allclose(frames_seen[-1], host.decode(path), atol=1e-6)


def test_three_waypoints_visit_the_middle_one(qtbot) -> None:
    host = FakeHost()
    ctrl = host.controller()
    ctrl.set_steps(3)
    for k in range(3):
        ctrl.add_waypoint(host.codes_[k], f"item {k}")
    path = ctrl.path()
    assert len(path) == 2 * 4 + 1
    np.testing.assert_array_equal(path[4], host.codes_[1])


def test_path_signal_carries_codes_and_waypoints_and_clears(qtbot) -> None:
    host = FakeHost()
    ctrl = host.controller()
    seen: list[tuple] = []
    ctrl.pathChanged.connect(lambda p, w: seen.append((p, w)))
    a, b = _two_waypoints(host, ctrl)
    path, wps = seen[-1]
    np.testing.assert_array_equal(wps, np.stack([a, b]))
    xy, wxy = ctrl.path_xy()
    expected = host.plane_.project(torch.from_numpy(path)).numpy()
    np.testing.assert_allclose(xy, expected, atol=1e-5)
    assert wxy.shape == (2, 2)
    ctrl.clear_waypoints()
    assert seen[-1] == (None, None)
    assert ctrl.path() is None and ctrl.frames() is None


def test_slerp_bends_the_middle_that_lerp_keeps_straight(qtbot) -> None:
    host = FakeHost()
    ctrl = host.controller()
    ctrl.set_steps(1)
    a = np.array([2.0, 0.0, 0.0, 0.0], np.float32)
    b = np.array([0.0, 2.0, 0.0, 0.0], np.float32)
    ctrl.add_waypoint(a, "a")
    ctrl.add_waypoint(b, "b")
    np.testing.assert_allclose(ctrl.path()[1], (a + b) / 2, atol=1e-6)
    ctrl.set_method("slerp")
    middle = ctrl.path()[1]
    assert np.linalg.norm(middle) == pytest.approx(2.0, abs=1e-5)   # stays on the sphere
    assert not np.allclose(middle, (a + b) / 2, atol=1e-3)
    with pytest.raises(LatentLabError, match="unknown path method"):
        ctrl.set_method("cubic")


def test_scrubbing_moves_the_probe_to_the_path_code(qtbot) -> None:
    host = FakeHost()
    ctrl = host.controller()
    _two_waypoints(host, ctrl)
    positions: list[int] = []
    ctrl.positionChanged.connect(positions.append)
    ctrl.set_position(3)
    np.testing.assert_array_equal(host.z, ctrl.path()[3])
    ctrl.set_position(999)
    assert positions == [3, len(ctrl.path()) - 1]
    np.testing.assert_array_equal(host.z, ctrl.path()[-1])


def test_waypoints_from_items_probe_and_selection(qtbot) -> None:
    host = FakeHost()
    ctrl = host.controller()
    ctrl.add_item(5)
    host.z = host.codes_[7].copy()
    ctrl.add_probe()
    host.selected = 9
    ctrl.add_selected()
    assert [w.name for w in ctrl.waypoints] == ["item 5", "probe 2", "item 9"]
    np.testing.assert_allclose(ctrl.waypoints[0].z, host.codes_[5], atol=1e-3)
    np.testing.assert_array_equal(ctrl.waypoints[1].z, host.codes_[7])
    host.selected = None
    with pytest.raises(LatentLabError, match="Select a point"):
        ctrl.add_selected()


def test_move_and_remove_waypoints(qtbot) -> None:
    host = FakeHost()
    ctrl = host.controller()
    for k in range(3):
        ctrl.add_waypoint(host.codes_[k], f"w{k}")
    assert ctrl.move_waypoint(0, 1) == 1
    assert [w.name for w in ctrl.waypoints] == ["w1", "w0", "w2"]
    assert ctrl.move_waypoint(2, 5) == 2       # already last: stays
    ctrl.remove_waypoint(0)
    assert [w.name for w in ctrl.waypoints] == ["w0", "w2"]
    np.testing.assert_array_equal(ctrl.path()[0], host.codes_[0])


def test_image_files_are_encoded_as_waypoints(qtbot, tmp_path) -> None:
    host = FakeHost()
    ctrl = host.controller()
    z = host.codes_[3] * 0.3   # away from the sigmoid's flat ends, where 8 bits lose detail
    pixels = (host.decode(z[None])[0, 0] * 255 + 0.5).astype(np.uint8)
    Image.fromarray(pixels).convert("RGB").save(tmp_path / "three.png")   # colour file, grey model
    ctrl.add_image_files([tmp_path / "three.png"])
    assert ctrl.waypoints[0].name == "three.png"
    assert np.linalg.norm(ctrl.waypoints[0].z - z) < 0.05 * np.linalg.norm(z)
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(LatentLabError, match="notes.txt"):
        ctrl.add_image_files([tmp_path / "notes.txt"])
    assert len(ctrl.waypoints) == 1


def test_image_files_are_cropped_and_resized_to_the_model(tmp_path) -> None:
    # A wide picture: white centre square between black side bands that the crop removes.
    wide = np.zeros((40, 80, 4), np.uint8)
    wide[:, 20:60] = 255
    wide[:, :, 3] = 255
    wide[:5, 20:60, 3] = 0   # transparent strip at the top goes black, as in data folders
    Image.fromarray(wide, "RGBA").save(tmp_path / "wide.png")
    grey = load_image_files([tmp_path / "wide.png"], (1, 8, 8))[0]
    assert grey.shape == (1, 8, 8) and grey.dtype == np.float32
    assert grey[0, 4:].min() > 0.9 and grey[0, 0].max() < 0.5
    rgb = load_image_files([tmp_path / "wide.png"], (3, 6, 6))[0]
    assert rgb.shape == (3, 6, 6)


def test_waypoint_of_the_wrong_length_is_refused(qtbot) -> None:
    ctrl = FakeHost(dim=4).controller()
    with pytest.raises(LatentLabError, match="3 latent values, the model has 4"):
        ctrl.add_waypoint(np.zeros(3), "short")


def test_attribute_vector_is_the_class_mean_difference(qtbot) -> None:
    host = FakeHost()
    ctrl = host.controller()
    codes, labels = torch.from_numpy(host.codes_), torch.from_numpy(host.labels_)
    vec = ctrl.set_attribute(to_class=2, from_class=1)
    np.testing.assert_allclose(vec, (class_mean(codes, labels, 2) - class_mean(codes, labels, 1)).numpy(), atol=1e-6)
    vec_all = ctrl.set_attribute(to_class=2)
    np.testing.assert_allclose(vec_all, class_mean(codes, labels, 2).numpy() - host.codes_.mean(0), atol=1e-5)


def test_applying_moves_the_probe_by_amount_times_vector_without_compounding(qtbot) -> None:
    host = FakeHost()
    ctrl = host.controller()
    host.z = host.codes_[0].copy()
    start = host.z.copy()
    arrows: list[tuple] = []
    ctrl.arrowChanged.connect(lambda s, e: arrows.append((s, e)))
    vec = ctrl.set_attribute(to_class=3, from_class=0)
    ctrl.apply(1.0)
    np.testing.assert_allclose(host.z, start + vec, atol=1e-5)
    start_xy, end_xy = arrows[-1]
    np.testing.assert_allclose(end_xy - start_xy, host.plane_.basis.numpy() @ vec, atol=1e-4)
    np.testing.assert_allclose(start_xy, host.plane_.project(torch.from_numpy(start[None])).numpy()[0], atol=1e-4)
    ctrl.apply(0.5)   # a new amount slides along the same line from the same base
    np.testing.assert_allclose(host.z, start + 0.5 * vec, atol=1e-5)
    assert ctrl.is_applied()
    host.z = host.codes_[5].copy()   # the user moved the probe: the next apply starts there
    ctrl.notify_probe_moved()
    assert not ctrl.is_applied()
    ctrl.apply(1.0)
    np.testing.assert_allclose(host.z, host.codes_[5] + vec, atol=1e-5)
    cleared: list[bool] = []
    ctrl.arrowCleared.connect(lambda: cleared.append(True))
    ctrl.clear_attribute()
    assert cleared and ctrl.attribute is None


def test_attribute_needs_labels(qtbot) -> None:
    ctrl = FakeHost(labelled=False).controller()
    assert not ctrl.has_labels()
    with pytest.raises(LatentLabError, match="labelled data"):
        ctrl.set_attribute(1)
    with pytest.raises(LatentLabError, match="classes"):
        ctrl.apply(1.0)


def test_bookmarks_add_jump_rename_delete(qtbot) -> None:
    host = FakeHost()
    ctrl = host.controller()
    host.z = host.codes_[1].copy()
    ctrl.add_bookmark()
    host.z = host.codes_[2].copy()
    ctrl.add_bookmark()
    ctrl.add_bookmark("mine")
    assert [b.name for b in ctrl.bookmarks] == ["Bookmark 1", "Bookmark 2", "mine"]
    ctrl.jump_to_bookmark(0)
    np.testing.assert_array_equal(host.z, host.codes_[1])
    ctrl.rename_bookmark(0, "  first one ")
    assert ctrl.bookmarks[0].name == "first one"
    with pytest.raises(LatentLabError, match="needs a name"):
        ctrl.rename_bookmark(0, "   ")
    ctrl.remove_bookmark(0)
    assert [b.name for b in ctrl.bookmarks] == ["Bookmark 2", "mine"]
    ctrl.add_bookmark()   # "Bookmark 3": never a second "Bookmark 2"
    assert ctrl.bookmarks[-1].name == "Bookmark 3"


def test_no_model_means_a_clear_error(qtbot) -> None:
    host = FakeHost()
    host.z = None
    ctrl = host.controller()
    assert ctrl.latent_dim() == 0
    with pytest.raises(LatentLabError, match="Open or train a model"):
        ctrl.add_bookmark()


def test_refresh_decodes_the_path_again(qtbot) -> None:
    host = FakeHost()
    ctrl = host.controller()
    _two_waypoints(host, ctrl)
    before = ctrl.frames()
    host.weights = host.weights * 2.0   # "training" changed the decoder
    with qtbot.waitSignal(ctrl.modelRefreshed):
        ctrl.refresh()
    after = ctrl.frames()
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, host.decode(ctrl.path()), atol=1e-6)


def test_display_layouts_from_the_host_become_nchw() -> None:
    grey = np.random.default_rng(0).random((2, 5, 7)).astype(np.float32)
    np.testing.assert_array_equal(as_nchw(grey), grey[:, None])
    rgb = np.random.default_rng(0).random((2, 5, 7, 3)).astype(np.float32)
    assert as_nchw(rgb).shape == (2, 3, 5, 7)
    np.testing.assert_array_equal(as_nchw(rgb)[1, 2], rgb[1, :, :, 2])
    nchw = np.zeros((2, 3, 5, 7), np.float32)
    assert as_nchw(nchw).shape == (2, 3, 5, 7)


def test_a_host_decoding_to_display_arrays_still_gives_frames(qtbot) -> None:
    host = FakeHost()
    ctrl = host.controller(decode=lambda z: host.decode(z)[:, 0])   # [M, H, W], like the GUI session
    ctrl.add_waypoint(host.codes_[0], "a")
    ctrl.add_waypoint(host.codes_[1], "b")
    assert ctrl.frames().shape == (10, 1, SIDE, SIDE)
    assert ctrl.image_shape() == (1, SIDE, SIDE)
