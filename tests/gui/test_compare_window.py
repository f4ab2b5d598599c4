"""View ▸ Compare Families…: planes that train one after another, opened models beside them, brushing,
the lasso, the shared probe, cancel."""

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

    def make(families=("pca", "ae"), epochs=1, **options) -> CompareWindow:
        worker = InferenceWorker()
        win = CompareWindow(moons, make_trainer=lambda p: TrainingWorker(p.model_config, p.data, p.train_config,
                                                                         p.initial),
                            submit=worker.submit, threads=1, **options)
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
    kept = sum(s.opened for s in win.session.slots)   # opened models stay beside the families
    win.train_button.click()
    n = kept + len(win.chosen_families())
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
        # No probe dragged yet: each rests on item a as its family's last codes place it.
        assert panel.plane.probe_position() == pytest.approx(tuple(slot.encoded.xy[a]), abs=1e-5)
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
        # The window's own model loader and the main window's model are offered.
        assert win.add_model_button.isVisibleTo(win) and win.add_current_button.isVisibleTo(win)
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


def test_a_class_chosen_in_the_legend_is_hidden_in_every_plane(qtbot, make_window, moons):
    win = make_window()
    _train(qtbot, win)
    first, second = win.panels
    # One legend for all the planes, above them; the planes keep none of their own.
    assert win.class_legend.isVisible()
    assert [win.class_legend.button(k).text() for k in range(5)] == list(moons.class_names)
    import pyqtgraph as pg

    assert not any(isinstance(item, pg.LegendItem) for p in win.panels for item in p.plane.scene().items())
    assert not any(win.class_legend.button(k).font().strikeOut() for k in range(5))   # all shown
    win.class_legend.button(2).click()   # hide class 2
    assert first.plane.hidden_classes() == {2} and second.plane.hidden_classes() == {2}
    # The hidden class alone reads as hidden (struck through).
    assert [win.class_legend.button(k).font().strikeOut() for k in range(5)] == [False, False, True, False, False]
    labels = moons.labels.numpy()
    # A hidden class can be neither hovered nor picked in any plane.
    x, y = win.session.slots[1].encoded.xy[int(np.flatnonzero(labels == 2)[0])]
    assert second.plane.point_at(float(x), float(y), radius_px=0.5) == -1
    win.class_legend.button(2).click()   # shown again
    assert second.plane.hidden_classes() == set() and first.plane.hidden_classes() == set()
    assert second.plane.point_at(float(x), float(y), radius_px=0.5) >= 0
    # Hidden classes stay hidden in the planes of a new comparison.
    win.class_legend.button(4).click()
    _train(qtbot, win)
    assert all(p.plane.hidden_classes() == {4} for p in win.panels) and win.class_legend.hidden() == {4}


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



# -- models a person opens ------------------------------------------------------------------------

def _saved_model(folder, family="ae", input_shape=(1, 28, 28), seed=3):
    """A small model of ``family`` saved as a model folder; returns the folder and the model."""
    import torch

    from latentlab.core.checkpoint import save_model
    from latentlab.core.models import ModelConfig, build_model

    torch.manual_seed(seed)
    model = build_model(ModelConfig(family=family, input_shape=input_shape, latent_dim=2, hidden=(32,))).eval()
    save_model(folder, model)
    return str(folder), model


def _ready(qtbot, win: CompareWindow, n: int) -> None:
    qtbot.waitUntil(lambda: len(win.panels) == n and all(win.session.ready(k) and win.panels[k].has_points()
                                                        for k in range(n)), timeout=60000)


