"""View ▸ Compare Families…: planes that train one after another, brushing, the shared probe, cancel."""

from __future__ import annotations

import numpy as np
import pytest

from latentlab.core import compare as core
from latentlab.core.data import load_dataset
from latentlab.core.offmanifold import ManifoldMap
from latentlab.gui.tools.compare import CANCELLED, FINISHED, SKIPPED
from latentlab.gui.tools.compare_window import NONE, CompareWindow
from latentlab.gui.workers import InferenceWorker, TrainingWorker
from tests.gui.controller_support import Opened

ITEMS = 200


@pytest.fixture(scope="module")
def moons():
    return load_dataset("moons", limit=ITEMS)


@pytest.fixture
def make_window(qtbot, moons):
    made: list[tuple[CompareWindow, InferenceWorker]] = []

    def make(families=("pca", "ae"), epochs=1) -> CompareWindow:
        worker = InferenceWorker()
        win = CompareWindow(moons, make_trainer=lambda p: TrainingWorker(p.model_config, p.data, p.train_config,
                                                                         p.initial),
                            submit=worker.submit, threads=1)
        made.append((win, worker))
        for k, box in enumerate(win.family_boxes):
            box.setCurrentText(families[k] if k < len(families) else NONE)
        win.epochs_spin.setValue(epochs)
        win.resize(1024, 700)
        win.show()
        qtbot.waitExposed(win)
        return win

    yield make
    for win, worker in made:
        assert win.shutdown(5000)
        worker.shutdown(5000)
        win.close()
        win.deleteLater()


def _train(qtbot, win: CompareWindow) -> None:
    win.train_button.click()
    n = len(win.chosen_families())
    qtbot.waitUntil(lambda: not win.session.running and len(win.panels) == n
                    and all(win.session.ready(k) and win.panels[k].has_points() for k in range(n)), timeout=60000)


def test_defaults_are_the_story_families(make_window):
    win = make_window(families=("pca", "ae", "vae", "beta-vae"))
    assert win.chosen_families() == list(core.DEFAULT_FAMILIES)
    # Families that cannot take part (a conditional one, one without an encoder) are not offered.
    offered = {win.family_boxes[0].itemText(i) for i in range(win.family_boxes[0].count())}
    assert "cvae" not in offered and "gan" not in offered and "vae" in offered


def test_planes_appear_and_strips_are_decoded_for_every_family(qtbot, make_window, moons):
    win = make_window(families=("pca", "ae", "vae", "beta-vae"))
    _train(qtbot, win)
    # Four panels and their strips still fit a 1024 x 700 screen.
    hint = win.minimumSizeHint()
    assert hint.width() <= 1024 and hint.height() <= 660
    assert [p.title.text() for p in win.panels] == ["PCA baseline", "Autoencoder", "VAE", "β-VAE"]
    a, b = core.choose_pair(moons)
    assert win.session.pair == (a, b)
    for k, panel in enumerate(win.panels):
        slot = win.session.slots[k]
        assert slot.status == FINISHED and panel.status.text().startswith("finished")
        assert panel.plane.point_count() == ITEMS
        np.testing.assert_allclose(panel.plane._xy, slot.encoded.xy)
        # The strip shows this model's decodes along its own path from item a to item b.
        _, frames = win.session.interpolation(k)
        assert win.strips.strip(k).shape == (28, 8 * 28 + 7)
        np.testing.assert_allclose(win.strips.strip(k)[:, :28], frames[0], atol=1e-6)
        assert panel.decoded.current_image() is not None
    # Each family made its own codes: the planes differ.
    assert not np.allclose(win.session.slots[0].encoded.xy, win.session.slots[1].encoded.xy)


