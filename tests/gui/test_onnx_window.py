"""File ▸ Open Model opens ONNX graphs: an encoder/decoder folder (by choosing either file) or a decoder alone."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QFileDialog

from latentlab.core import inference
from latentlab.core.onnx_io import export_onnx
from latentlab.gui import open_model
from latentlab.gui.tools import export_dialogs
from tests.gui.controller_support import tiny_model, wait_for_codes

pytest.importorskip("onnxruntime")


@pytest.fixture
def exported(tmp_path):
    """A tiny LatentLab VAE written as ONNX (encoder.onnx, decoder.onnx, manifest)."""
    model = tiny_model(latent_dim=2, seed=4)
    return export_onnx(model, tmp_path / "vae-onnx"), model


def test_choosing_the_encoder_file_opens_the_pair(qtbot, opened, exported, monkeypatch, tmp_path) -> None:
    folder, original = exported
    window, controller = opened(items=150)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(folder / "encoder.onnx"), ""))
    window.open_action.trigger()
    wait_for_codes(qtbot, controller)
    assert controller.model_path == str(folder) and controller.model_name == "vae-onnx"
    assert controller.model.config.capabilities.encoder
    # The plane holds the original model's means, computed by onnxruntime.
    expected = inference.encode(original, controller.data.images)
    np.testing.assert_allclose(controller.scene.codes, expected, atol=1e-4)
    # The probe decodes through decoder.onnx as the original decodes.
    image = controller.decode_at(0.3, -0.6)
    want = inference.decode(original, controller.probe.z)[0, 0].numpy()
    np.testing.assert_allclose(image, want, atol=1e-5)
    # Tools and exports work on it; Save says the ONNX files are the model.
    controller.tools.add_item(0)
    controller.tools.add_item(9)
    np.testing.assert_allclose(controller.tools.frames(),
                               inference.decode(original, controller.tools.path()).numpy(), atol=1e-5)
    target = tmp_path / "path.gif"
    monkeypatch.setattr(export_dialogs, "_ask_options", lambda parent, title, options: dict(options))
    monkeypatch.setattr(export_dialogs, "_ask_save_path", lambda *a: str(target))
    assert controller.export("gif") == str(target) and target.stat().st_size > 0
    errors = []
    window.show_error = lambda title, message: errors.append(message)
    window.save_action.trigger()
    assert errors and ".onnx files" in errors[0]


def test_a_session_of_an_onnx_model_is_saved_and_opened_again(qtbot, opened, exported, tmp_path) -> None:
    import onnx

    folder, _original = exported
    window, controller = opened(items=60)
    assert controller.open_model(str(folder))
    wait_for_codes(qtbot, controller)
    controller.tools.add_item(0)
    controller.tools.add_item(9)
    path_before = controller.tools.path().copy()
    errors, warnings = [], []
    window.show_error = lambda title, message: errors.append(message)
    window.show_warning = lambda title, message: warnings.append(message)
    session = tmp_path / "onnx-session.json"
    assert controller.save_session(str(session)) == str(session) and errors == []
    controller.tools.reset()
    assert controller.open_session(str(session))
    qtbot.waitUntil(lambda: len(controller.tools.waypoints) == 2, timeout=5000)
    np.testing.assert_allclose(controller.tools.path(), path_before, atol=1e-6)
    assert warnings == []
    # The ONNX files changed since: the session still opens, and says so.
    proto = onnx.load(str(folder / "decoder.onnx"))
    proto.doc_string = "trained further"
    onnx.save(proto, str(folder / "decoder.onnx"))
    assert controller.open_session(str(session))
    assert warnings and "changed" in warnings[0]


def test_a_lone_onnx_decoder_opens_as_a_generator(qtbot, opened, exported, tmp_path) -> None:
    folder, original = exported
    lone = tmp_path / "generator.onnx"
    lone.write_bytes((folder / "decoder.onnx").read_bytes())
    assert open_model.model_location(str(lone)) == str(lone)   # not part of a model folder
    window, controller = opened(items=60)
    assert controller.open_model(str(lone))
    assert not controller.model.config.capabilities.encoder
    wait_for_codes(qtbot, controller, timeout=30000)
    assert controller.scene.codes.shape == (60, 2)
    image = controller.decode_at(0.0, 0.0)
    np.testing.assert_allclose(image, inference.decode(original, controller.probe.z)[0, 0].numpy(), atol=1e-5)


def test_an_onnx_file_that_is_not_a_model_is_one_clear_error(opened, tmp_path) -> None:
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not a protobuf at all")
    window, controller = opened(items=20)
    errors = []
    window.show_error = lambda title, message: errors.append((title, message))
    assert not controller.open_model(str(bad))
    assert errors[0][0] == "Could not open the model" and "not a readable ONNX model" in errors[0][1]
    assert "See the log" not in errors[0][1]   # a person's mistake, not a crash


def test_the_chosen_file_stands_for_its_model(tmp_path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    assert open_model.model_location(str(folder / "config.json")) == str(folder)
    assert not open_model.is_onnx(str(folder))
    onnx = tmp_path / "o"
    onnx.mkdir()
    (onnx / "decoder.onnx").write_bytes(b"")
    assert open_model.model_location(str(onnx / "decoder.onnx")) == str(onnx)
    assert open_model.is_onnx(str(onnx)) and open_model.is_onnx(str(tmp_path / "x.onnx"))
    assert open_model.model_location(str(tmp_path / "a.latentlab")) == str(tmp_path / "a.latentlab")


def test_the_app_opens_an_onnx_folder_given_on_the_command_line(qtbot, exported) -> None:
    from latentlab import app

    folder, original = exported
    window = app.launch([str(folder / "decoder.onnx")], default_model="")
    qtbot.addWidget(window)
    try:
        qtbot.waitUntil(lambda: app.controller_of(window) is not None
                        and app.controller_of(window).scene.codes is not None, timeout=20000)
        controller = app.controller_of(window)
        assert controller.model_path == str(folder) and controller.model.config.capabilities.encoder
        np.testing.assert_allclose(controller.scene.codes, inference.encode(original, controller.data.images),
                                   atol=1e-4)
    finally:
        window.close()