def test_an_opened_model_is_compared_beside_the_trained_families(qtbot, make_window, moons, tmp_path):
    from latentlab.core.inference import encode_dataset
    from latentlab.gui.open_model import load_model
    from latentlab.gui.tools.compare import OPENED

    folder, original = _saved_model(tmp_path / "my-ae")
    win = make_window(families=("pca",), load_model=load_model)
    assert win.add_model_button.isVisible()
    win.ask_model_path = lambda: folder + "/config.json"   # as a file chooser gives it
    win.add_model_button.click()
    _ready(qtbot, win, 1)
    slot, panel = win.session.slots[0], win.panels[0]
    assert slot.status == OPENED and panel.title.text() == "my-ae (Autoencoder)"
    assert panel.status.text().startswith("opened") and panel.remove_button.isVisible()
    # Its plane shows its own codes of the compare data, as the saved model encodes them.
    codes = encode_dataset(original, moons)
    np.testing.assert_allclose(slot.encoded.codes, codes, atol=1e-5)
    np.testing.assert_allclose(panel.plane._xy, core.plane_xy(codes)[0], atol=1e-5)
    # Training the families keeps it: it stays first, the family joins after it.
    _train(qtbot, win)
    assert [s.status for s in win.session.slots] == [OPENED, FINISHED]
    assert len(win.panels) == 2 and win.panels[0].plane.point_count() == ITEMS
    opened, pca = win.panels
    # Its decoded view, its strip and the shared probe work as for a trained family.
    _, frames = win.session.interpolation(0)
    np.testing.assert_allclose(win.strips.strip(0)[:, :28], frames[0], atol=1e-6)
    x, y = win.session.slots[1].encoded.xy[25]
    pca.plane.probeMoved.emit(float(x), float(y))
    near = int(win.session.nearest(1, float(x), float(y)).nearest)
    qtbot.waitUntil(lambda: opened.decoded.caption() == f"item {near}, reconstructed", timeout=3000)
    np.testing.assert_allclose(opened.decoded.current_image(), win.session.reconstruction(0, near))
    opened.plane.probeMoved.emit(0.1, -0.2)
    qtbot.waitUntil(lambda: opened.decoded.caption().startswith("probe"), timeout=3000)
    np.testing.assert_allclose(opened.decoded.current_image(), win.session.decode_at(0, 0.1, -0.2))
    # Hovering an item rings it in the opened model's plane too.
    pca.plane.pointHovered.emit(9)
    assert opened.highlighted() == 9
    # The sheet has a column for it.
    target = tmp_path / "sheet.png"
    win.ask_sheet_path = lambda: str(target)
    win.export_sheet()
    from PIL import Image

    with Image.open(target) as sheet:
        assert sheet.size[0] == 2 * 320 + 3 * 10
    assert [r.title for r in win.session.results()] == ["my-ae (Autoencoder)", "PCA baseline"]
    gif = tmp_path / "walk.gif"
    win.ask_gif_path = lambda: str(gif)
    win.gif_button.click()
    with Image.open(gif) as animation:
        assert animation.size[0] == 2 * 200 + 3 * 10
    # Its × takes it out again.
    opened.remove_button.click()
    assert [s.title for s in win.session.slots] == ["PCA baseline"] and len(win.panels) == 1
    assert win.panels[0].plane.point_count() == ITEMS


def test_a_model_that_does_not_fit_the_data_is_refused_and_nothing_changes(qtbot, make_window, tmp_path):
    from latentlab.gui.open_model import load_model

    small, _ = _saved_model(tmp_path / "small", input_shape=(1, 16, 16))
    win = make_window(families=("pca",), load_model=load_model)
    _train(qtbot, win)
    before = (list(win.session.slots), list(win.panels), win.strips.row_count())
    assert not win.add_model_file(small)
    assert win.message.text().startswith("small cannot join the comparison")
    assert "16×16" in win.message.text() and "28×28" in win.message.text()
    assert (list(win.session.slots), list(win.panels), win.strips.row_count()) == before
    # A file that is not a model: one message, nothing added.
    junk = tmp_path / "junk.latentlab"
    junk.write_bytes(b"not a zip")
    assert not win.add_model_file(str(junk))
    assert win.message.text().startswith(f"Could not open the model {junk}")
    # A conditional model cannot share the interpolation.
    from latentlab.core.checkpoint import save_model
    from latentlab.core.models import ModelConfig, build_model

    cvae = build_model(ModelConfig(family="cvae", latent_dim=2, hidden=(16,), num_classes=5,
                                   label_names=("a", "b", "c", "d", "e")))
    save_model(tmp_path / "cond", cvae)
    assert not win.add_model_file(str(tmp_path / "cond"))
    assert "class label" in win.message.text()
    assert len(win.session.slots) == 1 and len(win.panels) == 1