def test_brushing_and_selection_reach_every_plane(qtbot, make_window):
    win = make_window()
    _train(qtbot, win)
    win.panels[1].plane.pointHovered.emit(7)
    assert [p.highlighted() for p in win.panels] == [7, 7]
    win.panels[0].plane.pointHovered.emit(-1)
    assert [p.highlighted() for p in win.panels] == [None, None]
    before = [win.strips.strip(k).copy() for k in range(2)]
    win.panels[0].plane.pointSelected.emit(12)
    win.panels[1].plane.pointSelected.emit(40)
    assert [p.plane.selected() for p in win.panels] == [40, 40]
    assert win.session.pair == (12, 40)
    assert "items 12" in win.strips.caption.text()
    for k in range(2):
        _, frames = win.session.interpolation(k)
        np.testing.assert_allclose(win.strips.strip(k)[:, :28], frames[0], atol=1e-6)
        assert not np.array_equal(win.strips.strip(k), before[k])
        # The path starts at item 12 and ends at item 40 on each plane.
        enc = win.session.slots[k].encoded
        np.testing.assert_allclose(win.session.interpolation(k)[0][[0, -1]], enc.xy[[12, 40]], atol=1e-5)


def test_the_shared_probe_shows_each_models_reconstruction_of_the_nearest_item(qtbot, make_window):
    win = make_window()
    _train(qtbot, win)
    enc0, enc1 = (win.session.slots[k].encoded for k in range(2))
    # Near item 30 in the first plane (a little off it).
    x, y = enc0.xy[30] + 1e-3
    win.panels[0].plane.probeMoved.emit(float(x), float(y))
    expected = ManifoldMap(enc0.codes).score(np.array([x, y])).nearest
    qtbot.waitUntil(lambda: win.panels[1].decoded.caption() == f"item {expected}, reconstructed", timeout=3000)
    np.testing.assert_allclose(win.panels[1].decoded.current_image(), win.session.reconstruction(1, expected))
    np.testing.assert_allclose(win.panels[0].decoded.current_image(), win.session.decode_at(0, x, y))
    assert win.panels[1].plane.probe_position() == pytest.approx(tuple(enc1.xy[expected]), abs=1e-5)
    assert [p.highlighted() for p in win.panels] == [expected, expected]
    assert win.panels[0].decoded.caption().startswith("probe: on the data")
    # Dragged in the second plane instead: the first shows its reconstruction of the item nearest there.
    x2, y2 = enc1.xy[150]
    win.panels[1].plane.probeMoved.emit(float(x2), float(y2))
    near = ManifoldMap(enc1.codes).score(np.array([x2, y2])).nearest
    qtbot.waitUntil(lambda: win.panels[0].decoded.caption() == f"item {near}, reconstructed", timeout=3000)
    np.testing.assert_allclose(win.panels[0].decoded.current_image(), win.session.reconstruction(0, near))


def test_cancel_stops_training_and_skips_the_rest(qtbot, make_window):
    win = make_window(families=("ae", "vae", "beta-vae"), epochs=500)
    win.train_button.click()
    qtbot.waitUntil(lambda: win.session.slots and win.session.slots[0].status == "training", timeout=10000)
    assert win.cancel_button.isEnabled() and not win.train_button.isEnabled()
    win.cancel_button.click()
    qtbot.waitUntil(lambda: not win.session.running, timeout=20000)
    assert [s.status for s in win.session.slots] == [CANCELLED, SKIPPED, SKIPPED]
    assert win.train_button.isEnabled() and not win.cancel_button.isEnabled()
    assert win.panels[1].status.text() == SKIPPED


def test_a_bad_choice_is_said_and_nothing_trains(make_window):
    win = make_window(families=("ae", "ae"))
    win.train_button.click()
    assert "named twice" in win.message.text()
    assert not win.session.running and win.panels == []


