"""AttributePanel: class choice, Apply, the amount slider, the arrow, unlabelled data."""

from __future__ import annotations

import numpy as np
import torch

from latentlab.core.latent import class_mean
from latentlab.gui.tools import AttributePanel, attributes
from tests.gui.test_tools_support import CLASS_NAMES, FakeHost


def _panel(qtbot, host: FakeHost) -> AttributePanel:
    panel = AttributePanel(host.controller())
    qtbot.addWidget(panel)
    return panel


def test_combos_list_the_classes_and_all_data(qtbot) -> None:
    panel = _panel(qtbot, FakeHost())
    assert panel.objectName() == "attributePanel"
    froms = [panel.from_combo.itemText(k) for k in range(panel.from_combo.count())]
    tos = [panel.to_combo.itemText(k) for k in range(panel.to_combo.count())]
    assert froms == ["All data", *CLASS_NAMES] and tos == CLASS_NAMES
    assert panel.amount() == 1.0 and panel.apply_button.isEnabled()


def test_apply_moves_the_probe_by_the_class_mean_difference(qtbot) -> None:
    host = FakeHost()
    host.z = host.codes_[4].copy()
    start = host.z.copy()
    panel = _panel(qtbot, host)
    arrows: list[tuple] = []
    panel.controller.arrowChanged.connect(lambda s, e: arrows.append((s, e)))
    panel.set_classes(to_class=3, from_class=1)
    assert panel.apply()
    codes, labels = torch.from_numpy(host.codes_), torch.from_numpy(host.labels_)
    vec = (class_mean(codes, labels, 3) - class_mean(codes, labels, 1)).numpy()
    np.testing.assert_allclose(host.z, start + vec, atol=1e-5)
    start_xy, end_xy = arrows[-1]
    np.testing.assert_allclose(end_xy - start_xy, host.plane_.basis.numpy() @ vec, atol=1e-4)
    panel.set_amount(-0.5)   # live, from the same base
    np.testing.assert_allclose(host.z, start - 0.5 * vec, atol=1e-5)
    assert panel.amount_label.text() == "-0.50"
    panel.set_classes(to_class=2, from_class=None)   # new classes re-apply from that base too
    vec_all = (class_mean(codes, labels, 2) - codes.double().mean(0).float()).numpy()
    np.testing.assert_allclose(host.z, start - 0.5 * vec_all, atol=1e-5)
    cleared: list[bool] = []
    panel.controller.arrowCleared.connect(lambda: cleared.append(True))
    panel.clear_button.click()
    assert cleared


def test_amount_before_apply_does_not_move_the_probe(qtbot) -> None:
    host = FakeHost()
    host.z = host.codes_[0].copy()
    panel = _panel(qtbot, host)
    panel.set_amount(2.0)
    np.testing.assert_array_equal(host.z, host.codes_[0])


def test_unlabelled_data_disables_the_panel_with_a_hint(qtbot, monkeypatch) -> None:
    host = FakeHost(labelled=False)
    panel = _panel(qtbot, host)
    assert not panel.apply_button.isEnabled() and not panel.to_combo.isEnabled()
    assert panel.hint.text() == attributes.NO_LABELS_HINT
    shown: list[str] = []
    monkeypatch.setattr(attributes.dialogs, "show_error", lambda _p, _t, msg: shown.append(msg))
    assert panel.apply() is False and shown
    host.labels_ = np.arange(len(host.codes_)) % 4   # labelled data arrived
    panel.refresh_classes()
    assert panel.apply_button.isEnabled() and panel.to_combo.count() == 4
