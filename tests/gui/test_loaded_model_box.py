"""The training panel around a loaded model: the "Loaded model" box names the data the model was
trained on (and does not call a training model untrained), the data choice follows an opened
model's data, and Start, Pause and Stop stay where they are when the box changes height."""

from __future__ import annotations

from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QApplication

from latentlab.core.checkpoint import describe_data, save_model
from latentlab.gui.views.training_panel import TrainingPanel
from tests.gui.controller_support import tiny_model, training_settings


def _history(epochs: int) -> list[dict]:
    return [{"epoch": k, "train": {"loss": 100.0 - k}, "val": {"loss": 101.0 - k}} for k in range(1, epochs + 1)]


def test_the_box_names_the_data_the_model_was_trained_on_not_the_data_on_screen(qtbot, opened):
    window, c = opened()
    on_screen = c.data.name
    c.set_model(tiny_model(), meta={"history": _history(3), "data": {"name": "Handwritten letters", "source": {}}})
    text = window.training_panel.model_description()
    assert "trained 3 epochs on Handwritten letters" in text
    assert on_screen not in text
    # A model that records no data says nothing about it rather than guess.
    c.set_model(tiny_model(), meta={"history": _history(2)})
    text = window.training_panel.model_description()
    assert "trained 2 epochs" in text and " on " not in text


def test_a_first_run_is_described_as_training_not_as_untrained(qtbot, opened):
    window, c = opened()
    c.ask_unsaved = lambda _text: "discard"
    panel = window.training_panel
    assert c.start_training(training_settings(epochs=1, hidden=[16]))
    text = panel.model_description()
    assert "not trained yet" not in text and f"training now on {c.data.name}" in text
    qtbot.waitUntil(lambda: not c.is_training, timeout=60000)
    text = panel.model_description()
    assert f"trained 1 epoch on {c.data.name}" in text and "training now" not in text


def test_opening_a_model_moves_the_data_choice_to_its_data(qtbot, opened, tmp_path):
    window, c = opened()
    panel = window.training_panel
    path = tmp_path / "digits"
    save_model(path, tiny_model(), history=_history(1), data_info=describe_data(c.data, 0.2, 0))
    panel.apply_choices({"data": {"spec": "moons"}})
    assert panel.settings().data == "moons"
    assert c.open_model(str(path))
    assert panel.settings().data == "mnist" and panel.data_combo.currentData() == "mnist"
    # Data the panel does not offer leaves the choice alone.
    other = tmp_path / "elsewhere"
    info = {**describe_data(c.data, 0.2, 0), "source": {"kind": "no-such-source"}}
    save_model(other, tiny_model(), history=_history(1), data_info=info)
    panel.apply_choices({"data": {"spec": "moons"}})
    assert c.open_model(str(other))
    assert panel.settings().data == "moons"


def test_start_pause_and_stop_stay_put_when_the_loaded_model_box_changes(qtbot):
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.resize(320, 900)
    panel.show()
    qtbot.waitExposed(panel)

    def places() -> list[QPoint]:
        panel.layout().activate()
        QApplication.processEvents()
        return [b.mapTo(panel, QPoint(0, 0)) for b in (panel.start_button, panel.pause_button, panel.stop_button)]

    before = places()
    panel.describe_model({"family": "vae", "arch": "mlp", "hidden": [512, 256], "latent_dim": 2,
                          "input_shape": [1, 28, 28], "epochs": 20, "data": "MNIST digits"})
    assert panel._loaded_group.isVisible()
    assert places() == before
    panel.describe_model({"family": "vae", "arch": "mlp", "hidden": [512, 256], "latent_dim": 2,
                          "input_shape": [1, 28, 28], "epochs": 20, "data": "MNIST digits", "resumable": False})
    assert places() == before
    panel.describe_model(None)
    assert places() == before


def test_a_file_that_records_no_data_name_is_named_by_matching_fingerprint(qtbot, opened):
    window, c = opened()
    record = {k: v for k, v in describe_data(c.data, 0.2, 0).items() if k != "name"}
    c.set_model(tiny_model(), meta={"history": _history(4), "data": record})
    assert f"trained 4 epochs on {c.data.name}" in window.training_panel.model_description()
    c.set_model(tiny_model(), meta={"history": _history(4), "data": {**record, "fingerprint": "0" * 16}})
    assert " on " not in window.training_panel.model_description()