def test_export_writes_the_sheet_of_every_trained_family(qtbot, make_window, tmp_path):
    win = make_window()
    target = tmp_path / "sheet.png"
    win.ask_sheet_path = lambda: None
    win.export_sheet()   # nothing trained yet and no path chosen: nothing written
    assert not target.exists()
    win.ask_sheet_path = lambda: str(target)
    win.export_sheet()
    assert "train first" in win.message.text() and not target.exists()
    _train(qtbot, win)
    win.export_sheet()
    from PIL import Image

    with Image.open(target) as sheet:
        assert sheet.size[0] == 2 * 320 + 3 * 10
    assert str(target) in win.message.text()
    gif = tmp_path / "walk.gif"
    win.ask_gif_path = lambda: str(gif)
    win.gif_button.click()
    with Image.open(gif) as animation:
        assert animation.n_frames == 2 * core.STRIP_STEPS - 2 and animation.size[0] == 2 * 200 + 3 * 10
    assert str(gif) in win.message.text()
    win.ask_gif_path = lambda: str(tmp_path / "missing-folder" / "x.gif")
    win.gif_button.click()
    assert "missing-folder" in win.message.text() or "No such file" in win.message.text()


def test_view_menu_opens_it_on_the_current_data(qtbot):
    opened = Opened(qtbot)
    try:
        window, c = opened(items=120)
        action = window.findChild(type(window.menuBar().actions()[0]), "compareFamiliesAction")
        assert action is not None and action.text() == "Compare &Families…"
        action.trigger()
        win = c.compare_window
        qtbot.waitExposed(win)
        assert win.data is c.data and win.isVisible()
        action.trigger()   # a second time: the same window comes forward
        assert c.compare_window is win
    finally:
        opened.close_all()
    assert not win.session.running


def test_real_clicks_and_drags_link_the_planes(qtbot, make_window):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from tests.gui.controller_support import drag, to_px

    win = make_window()
    _train(qtbot, win)
    QApplication.processEvents()
    first, second = win.panels
    # A click on item 12 in the first plane selects it in both.
    x, y = win.session.slots[0].encoded.xy[12]
    qtbot.mouseClick(first.plane.viewport(), Qt.MouseButton.LeftButton, pos=to_px(first, float(x), float(y)))
    qtbot.waitUntil(lambda: second.plane.selected() is not None, timeout=3000)
    assert first.plane.selected() == second.plane.selected() == first.plane.point_at(float(x), float(y))
    # Dragging the second plane's probe onto item 60: the first shows its reconstruction of item 60's neighbour.
    px, py = second.plane.probe_position()
    x2, y2 = win.session.slots[1].encoded.xy[60]
    start, end = to_px(second, px, py), to_px(second, float(x2), float(y2))
    drag(second, [start, *(start + (end - start) * (k / 8) for k in range(1, 9))])
    near = int(win.session.slots[1].encoded.map.score(win.session.code_at(1, *second.plane.probe_position())).nearest)
    qtbot.waitUntil(lambda: first.decoded.caption() == f"item {near}, reconstructed", timeout=3000)
    np.testing.assert_allclose(first.decoded.current_image(), win.session.reconstruction(0, near))
    assert second.plane.probe_position() == pytest.approx(tuple(win.session.slots[1].encoded.xy[60]), abs=0.05)


def test_a_click_on_a_hovered_item_selects_it_through_the_ring(qtbot, make_window):
    from PySide6.QtCore import QEvent

    from tests.gui.controller_support import LEFT, NONE, send, to_px

    win = make_window()
    _train(qtbot, win)
    first, second = win.panels
    x, y = win.session.slots[0].encoded.xy[70]
    index = first.plane.point_at(float(x), float(y))
    pos = to_px(first, float(x), float(y))
    send(first, QEvent.Type.MouseMove, pos, NONE, NONE)
    qtbot.waitUntil(lambda: second.highlighted() == index, timeout=3000)   # hovered: ringed everywhere
    assert first.highlighted() == index
    send(first, QEvent.Type.MouseButtonPress, pos, LEFT, LEFT)
    send(first, QEvent.Type.MouseButtonRelease, pos, LEFT, NONE)
    qtbot.waitUntil(lambda: second.plane.selected() == index, timeout=3000)
    assert first.plane.selected() == index