def test_the_main_windows_model_is_added_as_a_copy_and_a_fifth_model_is_refused(qtbot, make_window):
    import torch

    from tests.gui.controller_support import tiny_model

    mine = tiny_model(family="vae", seed=5)
    given: list = [None]
    win = make_window(families=("pca", "ae", "vae", "beta-vae"), current_model=lambda: given[0])
    win.add_current_button.click()
    assert "no model" in win.message.text() and win.session.slots == []
    given[0] = (mine, "mine")
    assert win.add_current_model()
    # Four models at most: the last family chosen makes room, so Train works as it stands.
    assert win.chosen_families() == ["pca", "ae", "vae"] and "beta-vae left out" in win.message.text()
    for _ in range(3):
        assert win.add_current_model()
    assert win.chosen_families() == []
    _ready(qtbot, win, 4)
    slot = win.session.slots[0]
    assert slot.title == "mine (VAE)" and slot.model is not mine
    before = win.session.reconstruction(0, 3)
    with torch.no_grad():   # the main window trains on: the comparison keeps the weights it was given
        for p in mine.parameters():
            p.add_(1.0)
    np.testing.assert_allclose(win.session.reconstruction(0, 3), before)
    assert not win.add_current_model()
    assert "already shows 4 models" in win.message.text() and len(win.panels) == 4
    # No room to train a family beside four opened models: said, nothing trains.
    win.family_boxes[0].setCurrentText("ae")
    win.train_button.click()
    assert "at most 4 models" in win.message.text() and not win.session.running


# -- the lasso -------------------------------------------------------------------------------------

def _inside_by_path(outline, xy: np.ndarray) -> np.ndarray:
    """Which points the drawn outline holds, asked of Qt one point at a time (even-odd)."""
    from PySide6.QtCore import QPointF

    return np.array([outline.contains(QPointF(float(x), float(y))) for x, y in xy], dtype=bool)


