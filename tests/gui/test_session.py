"""The GUI controller without widgets: files, encodings, planes, decoding, training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentlab.core.checkpoint import save_model
from latentlab.core.models import ModelConfig, build_model
from latentlab.gui.session import Session

N_ITEMS = 240


def tiny_config(latent_dim: int = 2, family: str = "vae", num_classes: int = 0) -> ModelConfig:
    return ModelConfig(family=family, latent_dim=latent_dim, hidden=(16,), num_classes=num_classes,
                       label_names=tuple(str(k) for k in range(10)) if num_classes else ())


def tiny_model(config: ModelConfig, seed: int = 1):
    torch.manual_seed(seed)
    return build_model(config).eval()


@pytest.fixture
def session(qtbot):
    s = Session(training_threads=1)
    yield s
    s.shutdown()


def _load(session: Session, qtbot, model) -> None:
    """Give the session data and a model and wait for the scatter's codes."""
    if session.data is None:
        assert session.open_data("mnist", limit=N_ITEMS)
    with qtbot.waitSignal(session.codesChanged, timeout=10000, check_params_cb=lambda *a: session.codes is not None):
        session.set_model(model)


def _reference_codes(model, session: Session) -> np.ndarray:
    y = session.data.labels if model.config.is_conditional else None
    with torch.no_grad():
        mu, _ = model.encode(session.data.images, y)
    return mu.numpy()


def test_codes_and_plane_coordinates_match_the_model(qtbot, session):
    model = tiny_model(tiny_config(latent_dim=3))
    _load(session, qtbot, model)
    codes = _reference_codes(model, session)
    assert session.codes.shape == (N_ITEMS, 3)
    np.testing.assert_allclose(session.codes, codes, rtol=1e-4, atol=1e-5)
    # The PCA plane passes through the codes' mean; the scatter is the projection onto it.
    centred = codes - codes.mean(axis=0)
    np.testing.assert_allclose(session.xy, centred @ session.plane.basis.numpy().T, atol=1e-4)


def test_decode_at_lifts_the_point_and_decodes_it(qtbot, session):
    model = tiny_model(tiny_config(latent_dim=2))
    _load(session, qtbot, model)
    image = session.decode_at(0.7, -1.2)
    with torch.no_grad():
        expected = model.decode_image(torch.tensor([[0.7, -1.2]]))[0, 0].numpy()
    np.testing.assert_allclose(session.probe_z, [0.7, -1.2], atol=1e-6)
    np.testing.assert_allclose(image, expected, atol=1e-6)
    assert not np.allclose(image, session.decode_at(-2.0, 2.0))


def test_two_dims_plane_shows_the_chosen_axes(qtbot, session):
    _load(session, qtbot, tiny_model(tiny_config(latent_dim=4)))
    with qtbot.waitSignal(session.codesChanged, timeout=2000):
        session.set_plane("dims", (3, 1))
    np.testing.assert_allclose(session.xy, session.codes[:, [3, 1]], atol=1e-6)
    z = session.lift(0.5, -0.25)
    assert z[3] == pytest.approx(0.5) and z[1] == pytest.approx(-0.25)
    assert z[0] == 0 and z[2] == 0


def test_three_point_plane_needs_three_selections(qtbot, session):
    _load(session, qtbot, tiny_model(tiny_config(latent_dim=3)))
    errors: list[tuple[str, str]] = []
    session.errorOccurred.connect(lambda t, m: errors.append((t, m)))
    session.set_plane("points")
    assert errors and "three points" in errors[0][1]
    assert session.plane_kind == "pca"
    for index in (5, 17, 42):
        session.note_selected(index)
    session.set_plane("points")
    assert session.plane_kind == "points"
    # The first anchor is the origin and the second lies on the +x axis.
    np.testing.assert_allclose(session.xy[5], [0.0, 0.0], atol=1e-5)
    assert session.xy[17][0] > 0 and abs(session.xy[17][1]) < 1e-4
    np.testing.assert_allclose(session.lift(*session.xy[42]), session.codes[42], atol=1e-4)


def test_condition_changes_the_decode_of_a_cvae(qtbot, session):
    model = tiny_model(tiny_config(latent_dim=2, family="cvae", num_classes=10))
    _load(session, qtbot, model)
    first = session.decode_at(0.3, 0.3)
    with qtbot.waitSignal(session.conditionChanged, timeout=1000):
        session.set_condition(7)
    seventh = session.decode_at(0.3, 0.3)
    with torch.no_grad():
        expected = model.decode_image(torch.tensor([[0.3, 0.3]]), torch.tensor([7]))[0, 0].numpy()
    np.testing.assert_allclose(seventh, expected, atol=1e-6)
    assert not np.allclose(first, seventh)


def test_open_and_save_model_round_trip(qtbot, session, tmp_path):
    model = tiny_model(tiny_config(latent_dim=2), seed=3)
    folder = tmp_path / "digits"
    save_model(folder, model)
    assert session.open_data("mnist", limit=N_ITEMS)
    with qtbot.waitSignal(session.codesChanged, timeout=10000, check_params_cb=lambda *a: session.codes is not None):
        assert session.open_model(str(folder))
    assert session.model_name == "digits"
    before = session.decode_at(0.2, 0.1)
    copy = tmp_path / "copy"
    assert session.save_model(str(copy))
    other = Session()
    try:
        assert other.open_model(str(copy))
        np.testing.assert_allclose(other.decode_at(0.2, 0.1), before, atol=1e-6)
    finally:
        other.shutdown()


