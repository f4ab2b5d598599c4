"""What a probe drag repaints: the probe and what is under it, not the axes, the grid or the
nearest item's picture when it did not change."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QApplication

from latentlab.gui.views.nearest_view import NearestView
from tests.gui.plane_support import shown_plane


def test_moving_the_probe_does_not_paint_the_axes_again(qtbot, monkeypatch):
    painted: list[str] = []
    real = pg.AxisItem.paint
    # Replaced before the axes are made: Qt looks the Python override up once per item.
    monkeypatch.setattr(pg.AxisItem, "paint", lambda self, *a: (painted.append(self.orientation), real(self, *a)))
    view = shown_plane(qtbot, points=500)
    view.plotItem.vb.setRange(xRange=(-5, 5), yRange=(-5, 5), padding=0)
    view.viewport().repaint()
    QApplication.processEvents()
    assert set(painted) == {"left", "bottom"}
    painted.clear()
    for i in range(5):
        view.set_probe(0.5 + 0.2 * i, 0.3)
        view.viewport().repaint()   # the whole plane shows, yet the axes come from their cache
    assert view.probe_position() == (1.3, 0.3)
    assert painted == []
    # A zoom changes the axes: they are drawn again, with the new ticks.
    view.plotItem.vb.setRange(xRange=(-2, 2), yRange=(-2, 2), padding=0)
    view.viewport().repaint()
    assert set(painted) == {"left", "bottom"}


def test_the_probes_bounds_follow_the_zoom(qtbot):
    view = shown_plane(qtbot, points=500)
    vb = view.plotItem.vb
    vb.setRange(xRange=(-5, 5), yRange=(-5, 5), padding=0)
    QApplication.processEvents()
    probe = view._probe
    wide = probe.boundingRect().width()
    assert probe.boundingRect().width() == wide   # asked again: the same rectangle
    vb.setRange(xRange=(-2.5, 2.5), yRange=(-2.5, 2.5), padding=0)
    QApplication.processEvents()
    # The same size on screen, so half as wide in plane units at twice the zoom.
    assert abs(probe.boundingRect().width() - wide / 2) < 0.05 * wide


def test_the_nearest_picture_is_set_again_only_when_it_changes(qtbot, monkeypatch):
    panel = NearestView()
    qtbot.addWidget(panel)
    set_images: list[np.ndarray] = []
    real = panel.thumb.set_image
    monkeypatch.setattr(panel.thumb, "set_image", lambda img: (set_images.append(img), real(img)))
    one = np.linspace(0, 1, 28 * 28, dtype=np.float32).reshape(28, 28)
    for ratio in (0.5, 0.6, 0.7):   # the probe moves, the same item stays nearest
        panel.show_score("on", ratio, 4, -1.0, -2.0, one.copy())
    assert len(set_images) == 1
    assert "0.7×" in panel.text.text()   # the words still follow every move
    other = one[::-1].copy()
    panel.show_score("near", 1.5, 9, -1.0, -2.0, other)
    assert len(set_images) == 2
    np.testing.assert_array_equal(panel.thumb.current_image(), other)


def test_new_score_words_repaint_without_laying_out_the_window_again(qtbot):
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QVBoxLayout, QWidget

    class Requests(QObject):
        count = 0

        def eventFilter(self, obj, event):  # noqa: N802 (Qt override)
            if event.type() == QEvent.Type.LayoutRequest:
                Requests.count += 1
            return False

    holder = QWidget()
    qtbot.addWidget(holder)
    column = QVBoxLayout(holder)
    panel = NearestView()
    column.addWidget(panel)
    holder.resize(400, 200)
    holder.show()
    panel.show_score("on", 0.5, 4, -1.0, -2.0, None)
    QApplication.processEvents()
    lines = panel.text.sizeHint().height()
    assert lines > 2 * panel.text.fontMetrics().height()   # three lines of words
    watcher = Requests()
    holder.installEventFilter(watcher)
    for ratio in (0.6, 0.7, 0.8):   # a drag: the words change, the height they need does not
        panel.show_score("on", ratio, 4, -1.0, -2.0, None)
        QApplication.processEvents()
    assert Requests.count == 0
    assert "0.8×" in panel.text.text()
    image = panel.text.grab().toImage()
    assert len({image.pixel(x, y) for x in range(0, image.width(), 3) for y in range(image.height())}) > 2
    holder.resize(90, 200)   # narrow: the words wrap onto more lines and the panel grows
    QApplication.processEvents()
    assert panel.text.sizeHint().height() > lines