def test_a_lasso_picks_out_exactly_the_items_inside_it_in_every_plane(qtbot, make_window):
    from PySide6.QtCore import QEvent, QPoint, Qt

    from latentlab.gui.views.compare_view import UNLASSOED_OPACITY
    from tests.gui.controller_support import LEFT, NONE, send, to_px

    win = make_window()
    _train(qtbot, win)
    first, second = win.panels
    xy = win.session.slots[0].encoded.xy
    # A concave outline (a "C") round the middle of the first plane, drawn with Shift held.
    lo, hi = np.percentile(xy, 15, axis=0), np.percentile(xy, 85, axis=0)
    (x0, y0), (x1, y1) = lo, hi
    xm = (x0 + x1) / 2
    corners = [(x0, y0), (x1, y0), (x1, y0 + 0.3 * (y1 - y0)), (xm, y0 + 0.3 * (y1 - y0)),
               (xm, y0 + 0.7 * (y1 - y0)), (x1, y0 + 0.7 * (y1 - y0)), (x1, y1), (x0, y1)]
    pixels = [to_px(first, float(x), float(y)) for x, y in corners]
    path = [p for a, b in zip(pixels, pixels[1:] + pixels[:1]) for p in
            (QPoint(int(a.x() + (b.x() - a.x()) * t / 4), int(a.y() + (b.y() - a.y()) * t / 4)) for t in range(4))]
    shift = Qt.KeyboardModifier.ShiftModifier
    view_before = first.plane.visible_rect()
    send(first, QEvent.Type.MouseMove, path[0], NONE, NONE, shift)
    send(first, QEvent.Type.MouseButtonPress, path[0], LEFT, LEFT, shift)
    for pos in path[1:]:
        send(first, QEvent.Type.MouseMove, pos, NONE, LEFT, shift)
    send(first, QEvent.Type.MouseButtonRelease, path[-1], LEFT, NONE, shift)
    assert first.plane.visible_rect() == pytest.approx(view_before)   # drawn, not panned
    outline = first.plane.plotItem.vb.lasso_outline()
    assert outline is not None
    expected = np.flatnonzero(_inside_by_path(outline, xy))
    assert 0 < len(expected) < ITEMS
    np.testing.assert_array_equal(win.lassoed(), expected)
    for panel in win.panels:   # the same items stand out in every plane
        np.testing.assert_array_equal(panel.lassoed(), expected)
        opacity = panel.plane.point_opacities()
        assert (opacity[expected] == 1.0).all()
        assert np.allclose(np.delete(opacity, expected), UNLASSOED_OPACITY)
    assert f"{len(expected):,} items lassoed" in win.message.text()
    # Escape clears it everywhere.
    qtbot.keyClick(second.plane, Qt.Key.Key_Escape)
    assert win.lassoed() is None and first.plane.plotItem.vb.lasso_outline() is None
    assert all((p.plane.point_opacities() == 1.0).all() for p in win.panels)
    # With Lasso on, a plain drag in the second plane draws one; a click on an empty spot clears it.
    win.lasso_button.setChecked(True)
    enc1 = win.session.slots[1].encoded.xy
    c = enc1.mean(axis=0)
    r = 0.25 * (enc1.max(axis=0) - enc1.min(axis=0))
    ring = [to_px(second, float(c[0] + r[0] * np.cos(t)), float(c[1] + r[1] * np.sin(t)))
            for t in np.linspace(0, 2 * np.pi, 24, endpoint=False)]
    send(second, QEvent.Type.MouseMove, ring[0], NONE, NONE)
    send(second, QEvent.Type.MouseButtonPress, ring[0], LEFT, LEFT)
    for pos in ring[1:]:
        send(second, QEvent.Type.MouseMove, pos, NONE, LEFT)
    send(second, QEvent.Type.MouseButtonRelease, ring[-1], LEFT, NONE)
    expected = np.flatnonzero(_inside_by_path(second.plane.plotItem.vb.lasso_outline(), enc1))
    assert len(expected) > 0
    np.testing.assert_array_equal(first.lassoed(), expected)
    x0, y0, w, h = second.plane.visible_rect()
    empty = next((x, y) for x, y in ((x0 + fx * w, y0 + fy * h) for fx in (0.03, 0.97) for fy in (0.03, 0.97))
                 if second.plane.point_at(x, y) < 0)
    pos = to_px(second, *empty)
    send(second, QEvent.Type.MouseButtonPress, pos, LEFT, LEFT)
    send(second, QEvent.Type.MouseButtonRelease, pos, LEFT, NONE)
    qtbot.waitUntil(lambda: win.lassoed() is None, timeout=3000)
    assert first.lassoed() is None


def test_a_lasso_leaves_out_hidden_classes_and_reaches_a_plane_that_arrives_later(qtbot, make_window, moons,
                                                                                   tmp_path):
    from latentlab.gui.open_model import load_model

    win = make_window(families=("pca",), load_model=load_model)
    _train(qtbot, win)
    labels = moons.labels.numpy()
    win.show_classes({1})
    xy = win.session.slots[0].encoded.xy
    pad = 1.0
    square = np.array([[xy[:, 0].min() - pad, xy[:, 1].min() - pad], [xy[:, 0].max() + pad, xy[:, 1].min() - pad],
                       [xy[:, 0].max() + pad, xy[:, 1].max() + pad], [xy[:, 0].min() - pad, xy[:, 1].max() + pad]])
    win.lasso(0, square)   # round every item
    np.testing.assert_array_equal(win.lassoed(), np.flatnonzero(labels != 1))
    # A model added afterwards shows the same lasso when its plane appears.
    path, _ = _saved_model(tmp_path / "later", family="vae")
    assert win.add_model_file(path)
    _ready(qtbot, win, 2)
    np.testing.assert_array_equal(win.panels[1].lassoed(), np.flatnonzero(labels != 1))
    assert (win.panels[1].plane.point_opacities()[labels == 1] < 1).all()
    # A lasso round no item is said and selects nothing.
    win.lasso(0, square + 1000.0)
    assert win.lassoed() is None and "holds no items" in win.message.text()


