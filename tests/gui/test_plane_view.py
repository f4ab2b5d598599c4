"""The latent plane: probe dragging, clicks, hover thumbnails, big scatters, overlays."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter
from PySide6.QtWidgets import QApplication

from latentlab.gui.views.plane_items import PointIndex
from latentlab.gui.views.plane_view import LatentPlaneView
from tests.gui.plane_support import no_mouse_rate_limit, shown_plane  # noqa: F401 (a fixture)

LEFT = Qt.MouseButton.LeftButton
NONE = Qt.MouseButton.NoButton


@pytest.fixture(autouse=True)
def _no_mouse_rate_limit(no_mouse_rate_limit) -> None:
    pass


@pytest.fixture
def view(qtbot) -> LatentPlaneView:
    return shown_plane(qtbot)


def _show_region(view: LatentPlaneView, half: float = 5.0) -> None:
    view.plotItem.vb.setRange(xRange=(-half, half), yRange=(-half, half), padding=0)
    QApplication.processEvents()


def _to_px(view: LatentPlaneView, x: float, y: float) -> QPoint:
    scene = view.plotItem.vb.mapViewToScene(QPointF(x, y))
    return view.mapFromScene(scene)


def _to_plane(view: LatentPlaneView, px: QPoint) -> tuple[float, float]:
    p = view.plotItem.vb.mapSceneToView(view.mapToScene(px))
    return p.x(), p.y()


def _send(view: LatentPlaneView, kind: QEvent.Type, pos: QPoint, button, buttons) -> None:
    local = QPointF(pos)
    glob = QPointF(view.viewport().mapToGlobal(pos))
    event = QMouseEvent(kind, local, glob, button, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(view.viewport(), event)


def _hover(view, pos: QPoint) -> None:
    _send(view, QEvent.Type.MouseMove, pos, NONE, NONE)


def _drag(view, path: list[QPoint]) -> None:
    """Press at path[0], move through the rest with the left button held, release at the end."""
    _hover(view, path[0])
    _send(view, QEvent.Type.MouseButtonPress, path[0], LEFT, LEFT)
    for pos in path[1:]:
        _send(view, QEvent.Type.MouseMove, pos, NONE, LEFT)
    _send(view, QEvent.Type.MouseButtonRelease, path[-1], LEFT, NONE)


def _click(view, pos: QPoint) -> None:
    _drag(view, [pos])


def _pixel_size(view) -> float:
    return max(abs(v) for v in view.plotItem.vb.viewPixelSize())


def _recorder(signal) -> list:
    calls: list = []
    signal.connect(lambda *args: calls.append(args))
    return calls


def test_dragging_the_probe_follows_the_mouse_and_releases_once(view) -> None:
    view.set_points(np.array([[4.0, 4.0], [-4.0, 4.0]]), np.array([0, 1]))
    _show_region(view)
    view.set_probe(0.0, 0.0)
    moved, released = _recorder(view.probeMoved), _recorder(view.probeReleased)
    start = _to_px(view, 0.0, 0.0)
    path = [start + QPoint(dx, dy) for dx, dy in ((0, 0), (12, 0), (30, -10), (60, -40), (80, 25))]
    _drag(view, path)

    tol = 1.5 * _pixel_size(view)
    assert len(moved) >= 3
    # Every reported position is where the mouse was at one of the moves.
    targets = [_to_plane(view, p) for p in path[1:]]
    for x, y in moved:
        assert min(np.hypot(x - tx, y - ty) for tx, ty in targets) < tol
    assert np.hypot(moved[-1][0] - targets[-1][0], moved[-1][1] - targets[-1][1]) < tol
    assert len(released) == 1
    assert np.allclose(released[0], view.probe_position())
    assert np.hypot(*(np.subtract(view.probe_position(), targets[-1]))) < tol


def test_click_on_empty_spot_moves_the_probe_there(view) -> None:
    view.set_points(np.array([[4.0, 4.0], [-4.0, 4.0]]), np.array([0, 1]))
    _show_region(view)
    moved, released = _recorder(view.probeMoved), _recorder(view.probeReleased)
    selected = _recorder(view.pointSelected)
    spot = _to_px(view, 2.0, -3.0)
    _click(view, spot)

    expected = _to_plane(view, spot)
    assert len(moved) == 1 and len(released) == 1
    assert np.allclose(moved[0], expected, atol=1e-9)
    assert np.allclose(view.probe_position(), expected, atol=1e-9)
    assert selected == []
    assert view.selected() is None


def test_click_on_a_point_selects_it_and_puts_the_probe_on_it(view) -> None:
    xy = np.array([[1.0, 1.0], [-2.0, 3.0], [3.5, -2.5]])
    view.set_points(xy, np.array([0, 1, 2]))
    _show_region(view)
    selected, moved = _recorder(view.pointSelected), _recorder(view.probeMoved)
    # A couple of pixels off the point still counts as clicking it.
    _click(view, _to_px(view, -2.0, 3.0) + QPoint(2, -1))

    assert selected == [(1,)]
    assert view.selected() == 1
    assert view.probe_position() == (-2.0, 3.0)
    assert moved[-1] == (-2.0, 3.0)


def test_left_drag_on_empty_space_pans_without_moving_the_probe(view) -> None:
    view.set_points(np.array([[4.0, 4.0], [-4.0, -4.0]]))
    _show_region(view)
    view.set_probe(0.0, 0.0)
    moved = _recorder(view.probeMoved)
    x0_before = view.visible_rect()[0]
    start = _to_px(view, -3.0, -2.0)
    _drag(view, [start, start + QPoint(20, 0), start + QPoint(100, 0)])

    # Dragging the content right by 100 px shows what was 100 px to its left.
    assert view.visible_rect()[0] == pytest.approx(x0_before - 100 * _pixel_size(view), rel=0.05)
    assert moved == []
    assert view.probe_position() == (0.0, 0.0)


def test_hovering_a_point_reports_it_and_shows_its_thumbnail(view) -> None:
    xy = np.array([[0.0, 0.0], [3.0, 3.0], [-3.0, 2.0]])
    view.set_points(xy, np.array([0, 1, 2]))
    _show_region(view)
    asked: list[int] = []

    def thumbnail(index: int) -> np.ndarray:
        asked.append(index)
        return np.full((28, 28), index / 2.0, dtype=np.float32)

    view.set_thumbnail_source(thumbnail)
    hovered = _recorder(view.pointHovered)
    _hover(view, _to_px(view, 3.0, 3.0))
    _hover(view, _to_px(view, 3.0, 3.0) + QPoint(1, 1))  # same point: no repeat
    assert hovered == [(1,)] and asked == [1]
    assert view.thumbnail_label().isVisible()
    assert not view.thumbnail_label().pixmap().isNull()

    _hover(view, _to_px(view, -3.0, -3.0))
    assert hovered[-1] == (-1,)
    assert not view.thumbnail_label().isVisible()
    _hover(view, _to_px(view, -3.0, 2.0))
    assert hovered[-1] == (2,) and asked == [1, 2]


def test_seventy_thousand_points_and_update_keeps_the_users_zoom(view) -> None:
    rng = np.random.default_rng(0)
    xy = rng.normal(size=(70_000, 2))
    xy[123] = (9.0, 9.0)  # one isolated point to find again
    labels = rng.integers(0, 10, size=70_000)
    view.set_points(xy, labels, [f"digit {k}" for k in range(10)])
    QApplication.processEvents()

    assert view.point_count() == 70_000
    assert len(view.plotItem.legend.items) == 10
    x0, y0, w, h = view.visible_rect()
    assert x0 <= xy[:, 0].min() and x0 + w >= 9.0 and y0 <= xy[:, 1].min() and y0 + h >= 9.0
    assert view.point_at(9.0, 9.0) == 123

    start = _to_px(view, 0.0, -2.0)
    _drag(view, [start, start + QPoint(0, 30), start + QPoint(40, 60)])  # the user pans
    before = view.visible_rect()
    view.update_points(xy * 3.0)
    assert view.visible_rect() == pytest.approx(before)
    x, y = view._points.getData()
    assert np.allclose(x, xy[:, 0] * 3.0) and np.allclose(y, xy[:, 1] * 3.0)
    assert view.point_at(27.0, 27.0) == 123


def test_update_points_follows_the_data_while_the_view_is_untouched(view) -> None:
    xy = np.array([[0.0, 0.0], [1.0, 1.0]])
    view.set_points(xy)
    view.update_points(xy * 10.0 + 50.0)
    x0, y0, w, h = view.visible_rect()
    assert x0 <= 50.0 and x0 + w >= 60.0 and y0 <= 50.0 and y0 + h >= 60.0


def test_a_single_point_gets_a_usable_view(view) -> None:
    view.set_points(np.array([[3.0, -2.0]]))
    x0, y0, w, h = view.visible_rect()
    assert x0 <= 2.0 and x0 + w >= 4.0 and y0 <= -3.0 and y0 + h >= -1.0
    assert min(w, h) < 10.0


def test_update_points_rejects_a_different_count(view) -> None:
    view.set_points(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="set_points"):
        view.update_points(np.zeros((4, 2)))


def test_set_probe_does_not_emit(view, qtbot) -> None:
    with qtbot.assertNotEmitted(view.probeMoved), qtbot.assertNotEmitted(view.probeReleased):
        view.set_probe(1.25, -0.5)
        QApplication.processEvents()
    assert view.probe_position() == (1.25, -0.5)


def test_mosaic_sits_at_its_rect_with_row_zero_on_top(view) -> None:
    view.set_points(np.array([[-5.0, -5.0], [5.0, 5.0]]))
    _show_region(view, 6.0)
    image = np.zeros((4, 8, 3), dtype=np.float32)
    image[0, :] = (1.0, 0.0, 0.0)  # top row red
    image[-1, :] = (0.0, 0.0, 1.0)  # bottom row blue
    view.set_mosaic(image, (-4.0, -2.0, 8.0, 4.0))

    item = view.mosaic_item()
    placed = item.mapRectToView(item.boundingRect())
    assert (placed.left(), placed.top(), placed.width(), placed.height()) == \
        pytest.approx((-4.0, -2.0, 8.0, 4.0))
    shot = view.grab().toImage()

    def colour_at(x: float, y: float) -> QColor:
        p = view.viewport().mapTo(view, _to_px(view, x, y))
        return shot.pixelColor(p.x() * shot.width() // view.width(),
                               p.y() * shot.height() // view.height())

    top, bottom = colour_at(-3.0, 1.5), colour_at(-3.0, -1.5)  # rows are 1 unit tall
    assert (top.red(), top.blue()) == (255, 0)
    assert (bottom.red(), bottom.blue()) == (0, 255)
    view.clear_mosaic()
    assert not item.isVisible()


def test_path_and_arrow(view) -> None:
    _show_region(view)
    line = np.array([[0.0, 0.0], [1.0, 2.0], [3.0, 1.0]])
    view.set_path(line, line[[0, -1]])
    x, y = view._path.getData()
    assert np.allclose(np.c_[x, y], line)
    assert len(view._waypoints.getData()[0]) == 2
    view.set_path(None, None)
    assert view._path.getData()[0].size == 0

    view.set_arrow((0.0, 0.0), (0.0, 3.0))
    head = view._arrow.head
    assert (head.pos().x(), head.pos().y()) == (0.0, 3.0)
    # The head's body lies behind its tip, i.e. towards the start (below on screen).
    on_screen = head.deviceTransform(view.viewportTransform())  # the head ignores zoom
    tip, body = on_screen.map(QPointF(0, 0)), on_screen.map(head.path.boundingRect().center())
    assert (tip - QPointF(_to_px(view, 0.0, 3.0))).manhattanLength() < 1.5
    assert body.y() > tip.y() + 3
    assert abs(body.x() - tip.x()) < 1.0
    view.clear_arrow()
    assert not head.isVisible()


def test_axis_names_and_visible_rect(view) -> None:
    view.set_axis_names("PC 1", "PC 2")
    assert "PC 1" in view.plotItem.getAxis("bottom").labelText
    assert "PC 2" in view.plotItem.getAxis("left").labelText
    _show_region(view, 2.0)
    x0, y0, w, h = view.visible_rect()
    assert x0 <= -2.0 and y0 <= -2.0 and x0 + w >= 2.0 and y0 + h >= 2.0


def test_point_index_finds_the_nearest_point_inside_the_radius() -> None:
    rng = np.random.default_rng(1)
    xy = rng.uniform(-10, 10, size=(5_000, 2))
    xy[7] = (np.nan, 0.0)  # non-finite points are never returned
    index = PointIndex(xy)
    for qx, qy in rng.uniform(-11, 11, size=(200, 2)):
        d = np.hypot(xy[:, 0] - qx, xy[:, 1] - qy)
        d[7] = np.inf
        best = int(np.argmin(d))
        expected = best if d[best] <= 0.3 else -1
        assert index.nearest(qx, qy, 0.3, 0.3) == expected
    assert index.nearest(100.0, 100.0, 1.0, 1.0) == -1


def test_clicking_a_legend_entry_hides_that_class(view) -> None:
    xy = np.array([[0.0, 0.0], [2.0, 2.0], [-2.0, -2.0]])
    view.set_points(xy, np.array([0, 1, 1]), ["zero", "one"])
    _show_region(view)
    moved = _recorder(view.probeMoved)
    sample = view.plotItem.legend.items[1][0]  # the entry for "one"
    centre = sample.mapToScene(sample.boundingRect().center())
    _click(view, view.mapFromScene(centre))

    assert view.hidden_classes() == {1}
    assert moved == []  # the click went to the legend, not to the plane
    assert list(view._points.visible_points()) == [True, False, False]
    assert view.point_at(2.0, 2.0) == -1 and view.point_at(0.0, 0.0) == 0
    view.set_class_visible(1, True)
    assert view.hidden_classes() == set() and view.point_at(2.0, 2.0) == 1


def _colour_at(view: LatentPlaneView, shot, x: float, y: float) -> QColor:
    p = view.viewport().mapTo(view, _to_px(view, x, y))
    return shot.pixelColor(p.x() * shot.width() // view.width(), p.y() * shot.height() // view.height())


def test_points_are_drawn_in_their_class_colour_and_hidden_classes_vanish(view) -> None:
    from latentlab.gui.views import theme

    xy = np.array([[-3.0, 0.0], [3.0, 0.0], [np.nan, 1.0], [1e12, 1e12]])  # odd ones must not break drawing
    view.set_points(xy, np.array([0, 1, 1, 1]), ["zero", "one"])
    _show_region(view)
    background = QColor(theme.BACKGROUND)
    shot = view.grab().toImage()
    for (x, y), k in (((-3.0, 0.0), 0), ((3.0, 0.0), 1)):
        got, want = _colour_at(view, shot, x, y), theme.label_colors(2)[k]
        a = theme.POINT_ALPHA / 255.0
        expected = [a * c + (1 - a) * b for c, b in zip(want, (background.red(), background.green(),
                                                                 background.blue()))]
        assert np.allclose([got.red(), got.green(), got.blue()], expected, atol=6)
    view.set_class_visible(1, False)
    QApplication.processEvents()
    shot = view.grab().toImage()

    def near_background(c: QColor) -> bool:  # a faint grid line may cross the spot
        return bool(np.allclose([c.red(), c.green(), c.blue()],
                                [background.red(), background.green(), background.blue()], atol=8))

    assert near_background(_colour_at(view, shot, 3.0, 0.0))
    assert not near_background(_colour_at(view, shot, -3.0, 0.0))


def test_grid_lines_are_opaque_and_beneath_the_points(view) -> None:
    from latentlab.gui.views import theme

    axis = view.plotItem.getAxis("bottom")
    assert axis.zValue() < view.plotItem.vb.zValue()
    _show_region(view)
    # The image must outlive the painter: a temporary one may be freed while it is painted on.
    image = QImage(4, 4, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        specs = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    assert specs is not None and specs[1]
    assert all(pen.color().alpha() == 255 for pen, _a, _b in specs[1])
    # Pre-blending gives the colour a translucent line shows over the background.
    mixed = theme.blend(QColor(255, 255, 255, 51), QColor(0, 0, 0))
    assert (mixed.red(), mixed.green(), mixed.blue(), mixed.alpha()) == (51, 51, 51, 255)


def test_a_data_change_is_shown_with_a_single_repaint(view, qtbot, monkeypatch) -> None:
    rng = np.random.default_rng(2)
    xy = rng.normal(size=(500, 2))
    view.set_points(xy, rng.integers(0, 3, 500))
    qtbot.wait(20)
    paints: list[int] = []
    original = view.paintEvent

    def counting_paint(ev) -> None:
        paints.append(1)
        original(ev)

    # PySide looks the override up on the instance first: count this widget's paints.
    monkeypatch.setattr(view, "paintEvent", counting_paint)
    view.update_points(xy * 1.05)
    qtbot.wait(50)
    assert len(paints) == 1


def test_live_updates_inside_the_view_keep_it_and_big_changes_refit_it(view) -> None:
    rng = np.random.default_rng(0)
    xy = rng.normal(size=(500, 2))
    view.set_points(xy)
    before = view.visible_rect()
    view.update_points(xy * 0.97 + 0.02)   # a re-encode that moved the points a little
    assert view.visible_rect() == pytest.approx(before)
    view.update_points(xy * 0.3)           # the points drew together: the view follows
    x0, y0, w, h = view.visible_rect()
    assert w < 0.5 * before[2] and h < 0.5 * before[3]
    view.update_points(xy * 0.3 + 5.0)     # and when they leave it
    x0, y0, w, h = view.visible_rect()
    lo, hi = (xy * 0.3 + 5.0).min(axis=0), (xy * 0.3 + 5.0).max(axis=0)
    assert x0 <= lo[0] and x0 + w >= hi[0] and y0 <= lo[1] and y0 + h >= hi[1]


def _colour_centroid(shot: QImage, colour: QColor, tolerance: int = 40) -> tuple[float, float, int]:
    """The centre and count of the pixels of ``shot`` close to ``colour``."""
    arr = np.frombuffer(shot.convertToFormat(QImage.Format.Format_RGB32).constBits(), np.uint8)
    arr = arr.reshape(shot.height(), -1, 4)[:, :shot.width(), :3].astype(int)   # B, G, R
    want = np.array([colour.blue(), colour.green(), colour.red()])
    ys, xs = np.nonzero(np.abs(arr - want).max(axis=2) <= tolerance)
    return (float(xs.mean()) if xs.size else -1.0), (float(ys.mean()) if ys.size else -1.0), int(xs.size)


def test_the_probe_is_drawn_where_it_is_at_its_screen_size_in_the_pen_it_has(view) -> None:
    from latentlab.gui.views import theme

    _show_region(view)
    probe = view._probe
    probe.label().setVisible(False)   # its yellow words would pull the centre aside
    for x, y in ((-2.0, 1.0), (2.5, -1.5)):
        view.set_probe(x, y)
        QApplication.processEvents()
        shot = view.viewport().grab().toImage()
        cx, cy, n = _colour_centroid(shot, QColor(theme.PROBE_COLOR))
        where = _to_px(view, x, y)
        # The ring and its four ticks are symmetric about the probe's point: their centre is it.
        assert n > 40
        assert abs(cx - where.x()) <= 3 and abs(cy - where.y()) <= 3
    # Zoomed in four times, the probe keeps its size on screen.
    before = n
    view.plotItem.vb.scaleBy((0.25, 0.25), center=QPointF(2.5, -1.5))
    QApplication.processEvents()
    shot = view.viewport().grab().toImage()
    assert abs(_colour_centroid(shot, QColor(theme.PROBE_COLOR))[2] - before) <= before * 0.2
    # Hovered, it is drawn in the hover pen, and back in its own pen after.
    probe.currentPen = probe.hoverPen
    probe.update()
    QApplication.processEvents()
    shot = view.viewport().grab().toImage()
    assert _colour_centroid(shot, QColor(theme.PROBE_HOVER_COLOR), tolerance=20)[2] > 40
    probe.currentPen = probe.pen
    probe.update()
    QApplication.processEvents()
    shot = view.viewport().grab().toImage()
    assert _colour_centroid(shot, QColor(theme.PROBE_HOVER_COLOR), tolerance=20)[2] < 10
