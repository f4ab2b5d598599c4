"""While the probe is dragged, the side panels wait: sample quality and the loss curves redraw
at the curves' next flush, the curves after a frame of the drag."""

from __future__ import annotations

import pytest

from latentlab.core.training_types import Progress
from latentlab.gui.window import main_window as mw
from latentlab.gui.window.main_window import MainWindow


@pytest.fixture
def window(qtbot):
    w = MainWindow()
    qtbot.addWidget(w)
    shown: list[object] = []
    w.quality.show_quality = shown.append   # what reaches the quality panel, in order
    w.shown_quality = shown
    return w


def progress(step: int) -> Progress:
    return Progress(epoch=1, epochs=5, step=step, steps_per_epoch=100, terms={"loss": 1.0 / step},
                    images_per_s=1000.0, eta_s=10.0)


def test_a_resting_probe_lets_readings_through_at_once(window) -> None:
    window.show_quality("reading")
    assert window.shown_quality == ["reading"]
    window._show_progress(progress(1), 0)
    assert window._flush_soon.timeout() == mw.LOSS_FLUSH_MS
    window.flush_loss_points()
    assert window.loss_plot.series("train/loss")[1].tolist() == [1.0]   # drawn in the same turn


def test_a_dragged_probe_holds_readings_until_the_curves_redraw(window, qtbot) -> None:
    from latentlab.gui.frame_pacing import FramePacer

    dragging = [True]
    window.probe_dragged = lambda: dragging[0]   # what the controller's drag clock says
    frames = FramePacer(lambda: dragging[0], window)   # and its frame pacer, gone with the window
    window.pace = frames.call
    window.show_quality("first")
    window.show_quality("second")               # only the newest reading is kept
    window._show_progress(progress(1), 0)
    assert window.shown_quality == []
    assert window._flush_soon.timeout() == mw.LOSS_FLUSH_MOVING_MS
    window.flush_loss_points()                  # the redraw shows the held reading, then the curves
    assert window.shown_quality == ["second"]
    assert len(window.loss_plot.series("train/loss")[0]) == 0   # the points wait for a frame
    frames.frame()                              # the drag's next frame was handled
    qtbot.waitUntil(lambda: len(window.loss_plot.series("train/loss")[0]) == 1, timeout=1000)
    window.flush_loss_points()
    assert window.shown_quality == ["second"]   # nothing held twice
    # Once the probe has rested, readings and curves are prompt again.
    dragging[0] = False
    window.show_quality("third")
    window._show_progress(progress(2), 0)
    assert window.shown_quality == ["second", "third"]
    assert window._flush_soon.timeout() == mw.LOSS_FLUSH_MS
