"""The training panel keeps the person's choices apart from the loaded model, and says how a run ended."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from latentlab.gui.views.training_panel import TrainingPanel, describe_text

LOADED = {"family": "ae", "arch": "conv", "input_shape": [1, 28, 28], "latent_dim": 3, "hidden": [32, 64],
          "likelihood": "gaussian", "beta": 1.0, "kl_warmup_epochs": 0, "num_classes": 0, "label_names": []}


@pytest.fixture
def panel(qtbot) -> TrainingPanel:
    widget = TrainingPanel()
    qtbot.addWidget(widget)
    widget.show()
    return widget


def _my_choices(panel: TrainingPanel) -> dict:
    panel.apply_choices({"data": {"spec": "shapes"},
                         "model": {"family": "beta-vae", "arch": "mlp", "latent_dim": 8, "beta": 2.5},
                         "train": {"epochs": 7, "lr": 5e-4, "batch_size": 64}})
    return panel.choices()


# -- choices and the loaded model ------------------------------------------------------
def test_loading_a_model_describes_it_without_touching_the_choices(panel) -> None:
    mine = _my_choices(panel)
    panel.describe_model({**LOADED, "epochs": 20, "data": "MNIST digits"})
    assert panel.choices() == mine
    text = panel.model_description()
    for part in ("Autoencoder", "conv 32-64", "latent 3", "trained 20 epochs on MNIST digits", "28×28"):
        assert part in text
    assert panel.model_label.isVisibleTo(panel)
    assert panel.resume_check.isEnabled() and not panel.resume_check.isChecked()


def test_the_old_resumable_call_describes_instead_of_overwriting(panel) -> None:
    # What the window calls today when a model is loaded: the form must keep the person's choices.
    mine = _my_choices(panel)
    panel.set_resumable(True, LOADED)
    assert panel.choices() == mine
    assert panel.settings().latent_dim == 8
    assert "latent 3" in panel.model_description()


def test_continuing_uses_the_loaded_model_and_sets_the_form_aside(panel, qtbot) -> None:
    _my_choices(panel)
    panel.describe_model({**LOADED, "epochs": 2})
    panel.resume_check.setChecked(True)
    assert not panel._model_group.isEnabled()   # noqa: SLF001
    assert "new model only" in panel._model_group.title()   # noqa: SLF001
    with qtbot.waitSignal(panel.startRequested, timeout=1000) as blocker:
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0].continue_training is True
    panel.resume_check.setChecked(False)
    assert panel._model_group.isEnabled() and panel._model_group.title() == "Model"   # noqa: SLF001


def test_a_running_models_new_epochs_change_the_words_and_keep_the_form(panel) -> None:
    # A training model is described again at each epoch: the words follow, the form and the
    # person's "continue" tick stay; a change of whether it can continue still reaches the form.
    panel.describe_model({**LOADED, "epochs": 2})
    panel.resume_check.setChecked(True)
    panel.describe_model({**LOADED, "epochs": 3, "training": True})
    assert "trained 3 epochs" in panel.model_description()
    assert panel.resume_check.isEnabled() and panel.resume_check.isChecked()
    assert not panel._model_group.isEnabled()   # noqa: SLF001 - still set aside for the loaded model
    panel.describe_model({**LOADED, "epochs": 3, "resumable": False})
    assert not panel.resume_check.isEnabled() and not panel.resume_check.isChecked()
    assert panel._model_group.isEnabled()   # noqa: SLF001
    panel.describe_model({**LOADED, "epochs": 3})
    assert panel.resume_check.isEnabled()


def test_a_model_that_cannot_continue_is_described_but_not_offered(panel) -> None:
    panel.describe_model({**LOADED, "resumable": False})
    assert not panel.resume_check.isEnabled()
    assert "cannot continue" in panel.model_description()
    panel.describe_model(None)
    assert panel.model_description() == "" and not panel.model_label.isVisibleTo(panel)
    assert not panel.resume_check.isEnabled() and panel.settings().continue_training is False


def test_choices_round_trip_into_a_new_panel(qtbot, panel) -> None:
    mine = _my_choices(panel)
    panel.describe_model(LOADED)
    other = TrainingPanel()
    qtbot.addWidget(other)
    other.apply_choices(mine)
    assert other.choices() == mine
    assert other.model_description() == ""   # the loaded model is not a choice


def test_description_of_a_sparse_or_odd_dict_is_still_readable() -> None:
    assert describe_text({"family": "pca", "latent_dim": 2, "hidden": [400]}) == "PCA baseline · latent 2"
    assert describe_text({"family": "vae", "arch": "mlp", "hidden": "x", "epochs": 1}).splitlines() == \
        ["VAE · MLP", "Trained 1 epoch"]


# -- how a run ends ---------------------------------------------------------------------
def test_stop_is_not_a_failure_and_keeps_the_model(panel) -> None:
    panel.set_state("running")
    panel.set_progress(3, 10, 0.27, 40.0, 12000.0)
    assert "ETA" in panel.progress_text()
    panel.set_state("stopping")
    assert "ETA" not in panel.progress_text() and "Stopping" in panel.progress_text()
    panel.show_result("cancelled", 3, 10, loss=143.21)
    panel.set_state("idle")
    assert panel.status.text() == "Stopped at epoch 3 of 10 — the model trained so far is kept. " \
                                  "Validation loss 143.2."
    assert "cancel" not in panel.status.text().lower()
    assert panel.progress_text() == "Stopped · Epoch 3/10 · 27%"


@pytest.mark.parametrize("state", ["paused", "stopping", "idle"])
def test_no_eta_unless_running(panel, state) -> None:
    panel.set_state("running")
    panel.set_progress(2, 5, 0.3, 12.0, 500.0)
    panel.set_state(state)
    assert "ETA" not in panel.progress_text() and "img/s" not in panel.progress_text()
    assert "Epoch 2/5" in panel.progress_text()
    if state == "paused":
        assert panel.progress_text().startswith("Paused")
    panel.set_state("running")
    assert "ETA 0:12" in panel.progress_text()


def test_finished_and_diverged_runs(panel) -> None:
    panel.set_state("running")
    panel.set_progress(10, 10, 0.98, 1.0, 500.0)
    panel.show_result("finished", 10, 10, loss=99.5)
    assert panel.progress.value() == panel.progress.maximum()
    assert panel.progress_text() == "Finished · Epoch 10/10 · 100%"
    assert panel.status.text() == "Finished all 10 epochs. Validation loss 99.5."
    panel.show_result("diverged", 4, 10, message="The loss became NaN at epoch 4; try a lower learning rate.")
    assert panel.progress_text().startswith("Diverged") and "ETA" not in panel.progress_text()
    assert "lower learning rate" in panel.status.text()
    with pytest.raises(ValueError, match="training result"):
        panel.show_result("exploded", 1, 1)


def test_a_new_start_forgets_the_last_result(panel, qtbot) -> None:
    panel.show_result("stopped", 3, 10)
    with qtbot.waitSignal(panel.startRequested, timeout=1000):
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    panel.set_state("running")
    assert panel.progress_text() == "Starting…" and panel.progress.value() == 0
    panel.set_progress(1, 10, 0.05, 30.0, 100.0)
    assert panel.progress_text().startswith("Epoch 1/10") and "ETA" in panel.progress_text()


# -- the progress text stays readable ----------------------------------------------------
def test_progress_words_are_beside_the_bar_never_on_its_fill(panel) -> None:
    panel.set_state("running")
    panel.set_progress(3, 20, 0.5, 12.0, 18234.0)
    assert not panel.progress.isTextVisible()
    assert "Epoch 3/20" in panel.progress_label.text()
    label, bar = panel.progress_label.geometry(), panel.progress.geometry()
    assert not label.intersects(bar)