def test_bad_model_file_reports_a_clear_error_and_keeps_the_model(qtbot, session, tmp_path):
    model = tiny_model(tiny_config())
    _load(session, qtbot, model)
    bad = tmp_path / "broken"
    bad.mkdir()
    (bad / "config.json").write_text("{ not json")
    with qtbot.waitSignal(session.errorOccurred, timeout=1000) as blocker:
        assert not session.open_model(str(bad))
    title, message = blocker.args
    assert "broken" in message and "Traceback" not in message
    assert session.model is model


def test_data_that_does_not_fit_the_model_is_not_encoded(qtbot, session):
    _load(session, qtbot, tiny_model(tiny_config()))
    assert session.open_data("moons", image_size=16, limit=50)
    assert not session.model_fits_data()
    assert session.codes is None and session.xy is None


def training_settings(epochs: int = 2, **model) -> dict:
    return {
        "data": {"spec": "mnist", "image_size": None, "color": "auto"},
        "model": {"family": "vae", "arch": "mlp", "latent_dim": 2, "beta": 1.0, "kl_warmup_epochs": 0,
                  "likelihood": "bernoulli", "hidden": [32], **model},
        "train": {"epochs": epochs, "batch_size": 32, "lr": 1e-3, "device": "cpu", "seed": 0},
    }


def test_training_updates_the_inference_copy_and_the_codes(qtbot, session):
    assert session.open_data("mnist", limit=N_ITEMS)
    small = session.data
    states: list[str] = []
    session.trainingStateChanged.connect(states.append)
    progress: list = []
    session.trainingProgress.connect(progress.append)
    with qtbot.waitSignal(session.trainingFinished, timeout=60000) as blocker:
        assert session.start_training(training_settings(epochs=2))
        assert session.is_training
    result = blocker.args[0]
    assert result.status == "finished" and len(result.history) == 2
    assert session.data is small   # the loaded subset was reused, not reloaded in full
    qtbot.waitUntil(lambda: states[-1:] == ["idle"], timeout=5000)
    assert states[0] == "running"
    assert any(p.val for p in progress)
    # After training the scatter shows the final model's codes.
    qtbot.waitUntil(lambda: session.codes is not None
                    and np.allclose(session.codes, _reference_codes(session.model, session), atol=1e-4),
                    timeout=10000)
    assert session.history == result.history


def test_stop_keeps_what_was_trained(qtbot, session):
    assert session.open_data("mnist", limit=N_ITEMS)
    with qtbot.waitSignal(session.trainingProgress, timeout=30000):
        assert session.start_training(training_settings(epochs=200))
    with qtbot.waitSignal(session.trainingFinished, timeout=30000) as blocker:
        session.stop_training()
        assert session.training_state == "stopping"
    assert blocker.args[0].status == "cancelled"
    qtbot.waitUntil(lambda: session.training_state == "idle", timeout=5000)
    assert session.model is blocker.args[0].model


def test_a_bad_training_setting_is_reported_not_raised(qtbot, session):
    assert session.open_data("mnist", limit=N_ITEMS)
    with qtbot.waitSignal(session.errorOccurred, timeout=2000) as blocker:
        ok = session.start_training(training_settings(latent_dim=0))
    assert not ok and not session.is_training and session.training_state == "idle"
    assert "latent dimension" in blocker.args[1]


def test_pca_baseline_trains_without_errors_and_gets_codes(qtbot, session):
    assert session.open_data("mnist", limit=N_ITEMS)
    errors: list = []
    session.errorOccurred.connect(lambda *a: errors.append(a))
    with qtbot.waitSignal(session.trainingFinished, timeout=30000) as blocker:
        assert session.start_training(training_settings(epochs=1, family="pca"))
        # Until it is fitted the PCA model cannot decode; the session says so instead of failing.
        assert not session.model_ready()
    assert blocker.args[0].status == "finished"
    qtbot.waitUntil(lambda: session.codes is not None, timeout=10000)
    assert errors == []
    np.testing.assert_allclose(session.codes, _reference_codes(session.model, session), atol=1e-4)


def test_training_on_other_data_does_not_say_the_old_model_mismatches_it(qtbot, session):
    _load(session, qtbot, tiny_model(tiny_config()))   # a 28 x 28 model on MNIST
    messages: list[str] = []
    session.statusMessage.connect(messages.append)
    settings = training_settings(epochs=1)
    settings["data"] = {"spec": "shapes", "image_size": 16, "color": "auto", "limit": 64}
    with qtbot.waitSignal(session.trainingFinished, timeout=30000):
        assert session.start_training(settings)
        assert session.data.shape == (1, 16, 16) and session.config.input_shape == (1, 16, 16)
    # A new model is trained for the new data: telling the user to train one would mislead.
    assert not any("expects" in m for m in messages), messages
