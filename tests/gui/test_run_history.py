"""The run's history: saved mid-run, and numbered on when a model is trained further."""

from __future__ import annotations

import json

import pytest
import torch

from latentlab.core.checkpoint import load_model, save_model
from latentlab.core.data import load_dataset
from tests.gui.controller_support import N_ITEMS, tiny_model, training_settings, wait_for_codes


def test_saving_while_paused_keeps_the_finished_epochs_and_the_latest_weights(qtbot, opened, tmp_path):
    window, c = opened(show=False)
    assert c.start_training(training_settings(epochs=500))
    qtbot.waitUntil(lambda: len(c.run.history) >= 2, timeout=60000)
    c.pause_training()
    qtbot.wait(100)   # the last snapshot before the pause has arrived
    weights = {k: v.clone() for k, v in c.model.state_dict().items()}
    history = c.run.history
    assert c.save_model(str(tmp_path / "paused"))
    saved = load_model(tmp_path / "paused")
    assert [h["epoch"] for h in saved.meta["history"]] == list(range(1, len(history) + 1))
    assert all("loss" in h["train"] and "loss" in h["val"] for h in saved.meta["history"])
    assert all(torch.equal(saved.model.state_dict()[k], weights[k]) for k in weights)
    c.stop_training()
    qtbot.waitUntil(lambda: c.run.status == "idle", timeout=30000)


@pytest.fixture
def two_epoch_model(tmp_path):
    """A model saved after two epochs of its own history, with its data recorded."""
    data = load_dataset("mnist", limit=N_ITEMS)
    history = [{"epoch": k, "train": {"loss": 600.0 - k}, "val": {"loss": 610.0 - k}} for k in (1, 2)]
    folder = tmp_path / "two-epochs"
    save_model(folder, tiny_model(), history=history, data_info={"source": data.source})
    return folder


def test_continued_training_numbers_its_epochs_after_the_models_own(qtbot, opened, two_epoch_model, tmp_path):
    window, c = opened()
    assert c.open_model(str(two_epoch_model))
    wait_for_codes(qtbot, c)
    x_val, _ = window.loss_plot.series("val/loss")
    assert list(x_val) == [1.0, 2.0]   # the model's own curve
    progress_texts: list[str] = []
    c.run_model.runChanged.connect(lambda run: run.progress is not None
                                   and progress_texts.append(window.training_panel.progress_text()))
    assert c.start_training(training_settings(epochs=2).with_changes(continue_training=True))
    assert c.run.epoch_offset == 2
    qtbot.waitUntil(lambda: c.run.status == "idle", timeout=60000)
    assert [h["epoch"] for h in c.run.history] == [1, 2, 3, 4]
    x_val, _ = window.loss_plot.series("val/loss")
    assert list(x_val) == [1.0, 2.0, 3.0, 4.0]   # the old epochs stay, the new ones follow
    x_train, _ = window.loss_plot.series("train/loss")
    assert min(x_train[2:]) > 2.0
    assert progress_texts and progress_texts[-1].startswith("Epoch 4/4")
    assert c.save_model(str(tmp_path / "four-epochs"))
    meta = json.loads((tmp_path / "four-epochs" / "config.json").read_text())
    assert [h["epoch"] for h in meta["history"]] == [1, 2, 3, 4]
