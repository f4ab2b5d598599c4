"""The loss plot's axes read plainly, span the run, and its key never covers a curve."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from latentlab.gui.views.loss_plot import LossPlot

ONE_EPOCH = [{"epoch": 1, "train": {"loss": 180.0, "recon": 160.0, "kl": 20.0},
              "val": {"loss": 170.0, "recon": 150.0, "kl": 20.0}}]


@pytest.fixture
def plot(qtbot) -> LossPlot:
    widget = LossPlot()
    qtbot.addWidget(widget)
    widget.resize(640, 260)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _x_range(plot: LossPlot) -> tuple[float, float]:
    QApplication.processEvents()
    return tuple(plot.getPlotItem().getViewBox().viewRange()[0])


def test_small_losses_are_written_out_not_scaled(plot) -> None:
    for k in range(20):
        plot.add_train(k / 10, {"loss": 0.002 + 0.0005 * k, "recon": 0.0015, "kl": 0.0005})
    plot.redraw_now()
    QApplication.processEvents()
    axis = plot.getPlotItem().getAxis("left")
    assert "x0.001" not in axis.labelString() and "(" not in axis.labelString()
    assert axis.labelString().count("nats / example") == 1
    assert axis.tickStrings([0.002, 0.004], 1.0, 0.002) == ["0.002", "0.004"]
    assert plot.getPlotItem().getAxis("bottom").autoSIPrefix is False


def test_a_one_epoch_run_spans_zero_to_one(plot) -> None:
    plot.load_history(ONE_EPOCH)
    low, high = _x_range(plot)
    assert -0.1 <= low <= 0.0 and 1.0 <= high <= 1.1


def test_an_empty_plot_shows_the_first_epoch(plot) -> None:
    low, high = _x_range(plot)
    assert -0.1 <= low <= 0.0 and 1.0 <= high <= 1.1


def test_the_axis_spans_the_planned_run_and_grows_past_it(plot) -> None:
    plot.set_epochs(10)
    plot.add_train(0.3, {"loss": 100.0})
    plot.redraw_now()
    low, high = _x_range(plot)
    assert low <= 0.0 and 10.0 <= high <= 10.5
    plot.add_train(12.0, {"loss": 90.0})   # a continued model goes on past the plan
    plot.redraw_now()
    assert _x_range(plot)[1] >= 12.0
    plot.clear()
    assert _x_range(plot)[1] <= 1.1   # a new run starts from nothing


def test_the_users_own_zoom_is_kept(plot) -> None:
    plot.set_epochs(10)
    vb = plot.getPlotItem().getViewBox()
    vb.setXRange(2.0, 4.0, padding=0)
    vb.sigRangeChangedManually.emit([True, False])   # what a wheel or drag reports
    plot.add_train(5.0, {"loss": 100.0})
    plot.redraw_now()
    assert _x_range(plot) == pytest.approx((2.0, 4.0))


def test_the_key_sits_beside_the_curves(plot) -> None:
    plot.load_history(ONE_EPOCH)
    legend = plot.legend()
    QApplication.processEvents()
    assert [label.text for _sample, label in legend.items] == ["total", "recon", "KL", "training", "validation"]
    area = plot.getPlotItem().getViewBox().sceneBoundingRect()
    assert legend.isVisible() and not legend.sceneBoundingRect().intersects(area)


def test_a_narrow_plot_drops_the_key(plot) -> None:
    plot.resize(240, 200)
    QApplication.processEvents()
    assert not plot.legend().isVisible()
    plot.resize(700, 200)
    QApplication.processEvents()
    assert plot.legend().isVisible()


def _click_key(plot: LossPlot, label: str) -> None:
    sample = next(s for s, lab in plot.legend().items if lab.text == label)
    centre = plot.mapFromScene(sample.mapToScene(sample.boundingRect().center()))
    QTest.mouseClick(plot.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, centre)


def test_clicking_a_key_entry_hides_every_curve_it_stands_for(plot) -> None:
    plot.load_history(ONE_EPOCH)
    QApplication.processEvents()
    _click_key(plot, "KL")
    assert not plot.curve("train/kl").isVisible() and not plot.curve("val/kl").isVisible()
    assert plot.curve("train/loss").isVisible()
    _click_key(plot, "validation")
    assert not plot.curve("val/loss").isVisible() and plot.curve("train/loss").isVisible()
    _click_key(plot, "KL")
    assert plot.curve("train/kl").isVisible() and not plot.curve("val/kl").isVisible()
