"""Switching models and data: nothing stale on screen, the tools keep what fits, nothing fails."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from PySide6.QtWidgets import QMessageBox

from latentlab.core.checkpoint import save_model
from latentlab.gui import manifold as planes
from latentlab.gui.window.main_window import DISCARD, READY_HINT
from tests.gui.controller_support import set_model_and_wait, tiny_model, training_settings


def consistent(scene) -> bool:
    """A scene's points are its own model's codes on its own plane."""
    if scene.xy is None:
        return scene.codes is None
    return (scene.codes.shape[1] == scene.latent_dim == scene.plane.dim
            and np.allclose(scene.xy, planes.project(scene.plane, scene.codes), atol=1e-5))


def shown_points(window) -> np.ndarray:
    x, y = window.plane._points.getData()
    return np.zeros((0, 2)) if x is None else np.c_[x, y]


def test_axis_names_follow_the_model(qtbot, opened):
    window, c = opened(tiny_model(latent_dim=8))
    assert c.scene.axis_names == ("PC 1", "PC 2")
    set_model_and_wait(qtbot, c, tiny_model(latent_dim=2))
    assert c.scene.axis_names == ("z₀", "z₁")
    assert window.plane.plotItem.getAxis("bottom").labelText == "z₀"
    assert window.plane.plotItem.getAxis("left").labelText == "z₁"


def test_a_new_run_never_shows_the_old_models_points(qtbot, opened):
    window, c = opened(tiny_model(latent_dim=8))
    c.set_plane("dims", (3, 5))
    old_points = shown_points(window).copy()
    assert len(old_points) and window.plane.plotItem.getAxis("bottom").labelText == "z₃"
    scenes = []
    c.scene_model.sceneChanged.connect(scenes.append)
    assert c.start_training(training_settings(epochs=2, latent_dim=2))
    # At once: the new model's scene, with no points until the new model has encoded them.
    assert c.scene.latent_dim == 2 and c.scene.axis_names == ("z₀", "z₁")
    shown = shown_points(window)
    assert len(shown) == 0 or np.allclose(shown, c.scene.xy, atol=1e-4)
    assert not (len(shown) == len(old_points) and np.allclose(shown, old_points))
    qtbot.waitUntil(lambda: c.run.status == "idle", timeout=60000)
    assert scenes and all(consistent(s) for s in scenes)
    # Whatever was on screen was the scene of the moment.
    np.testing.assert_allclose(shown_points(window), c.scene.xy, atol=1e-4)


@pytest.fixture
def no_errors(caplog):
    """Fails the test on any error logged (exceptions in Qt slots fail it through pytest-qt)."""
    caplog.set_level(logging.WARNING)
    yield
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not bad, [r.getMessage() for r in bad]


def test_a_model_of_another_size_keeps_what_fits_and_says_what_it_dropped(qtbot, opened, tmp_path, no_errors):
    window, c = opened(tiny_model(latent_dim=8))
    tools = c.tools
    tools.add_item(3)
    tools.add_item(11)
    c.release_probe(0.5, 0.5)
    tools.add_probe()
    tools.add_bookmark("corner")
    tools.set_attribute(to_class=7, from_class=1, amount=0.5)
    assert len(window.traversal.rows) == 8
    folder = tmp_path / "small"
    save_model(folder, tiny_model(latent_dim=2, seed=4))
    c.ask_unsaved = lambda _text: DISCARD
    window.openModelRequested.emit(str(folder))
    # Data items are encoded again with the new model; the probe waypoint and the bookmark cannot be.
    assert [w.name for w in tools.waypoints] == ["item 3", "item 11"]
    np.testing.assert_allclose(np.stack([w.z for w in tools.waypoints]), c.encode_items([3, 11]), atol=1e-6)
    assert tools.bookmarks == []
    message = window.statusBar().currentMessage()
    assert "2 latent dimensions, not 8" in message and "dropped 1 path waypoint and 1 bookmark" in message
    assert window.traversal.shown_dims() == [0, 1]
    assert tools.path().shape[1] == 2 and len(window.plane._path.getData()[0]) == len(tools.path())
    # The attribute keeps its classes; its vector is made again from the new model's codes.
    qtbot.waitUntil(lambda: tools.attribute is not None, timeout=10000)
    a = tools.attribute
    assert (a.to_class, a.from_class, a.amount) == (7, 1, 0.5) and a.vector.shape == (2,)
    codes, labels = c.scene.codes, c.scene.labels
    np.testing.assert_allclose(a.vector, codes[labels == 7].mean(0) - codes[labels == 1].mean(0), atol=1e-5)
    # The probe, the sliders and the arrow all work in the new size.
    window.traversal.rows[1].slider.setValue(50)
    assert c.probe.z.shape == (2,) and c.probe.z[1] == pytest.approx(0.5)
    assert tools.arrow_xy() is not None
    assert window.findChild(QMessageBox, "errorDialog") is None


def test_opening_a_model_leaves_the_ready_hint(qtbot, opened, tmp_path):
    window, c = opened(tiny_model())
    c.select_point(4)
    assert window.statusBar().currentMessage().startswith("Selected item 4")
    folder = tmp_path / "next"
    save_model(folder, tiny_model(seed=7))
    window.openModelRequested.emit(str(folder))
    assert window.statusBar().currentMessage() == "" and window.hint() == READY_HINT


def test_opening_a_model_of_other_data_never_says_it_does_not_fit(qtbot, opened, tmp_path):
    from latentlab.core.data import load_dataset

    data = load_dataset("shapes", image_size=16, limit=40)
    torch.manual_seed(0)
    from latentlab.core.models import ModelConfig, build_model

    model = build_model(ModelConfig(input_shape=data.shape, latent_dim=2, hidden=(8,))).eval()
    folder = tmp_path / "shapes-model"
    save_model(folder, model, data_info={"source": data.source})
    window, c = opened(tiny_model())
    messages: list[str] = []
    window.statusBar().messageChanged.connect(messages.append)
    window.openModelRequested.emit(str(folder))
    assert c.data.shape == (1, 16, 16) and c.scene.fits_data
    assert not any("expects" in m for m in messages), messages
