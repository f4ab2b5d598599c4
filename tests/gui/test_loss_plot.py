"""The live loss plot: series grow with appends, history loads, log scale toggles."""

from __future__ import annotations

import numpy as np
import pytest

from latentlab.gui.views.loss_plot import LossPlot


@pytest.fixture
def plot(qtbot) -> LossPlot:
    widget = LossPlot()
    qtbot.addWidget(widget)
    widget.show()
    return widget


def test_series_grow_with_train_and_val_points(plot) -> None:
    plot.add_train(0.5, {"loss": 200.0, "recon": 190.0, "kl": 10.0})
    plot.add_train(1.0, {"loss": 160.0, "recon": 148.0, "kl": 12.0})
    plot.add_val(1.0, {"loss": 165.0, "recon": 152.0, "kl": 13.0})
    x, y = plot.series("train/loss")
    assert x.tolist() == [0.5, 1.0] and y.tolist() == [200.0, 160.0]
    assert plot.series("train/kl")[1].tolist() == [10.0, 12.0]
    assert plot.series("val/recon") [1].tolist() == [152.0]
    assert plot.series("val/loss")[0].tolist() == [1.0]


def test_missing_and_non_finite_terms_are_skipped(plot) -> None:
    plot.add_train(0.1, {"loss": 90.0, "recon": 90.0})            # an AE: no KL term
    plot.add_train(0.2, {"loss": float("nan"), "recon": 80.0, "kl": float("inf")})
    assert plot.series("train/kl")[0].size == 0
    assert plot.series("train/loss")[1].tolist() == [90.0]
    assert plot.series("train/recon")[1].tolist() == [90.0, 80.0]


def test_many_appends_keep_every_point_and_the_curve_matches(plot) -> None:
    n = 600   # well past the initial buffer, so it has to grow several times
    xs = np.arange(n) / 100.0
    for x in xs:
        plot.add_train(float(x), {"loss": 100.0 - x, "recon": 90.0, "kl": 10.0})
    x, y = plot.series("train/loss")
    np.testing.assert_array_equal(x, xs)
    np.testing.assert_array_equal(y, 100.0 - xs)
    curve_x, curve_y = plot.curve("train/loss").getOriginalDataset()
    np.testing.assert_array_equal(curve_x, xs)
    np.testing.assert_array_equal(curve_y, 100.0 - xs)


def test_series_returns_copies(plot) -> None:
    plot.add_train(1.0, {"loss": 5.0})
    _, y = plot.series("train/loss")
    y[0] = -1.0
    assert plot.series("train/loss")[1].tolist() == [5.0]


def test_load_history_replaces_the_curves(plot) -> None:
    plot.add_train(0.3, {"loss": 999.0})
    history = [
        {"epoch": 1, "train": {"loss": 180.0, "recon": 170.0, "kl": 10.0},
         "val": {"loss": 175.0, "recon": 166.0, "kl": 9.0}, "seconds": 4.2},
        {"epoch": 2, "train": {"loss": 150.0, "recon": 138.0, "kl": 12.0}},
        "not an entry",
        {"train": {"loss": 1.0}},                       # no epoch: skipped
        {"epoch": 3, "train": {"loss": 140.0, "recon": 127.0, "kl": 13.0},
         "val": {"loss": 146.0, "recon": 133.0, "kl": 13.0}},
    ]
    plot.load_history(history)
    assert plot.series("train/loss")[0].tolist() == [1.0, 2.0, 3.0]
    assert plot.series("train/loss")[1].tolist() == [180.0, 150.0, 140.0]
    assert plot.series("val/kl")[0].tolist() == [1.0, 3.0]
    assert plot.series("val/kl")[1].tolist() == [9.0, 13.0]
    np.testing.assert_array_equal(plot.curve("val/loss").getOriginalDataset()[1], [175.0, 146.0])


def test_clear_empties_every_series(plot) -> None:
    plot.load_history([{"epoch": 1, "train": {"loss": 3.0, "recon": 2.0, "kl": 1.0},
                        "val": {"loss": 3.5, "recon": 2.5, "kl": 1.0}}])
    plot.clear()
    for split in ("train", "val"):
        for term in ("loss", "recon", "kl"):
            assert plot.series(f"{split}/{term}")[0].size == 0
    plot.add_val(1.0, {"loss": 2.0})
    assert plot.series("val/loss")[1].tolist() == [2.0]


