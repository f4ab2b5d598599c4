"""The application controller: files, encodings, planes, decoding, training; the window only shows values."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtWidgets import QMessageBox

from latentlab.core.checkpoint import save_model
from tests.gui.controller_support import (
    N_ITEMS, set_model_and_wait, tiny_model, training_settings, wait_for_codes,
)


def _reference_codes(model, controller) -> np.ndarray:
    data = controller.data
    y = data.labels if model.config.is_conditional else None
    with torch.no_grad():
        mu, _ = model.encode(data.images, y)
    return mu.numpy()


def test_codes_and_plane_coordinates_match_the_model(qtbot, opened):
    model = tiny_model(latent_dim=3)
    _, c = opened(model, show=False)
    codes = _reference_codes(model, c)
    scene = c.scene
    assert scene.codes.shape == (N_ITEMS, 3)
    np.testing.assert_allclose(scene.codes, codes, rtol=1e-4, atol=1e-5)
    # The PCA plane passes through the codes' mean; the scatter is the projection onto it.
    centred = codes - codes.mean(axis=0)
    np.testing.assert_allclose(scene.xy, centred @ scene.plane.basis.numpy().T, atol=1e-4)
    assert not scene.codes.flags.writeable and not scene.xy.flags.writeable   # shared, never edited


def test_decode_at_lifts_the_point_and_decodes_it(qtbot, opened):
    model = tiny_model(latent_dim=2)
    _, c = opened(model, show=False)
    image = c.decode_at(0.7, -1.2)
    with torch.no_grad():
        expected = model.decode_image(torch.tensor([[0.7, -1.2]]))[0, 0].numpy()
    np.testing.assert_allclose(c.probe.z, [0.7, -1.2], atol=1e-6)
    np.testing.assert_allclose(image, expected, atol=1e-6)
    assert not np.allclose(image, c.decode_at(-2.0, 2.0))


def test_two_dims_plane_shows_the_chosen_axes(qtbot, opened):
    window, c = opened(tiny_model(latent_dim=4), show=False)
    c.set_plane("dims", (3, 1))
    scene = c.scene
    np.testing.assert_allclose(scene.xy, scene.codes[:, [3, 1]], atol=1e-6)
    assert scene.axis_names == ("z₃", "z₁")
    c.release_probe(0.5, -0.25)
    z = c.probe.z
    assert z[3] == pytest.approx(0.5) and z[1] == pytest.approx(-0.25)
    assert z[0] == 0 and z[2] == 0


def test_three_point_plane_needs_three_selections(qtbot, opened, monkeypatch):
    window, c = opened(tiny_model(latent_dim=3), show=False)
    errors: list[tuple[str, str]] = []
    monkeypatch.setattr(window, "show_error", lambda t, m: errors.append((t, m)))
    c.set_plane("points")
    assert errors and "three points" in errors[0][1]
    assert c.scene.plane_kind == "pca"
    for index in (5, 17, 42):
        c.select_point(index)
    c.set_plane("points")
    scene = c.scene
    assert scene.plane_kind == "points" and scene.anchors == (5, 17, 42)
    # The first anchor is the origin and the second lies on the +x axis.
    np.testing.assert_allclose(scene.xy[5], [0.0, 0.0], atol=1e-5)
    assert scene.xy[17][0] > 0 and abs(scene.xy[17][1]) < 1e-4
    c.release_probe(*scene.xy[42])
    np.testing.assert_allclose(c.probe.z, scene.codes[42], atol=1e-4)


def test_condition_changes_the_decode_of_a_cvae(qtbot, opened):
    model = tiny_model(latent_dim=2, family="cvae")
    _, c = opened(model, show=False)
    first = c.decode_at(0.3, 0.3)
    c.set_condition(7)
    assert c.probe.condition == 7
    seventh = c.decoder.last.image
    with torch.no_grad():
        expected = model.decode_image(torch.tensor([[0.3, 0.3]]), torch.tensor([7]))[0, 0].numpy()
    np.testing.assert_allclose(seventh, expected, atol=1e-6)
    assert not np.allclose(first, seventh)


def test_open_and_save_model_round_trip(qtbot, opened, tmp_path):
    model = tiny_model(latent_dim=2, seed=3)
    folder = tmp_path / "digits"
    save_model(folder, model)
    window, c = opened(show=False)
    assert c.open_model(str(folder))
    wait_for_codes(qtbot, c)
    assert c.model_name == "digits" and c.scene.model_name == "digits"
    before = c.decode_at(0.2, 0.1)
    copy = tmp_path / "copy"
    assert c.save_model(str(copy))
    _, other = opened(show=False, items=None)
    assert other.open_model(str(copy))
    np.testing.assert_allclose(other.decode_at(0.2, 0.1), before, atol=1e-6)


def test_bad_model_file_reports_a_clear_error_and_keeps_the_model(qtbot, opened, tmp_path):
    model = tiny_model()
    window, c = opened(model, show=False)
    bad = tmp_path / "broken"
    bad.mkdir()
    (bad / "config.json").write_text("{ not json")
    assert not c.open_model(str(bad))
    box = window.findChild(QMessageBox, "errorDialog")
    assert "broken" in box.text() and "Traceback" not in box.text()
    assert c.model is model


def test_data_that_does_not_fit_the_model_is_not_encoded(qtbot, opened):
    window, c = opened(tiny_model(), show=False)
    assert c.open_data("moons", image_size=16, limit=50)
    assert not c.model_fits_data() and not c.scene.fits_data
    assert c.scene.codes is None and c.scene.xy is None
    assert window.plane.point_count() == 0   # no points of the old data under the new one
    assert "expects" in window.statusBar().currentMessage()


def test_training_updates_the_inference_copy_and_the_codes(qtbot, opened):
    window, c = opened(show=False)
    small = c.data
    statuses: list[str] = []
    c.run_model.runChanged.connect(lambda run: statuses.append(run.status))
    assert c.start_training(training_settings(epochs=2))
    assert c.is_training and c.run.status == "running"
    qtbot.waitUntil(lambda: c.run.status == "idle", timeout=60000)
    run = c.run
    assert c.data is small   # the loaded subset was reused, not reloaded in full
    assert "running" in statuses
    assert [h["epoch"] for h in run.history] == [1, 2] and run.unsaved
    assert run.message.startswith("Training finished")
    # After training the scatter shows the final model's codes.
    qtbot.waitUntil(lambda: c.scene.codes is not None
                    and np.allclose(c.scene.codes, _reference_codes(c.model, c), atol=1e-4), timeout=10000)


def test_stop_keeps_what_was_trained(qtbot, opened):
    window, c = opened(show=False)
    assert c.start_training(training_settings(epochs=200))
    qtbot.waitUntil(lambda: c.run.progress is not None, timeout=30000)
    c.stop_training()
    assert c.run.status == "stopping"
    qtbot.waitUntil(lambda: c.run.status == "idle", timeout=30000)
    assert c.run.message.startswith("Training cancelled")
    assert c.model is not None and not c.is_training and c.run.unsaved


def test_a_bad_training_setting_is_reported_not_raised(qtbot, opened):
    window, c = opened(show=False)
    assert not c.start_training(training_settings(latent_dim=0))
    assert not c.is_training and c.run.status == "idle"
    assert "latent dimension" in window.findChild(QMessageBox, "errorDialog").text()


def test_pca_baseline_trains_without_errors_and_gets_codes(qtbot, opened):
    window, c = opened(show=False)
    assert c.start_training(training_settings(epochs=1, family="pca"))
    # Until it is fitted the PCA model cannot decode; the controller says so instead of failing.
    assert not c.model_ready()
    qtbot.waitUntil(lambda: c.run.status == "idle", timeout=30000)
    qtbot.waitUntil(lambda: c.scene.codes is not None, timeout=10000)
    assert window.findChild(QMessageBox, "errorDialog") is None
    np.testing.assert_allclose(c.scene.codes, _reference_codes(c.model, c), atol=1e-4)


def test_training_on_other_data_does_not_say_the_old_model_mismatches_it(qtbot, opened):
    window, c = opened(tiny_model(), show=False)   # a 28 x 28 model on MNIST
    messages: list[str] = []
    window.statusBar().messageChanged.connect(messages.append)
    settings = training_settings(epochs=1).with_changes(data="shapes", image_size=16, color="auto", limit=64)
    assert c.start_training(settings)
    assert c.data.shape == (1, 16, 16) and c.model.config.input_shape == (1, 16, 16)
    qtbot.waitUntil(lambda: c.run.status == "idle", timeout=30000)
    # A new model is trained for the new data: telling the user to train one would mislead.
    assert not any("expects" in m for m in messages), messages


def test_codes_placed_elsewhere_for_the_loaded_model_are_shown_at_once(qtbot, opened) -> None:
    from latentlab.core.device import cpu_state
    from latentlab.gui import placement

    window, c = opened(show=False)
    model = tiny_model()
    c.set_model(model)   # its own encode is now pending in the worker
    placed = placement.placement_job(model.config, cpu_state(model), c.data)(lambda: False)
    other = tiny_model(seed=5)
    assert not c.adopt_placement(other, c.data, placed)   # not the current model
    assert c.adopt_placement(model, c.data, placed)
    assert c.scene.xy is not None and np.array_equal(c.scene.codes, placed.codes)
    assert not c.adopt_placement(model, c.data, placed)   # placed already: once only