def test_a_reconstruction_is_always_the_current_models(qtbot, make_window):
    from latentlab.gui.tools.compare import _decoded_pictures
    from tests.gui.controller_support import tiny_model

    win = make_window()
    _train(qtbot, win)
    slot = win.session.slots[1]
    first = win.session.reconstruction(1, 5).copy()
    np.testing.assert_allclose(first, _decoded_pictures(slot.model, slot.encoded.codes[5][None])[0])
    assert win.session.reconstruction(1, 5) is win.session.reconstruction(1, 5)   # kept, not decoded again
    # New weights (a snapshot placed, a model swapped): the pictures of the old ones are not shown.
    other = tiny_model(family="ae", seed=9)
    slot.model = other
    np.testing.assert_allclose(win.session.reconstruction(1, 5),
                               _decoded_pictures(other, slot.encoded.codes[5][None])[0])
    assert not np.allclose(win.session.reconstruction(1, 5), first)


def test_snapshots_of_a_training_family_are_placed_at_most_once_an_interval_newest_first(qtbot, moons,
                                                                                          monkeypatch):
    """The encodes a training family asks for are paced: the first at once, then the newest
    snapshot when the interval is over; older ones in between are never placed."""
    from types import SimpleNamespace

    from PySide6.QtCore import QObject, Signal

    from latentlab.gui.tools import compare as session_module
    from latentlab.gui.tools.compare import CompareSession

    class FakeTrainer(QObject):
        progress = Signal(object)
        snapshotReady = Signal()
        resultReady = Signal(object)
        failed = Signal(str, str)
        finished = Signal()

        def __init__(self) -> None:
            super().__init__()
            self.next_state = None

        def take_snapshot(self):
            state, self.next_state = self.next_state, None
            return None if state is None else SimpleNamespace(state=state)

        def start(self) -> None:
            pass

        def cancel(self) -> None:
            pass

        def stop_and_wait(self, _timeout_ms: int) -> bool:
            return True

    submitted: list = []

    class Handle:
        def cancel(self) -> None:
            pass

    def submit(kind, job, on_result, on_error=None):
        submitted.append((kind, job))
        return Handle()

    seen: list = []

    def encode_job(config, state, data, pair=None):
        seen.append(state["n"])
        return lambda should_stop: None

    monkeypatch.setattr(session_module, "encode_job", encode_job)
    trainer = FakeTrainer()
    session = CompareSession(moons, make_trainer=lambda plan: trainer, submit=submit, threads=1)
    try:
        session.start(["ae"], 2, 1)
        for n in range(4):
            trainer.next_state = {"n": n}
            trainer.snapshotReady.emit()
        assert seen == [0]   # the first at once; the rest wait for the interval
        qtbot.waitUntil(lambda: len(seen) == 2, timeout=5 * session_module.ENCODE_INTERVAL_MS)
        assert seen == [0, 3]   # then only the newest
        kinds = [kind for kind, _job in submitted if kind != "compare-warm-up"]
        assert kinds == [f"compare-{session.slots[0].key}"] * 2
    finally:
        session.shutdown()


def test_a_plane_reframes_only_when_its_codes_outgrow_the_view(qtbot):
    from latentlab.gui.views.compare_view import FamilyPanel

    panel = FamilyPanel("AE")
    qtbot.addWidget(panel)
    panel.resize(300, 400)
    panel.show()
    qtbot.waitExposed(panel)
    xy = np.random.default_rng(0).normal(size=(500, 2))
    panel.prepare(500, None)
    panel.set_points(xy, None)
    first = panel.plane.visible_rect()
    x0, y0, w, h = first
    assert x0 <= xy[:, 0].min() and x0 + w >= xy[:, 0].max()   # the first codes are framed
    panel.set_points(xy * 0.95, None)   # still well framed: the view stays
    assert panel.plane.visible_rect() == pytest.approx(first)
    panel.set_points(xy * 3.0, None)    # out of the view: framed again
    x0, y0, w, h = panel.plane.visible_rect()
    assert x0 <= 3.0 * xy[:, 0].min() and x0 + w >= 3.0 * xy[:, 0].max()
    grown = panel.plane.visible_rect()
    panel.set_points(xy * 0.5, None)    # a sixth of the view: framed again, closer
    assert panel.plane.visible_rect()[2] < grown[2] / 2