def test_log_scale_toggles_and_stays_in_step_with_pyqtgraph_menu(plot) -> None:
    assert not plot.log_y()
    plot.add_train(0.5, {"loss": 100.0, "recon": 100.0, "kl": 0.0})   # a zero must not break log mode
    plot.set_log_y(True)
    item = plot.getPlotItem()
    assert item.ctrl.logYCheck.isChecked()
    assert item.getAxis("left").logMode
    item.ctrl.logYCheck.setChecked(False)
    assert not plot.log_y()


def test_unknown_series_name_is_a_key_error(plot) -> None:
    with pytest.raises(KeyError, match="train/elbo"):
        plot.series("train/elbo")


def test_identity(plot) -> None:
    assert plot.objectName() == "lossPlot"
    assert plot.getPlotItem().getAxis("left").labelText == "nats / example"


def test_appends_made_together_reach_each_curve_in_one_update(plot, qtbot) -> None:
    curve = plot.curve("train/loss")
    updates: list[object] = []
    curve.sigPlotChanged.connect(updates.append)
    for k in range(5):   # one flush of progress reports
        plot.add_train(k / 4, {"loss": 100.0 - k, "recon": 90.0, "kl": 10.0})
    assert updates == []     # nothing redrawn per point...
    qtbot.waitUntil(lambda: len(updates) > 0, timeout=1000)
    qtbot.wait(20)
    assert len(updates) == 1  # ...but once, when the event loop turns
    np.testing.assert_array_equal(curve.getOriginalDataset()[1], [100.0, 99.0, 98.0, 97.0, 96.0])


def test_long_runs_switch_on_peak_downsampling(plot) -> None:
    item = plot.getPlotItem()
    plot.add_train(0.0, {"loss": 1.0})
    plot.redraw_now()
    assert not item.downsampleMode()[1]    # (factor, auto, method): short series stay exact
    plot.load_history([{"epoch": e, "train": {"loss": 1.0 / e}} for e in range(1, 4100)])
    assert item.downsampleMode()[1:] == (True, "peak")


def test_every_term_a_family_reports_gets_curves_and_a_key_entry(qtbot) -> None:
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.clear()
    plot.add_train(0.5, {"d_loss": 1.2, "g_loss": 0.7, "d_real": 0.6})
    plot.add_val(1.0, {"d_loss": 1.1, "g_loss": 0.8, "d_real": 0.55})
    plot.redraw_now()
    assert plot.terms() == ("d_loss", "g_loss", "d_real")
    assert plot.series("train/g_loss")[1].tolist() == [0.7]
    assert plot.series("val/d_real")[1].tolist() == [0.55]
    labels = [label.text for _sample, label in plot.legend().items]
    assert labels[:3] == ["d loss", "g loss", "d real"] and labels[3:] == ["training", "validation"]
    colours = {plot.curve(f"train/{t}").opts["pen"].color().name() for t in plot.terms()}
    assert len(colours) == 3   # each term its own colour
    # The next run (another family) starts with only its own terms in the key.
    plot.load_history([{"epoch": 1, "train": {"loss": 3.0, "recon": 2.5, "kl": 0.5, "code_norm": 1.0}}])
    assert plot.terms() == ("loss", "recon", "kl", "code_norm")
    assert plot.series("train/d_loss")[1].size == 0
    assert plot.series("train/code_norm")[1].tolist() == [1.0]


def test_validation_neg_elbo_is_not_drawn_beside_the_total(qtbot) -> None:
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.load_history([{"epoch": 1, "train": {"loss": 3.0, "recon": 2.0, "kl": 1.0},
                        "val": {"loss": 3.1, "recon": 2.1, "kl": 1.0, "neg_elbo": 3.1}}])
    assert plot.terms() == ("loss", "recon", "kl")
    assert plot.series("val/loss")[1].tolist() == [3.1]


def test_a_point_with_several_new_terms_builds_the_key_once(plot, monkeypatch) -> None:
    # Each key entry is a small graphics widget: building the key once per new term rebuilt it
    # three times at a run's first point (a long frame mid-drag).
    plot.clear()
    legend = plot.legend()
    added: list[str] = []
    real_add = legend.addItem
    monkeypatch.setattr(legend, "addItem", lambda item, name: (added.append(name), real_add(item, name)))
    plot.add_train(0.1, {"loss": 3.0, "recon": 2.5, "kl": 0.5})
    assert added == ["total", "recon", "KL", "training", "validation"]
    added.clear()
    plot.add_train(0.2, {"loss": 2.9, "recon": 2.4, "kl": 0.5})   # no new term: the key stays
    assert added == []
