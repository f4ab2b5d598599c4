"""TraversalPanel: one row per latent dim (top-KL above 32), live sliders, lazy strips."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QScrollArea

from latentlab.gui.tools import TraversalPanel
from latentlab.gui.tools.traversal import MAX_ROWS, STEPS
from tests.gui.test_tools_support import FakeHost


def _in_scroll_area(qtbot, panel: TraversalPanel) -> QScrollArea:
    """The panel the way the window shows it: inside a resizable scroll area."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setWidget(panel)
    qtbot.addWidget(area)
    return area


def _panel(qtbot, host: FakeHost, **kwargs) -> TraversalPanel:
    panel = TraversalPanel(host.controller(), **kwargs)
    qtbot.addWidget(panel)
    return panel


def test_one_row_per_dimension_for_a_small_latent(qtbot) -> None:
    host = FakeHost(dim=3)
    panel = _panel(qtbot, host)
    assert panel.objectName() == "traversalPanel"
    assert panel.shown_dims() == [0, 1, 2]
    assert [r.slider.objectName() for r in panel.rows] == [f"traversalSlider{k}" for k in range(3)]


def test_large_latent_shows_the_dims_with_the_most_kl(qtbot) -> None:
    host = FakeHost(dim=40)
    kl = np.random.default_rng(3).permutation(40).astype(np.float32)   # distinct values
    panel = _panel(qtbot, host, kl_per_dim=kl)
    expected = [int(k) for k in np.argsort(-kl)[:MAX_ROWS]]
    assert panel.shown_dims() == expected
    assert "32 of 40" in panel.hint.text()
    panel.set_kl_per_dim(lambda: -kl)   # a callable works too
    assert panel.shown_dims() == [int(k) for k in np.argsort(kl)[:MAX_ROWS]]
    panel.set_kl_per_dim(None)          # unknown KL: the first 32
    assert panel.shown_dims() == list(range(MAX_ROWS))


def test_slider_edits_only_its_own_coordinate(qtbot) -> None:
    host = FakeHost(dim=3)
    host.z = np.array([0.5, -0.25, 1.0], np.float32)
    panel = _panel(qtbot, host)
    assert panel.rows[1].slider.value() == -25   # synced to the probe at 0.01 sigma per tick
    panel.rows[1].slider.setValue(150)
    np.testing.assert_allclose(host.z, [0.5, 1.5, 1.0], atol=1e-6)
    assert panel.rows[1].value.text() == "1.50"
    panel.set_scale(np.array([1.0, 2.0, 1.0]))   # sigma 2 for dim 1: same z, half the ticks
    assert panel.rows[1].slider.value() == 75
    panel.rows[1].slider.setValue(-100)
    np.testing.assert_allclose(host.z, [0.5, -2.0, 1.0], atol=1e-6)


def test_strips_sweep_each_dimension_from_minus_to_plus_three_sigma(qtbot) -> None:
    host = FakeHost(dim=3)
    host.z = np.array([0.5, -0.25, 1.0], np.float32)
    panel = _panel(qtbot, host)
    host.decoded.clear()
    assert panel.refresh_strips(only_visible=False) == [0, 1, 2]
    codes = host.decoded[-1].reshape(3, STEPS, 3)
    for r in range(3):
        np.testing.assert_allclose(codes[r, :, r], np.linspace(-3, 3, STEPS), atol=1e-6)
        others = [k for k in range(3) if k != r]
        np.testing.assert_allclose(codes[r][:, others], np.tile(host.z[others], (STEPS, 1)))
        assert panel.rows[r].strip.count() == STEPS
    assert panel.refresh_strips(only_visible=False) == []   # nothing stale: no work


def test_probe_moves_refresh_visible_strips_after_a_pause(qtbot) -> None:
    host = FakeHost(dim=20)
    panel = _panel(qtbot, host)
    area = _in_scroll_area(qtbot, panel)
    area.resize(420, 160)   # room for a few rows only
    area.show()
    qtbot.waitUntil(lambda: panel.rows[0].strip.count() == STEPS, timeout=3000)
    done = [r.dim for r in panel.rows if not r.stale]
    assert 0 < len(done) < 20   # off-screen rows wait until scrolled into view
    host.z = np.full(20, 0.7, np.float32)
    panel.controller.notify_probe_moved()
    assert panel.rows[3].slider.value() == 70
    assert all(r.stale for r in panel.rows)
    qtbot.waitUntil(lambda: not panel.rows[0].stale, timeout=3000)
    area.verticalScrollBar().setValue(area.verticalScrollBar().maximum())
    qtbot.waitUntil(lambda: not panel.rows[-1].stale, timeout=3000)


def test_no_model_shows_a_hint_and_no_rows(qtbot) -> None:
    host = FakeHost(dim=3)
    host.z = None
    panel = _panel(qtbot, host)
    assert panel.rows == [] and "Open or train a model" in panel.hint.text()
    host.z = np.zeros(3, np.float32)
    panel.controller.refresh()   # a model arrived
    assert panel.shown_dims() == [0, 1, 2]