def test_density_under_every_plane_follows_its_own_map(qtbot, make_window):
    win = make_window(families=("ae", "vae"))
    _train(qtbot, win)
    win.density_box.setChecked(True)
    qtbot.waitUntil(lambda: all(d.last is not None and d.item.isVisible() for d in win.densities), timeout=20000)
    for k, overlay in enumerate(win.densities):
        enc = win.session.slots[k].encoded
        x0, y0, w, h = win.panels[k].plane.visible_rect()
        size = overlay.last.shape[0]
        # The middle cell's value is that family's own map's density there.
        cx, cy = x0 + (size // 2 + 0.5) * w / size, y0 + (size // 2 + 0.5) * h / size
        z = enc.plane.origin.numpy() + np.array([cx, cy]) @ enc.plane.basis.numpy()
        assert overlay.last[size // 2, size // 2] == pytest.approx(float(enc.map.log_density(z[None])[0]), abs=1e-6)
    assert not np.allclose(win.densities[0].last, win.densities[1].last)
    win.density_box.setChecked(False)
    assert not any(d.item.isVisible() for d in win.densities)


def test_a_class_chosen_in_one_legend_is_chosen_in_every_plane(qtbot, make_window, moons):
    win = make_window()
    _train(qtbot, win)
    first, second = win.panels
    legend = first.plane.plotItem.legend
    sample = next(s for s, _label in legend.items if getattr(s.item, "class_index", None) == 2)
    # A click on the legend entry: the plane hides class 2 (as in the main window), then says so.
    sample.item.setVisible(False)
    legend.sigSampleClicked.emit(sample.item)
    assert first.plane.hidden_classes() == {2} and second.plane.hidden_classes() == {2}
    labels = moons.labels.numpy()
    # A hidden class can be neither hovered nor picked in the other plane.
    x, y = win.session.slots[1].encoded.xy[int(np.flatnonzero(labels == 2)[0])]
    assert second.plane.point_at(float(x), float(y), radius_px=0.5) == -1
    sample.item.setVisible(True)
    legend.sigSampleClicked.emit(sample.item)
    assert second.plane.hidden_classes() == set()
    assert second.plane.point_at(float(x), float(y), radius_px=0.5) >= 0


def test_closing_the_window_while_training_stops_the_trainer(qtbot, make_window):
    win = make_window(families=("ae", "vae"), epochs=500)
    win.train_button.click()
    qtbot.waitUntil(lambda: win.session.slots and win.session.slots[0].status == "training", timeout=10000)
    trainer = win.session._worker
    win.close()
    assert not win.session.running and not trainer.isRunning()


def test_reopening_after_closing_makes_a_window_on_the_current_data(qtbot):
    opened = Opened(qtbot)
    try:
        window, c = opened(items=120)
        first = c.open_compare()
        qtbot.waitExposed(first)
        first.close()
        assert c.open_data("mnist", limit=60)
        second = c.open_compare()
        assert second is not first and second.data is c.data and len(second.data) == 60
    finally:
        opened.close_all()


def test_the_sheet_draws_what_the_window_shows_and_scores_it_as_the_cli(qtbot, make_window, moons):
    win = make_window()
    _train(qtbot, win)
    shown = win.session.results()
    for k, r in enumerate(shown):
        slot = win.session.slots[k]
        # The same numbers as the command line's for the same model, data and pair.
        expected = core.family_result(slot.model, moons, win.session.pair, status=slot.status)
        np.testing.assert_allclose(r.codes, expected.codes, atol=1e-5)
        np.testing.assert_allclose(r.strip, expected.strip, atol=1e-5)
        assert r.path_ratio == pytest.approx(expected.path_ratio, rel=1e-4)
        np.testing.assert_allclose(r.path_xy, expected.path_xy, atol=1e-4)

