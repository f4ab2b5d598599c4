"""What people use a model for, in the window: File ▸ Generate Data Set…, the Compression dock,
colouring the plane by a classifying model's predictions, and the training panel's
"Labelled images" field."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt

from latentlab.core import compress, inference
from latentlab.core.checkpoint import model_content_hash
from latentlab.core.models import ModelConfig
from latentlab.core.plan import plan_training
from latentlab.gui.tools.compression import BITS_CHOICES, REFERENCE_ITEMS, unsupported_reason
from latentlab.gui.views.colour_by import PREDICTED, TRUE_LABEL
from latentlab.gui.views.training_fields import select_key
from tests.gui.controller_support import set_model_and_wait, tiny_model, tiny_ssvae, training_settings
from tests.toy_sequence import toy_families, toy_model


def open_dialog(qtbot, window, c):
    window.findChild(type(window.open_action), "generateDataAction").trigger()
    dialog = c.uses.dialog
    assert dialog is not None and dialog.isVisible()
    return dialog


def run_to_end(qtbot, dialog) -> None:
    assert dialog.start()
    qtbot.waitUntil(lambda: not dialog.is_running() and dialog.cancel_button.text() == "Close", timeout=30000)


def hidden_leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# -- File ▸ Generate Data Set… ---------------------------------------------------------------
def test_a_generated_folder_holds_the_count_and_manifest_and_opens_as_labelled_data(qtbot, opened, tmp_path):
    window, c = opened(tiny_model(family="cvae"))
    saved = tmp_path / "model"
    assert c.save_model(str(saved))
    dialog = open_dialog(qtbot, window, c)
    # The output is chosen through the window's question.
    target = tmp_path / "digits"
    window.ask_generated_set_path = lambda suggested: str(target)
    qtbot.mouseClick(dialog.browse, Qt.MouseButton.LeftButton)
    assert dialog.output.text() == str(target)
    dialog.count.setValue(3)
    dialog.classes.setText("1, 7")
    dialog.temperature.setValue(0.5)
    dialog.seed.setValue(11)
    assert dialog.total() == 6 and not dialog.current_problems()
    run_to_end(qtbot, dialog)
    assert sorted(p.name for p in (target / "1").iterdir()) == ["000000.png", "000001.png", "000002.png"]
    assert len(list((target / "7").iterdir())) == 3
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["n"] == 6 and manifest["counts"] == {"1": 3, "7": 3}
    assert manifest["seed"] == 11 and manifest["temperature"] == 0.5
    assert manifest["model_sha256"] == model_content_hash(str(saved))
    assert np.load(target / "codes.npy").shape == (6, 2)
    assert "Wrote 6 items" in dialog.status.text() and str(target) in dialog.status.text()
    assert dialog.progress.value() == dialog.progress.maximum()
    # "Open as Data" puts the set on the plane, labels included.
    qtbot.mouseClick(dialog.open_button, Qt.MouseButton.LeftButton)
    assert len(c.data) == 6
    assert c.data.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert tuple(c.data.class_names) == ("1", "7")


def test_an_npz_set_and_a_non_empty_folder_replaced_only_when_confirmed(qtbot, opened, tmp_path):
    window, c = opened(tiny_model())
    dialog = open_dialog(qtbot, window, c)
    assert dialog.per_class.isHidden()   # a model without classes
    out = tmp_path / "set.npz"
    dialog.output.setText(str(out))
    dialog.count.setValue(7)
    run_to_end(qtbot, dialog)
    with np.load(out, allow_pickle=False) as arrays:
        assert arrays["images"].shape == (7, 1, 28, 28) and arrays["codes"].shape == (7, 2)
        assert json.loads(str(arrays["manifest"]))["n"] == 7
    # A folder with files in it is replaced only when the person agrees.
    folder = tmp_path / "busy"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    asked = []
    c.ask_yes_no = lambda title, text: asked.append(text) or False
    dialog.output.setText(str(folder))
    assert not dialog.start()
    assert asked and str(folder) in asked[0]
    assert (folder / "keep.txt").read_text() == "mine" and "Nothing written" in dialog.status.text()
    c.ask_yes_no = lambda title, text: True
    run_to_end(qtbot, dialog)
    assert not (folder / "keep.txt").exists() and len(list(folder.glob("*.png"))) == 7


def test_the_preview_follows_the_temperature_and_seed(qtbot, opened):
    window, c = opened(tiny_model(latent_dim=3, seed=4))
    dialog = open_dialog(qtbot, window, c)
    first = dialog.preview_images.copy()
    dialog.temperature.setValue(0.05)
    qtbot.waitUntil(lambda: not np.array_equal(dialog.preview_images, first), timeout=3000)
    cooler = dialog.preview_images.copy()
    # Nearly the prior's mean: the samples barely differ from one another.
    assert cooler.std(axis=0).mean() < first.std(axis=0).mean()
    dialog.seed.setValue(5)
    qtbot.waitUntil(lambda: not np.array_equal(dialog.preview_images, cooler), timeout=3000)


@pytest.mark.parametrize("stage", ["Decoding", "Writing"])
def test_cancel_leaves_no_half_written_set(qtbot, opened, tmp_path, stage):
    window, c = opened(tiny_model())
    dialog = open_dialog(qtbot, window, c)
    target = tmp_path / "old"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    c.ask_yes_no = lambda title, text: True
    dialog.output.setText(str(target))
    dialog.count.setValue(1200)   # three batches to decode, six progress reports to write

    def cancel_at(thread):
        # On the generating thread itself, so the cancel lands at exactly this stage.
        thread.progressed.connect(lambda s, done, total: s == stage and thread.cancel(),
                                  Qt.ConnectionType.DirectConnection)

    dialog.threadStarted.connect(cancel_at)
    run_to_end(qtbot, dialog)
    assert dialog.status.text() == "Cancelled: nothing was written."
    assert sorted(p.name for p in target.iterdir()) == ["keep.txt"]   # the old folder as it was
    assert hidden_leftovers(tmp_path) == []                            # no temporary folder left
    assert dialog.last_written is None and not dialog.open_button.isEnabled()


def test_generate_without_a_model_says_why(qtbot, opened):
    window, c = opened()
    errors = []
    window.show_error = lambda title, text: errors.append(title)
    window.findChild(type(window.open_action), "generateDataAction").trigger()
    assert errors == ["Nothing to generate from"] and c.uses.dialog is None


# -- the Compression dock ---------------------------------------------------------------------
def measured_panel(qtbot, window, c):
    window.docks["compression"].raise_()
    qtbot.waitUntil(lambda: c.uses.compression.report is not None, timeout=60000)
    return c.uses.panel, c.uses.compression


def test_the_compression_panel_shows_what_core_measures(qtbot, opened):
    window, c = opened(tiny_model(latent_dim=4, seed=2))
    panel, tool = measured_panel(qtbot, window, c)
    model, data = c.model, c.data
    reference = c.uses.validation_indices()[:REFERENCE_ITEMS]
    images = data.images[torch.as_tensor(reference)]
    codes = inference.encode(model, images, None)
    low, high = codes.min(0), codes.max(0)
    first = int(reference[0])
    assert tool.shown_index == first   # nothing selected: the first validation item
    for bits in (4, "float16", 8):
        panel.set_bits(bits)
        shown = tool.shown
        expected_bytes = compress.code_bytes(4, bits)
        assert shown.bits == bits and shown.bytes_per_image == expected_bytes
        assert f"{expected_bytes} bytes per image" in panel.numbers.text()
        # The same image through core's quantisation over the validation codes' range.
        z = inference.encode(model, data.images[first:first + 1], None)
        if bits == "float16":
            restored = z.astype(np.float16).astype(np.float32)
        else:
            restored = compress.dequantise(compress.quantise(z, bits, low, high)[0], bits, low, high)
        out = inference.decode(model, torch.from_numpy(restored), None)
        assert shown.psnr == pytest.approx(float(compress.psnr(data.images[first:first + 1], out)[0]), abs=1e-4)
        np.testing.assert_allclose(shown.restored, out[0].numpy(), atol=1e-5)
        # The set's mean PSNR at these bits is core's report over the same images.
        report = compress.compression_report(model, images, None, bits=bits, curve_bits=(bits,), qualities=(50,))
        point = tool.curve_point(bits)
        assert point["bytes_per_image"] == report["model"]["bytes_per_image"]
        assert point["psnr"] == pytest.approx(report["model"]["psnr"], abs=1e-4)
        assert f"PSNR {report['model']['psnr']:.2f} dB" in panel.mean_label.text()
    # The selected point is the image on show.
    c.select_point(5)
    qtbot.waitUntil(lambda: tool.shown_index == 5, timeout=3000)
    np.testing.assert_array_equal(tool.shown.original, data.images[5].numpy())


def test_the_rate_distortion_plot_has_the_model_jpeg_and_webp(qtbot, opened):
    window, c = opened(tiny_model(latent_dim=4, seed=2))
    panel, tool = measured_panel(qtbot, window, c)
    curve = tool.report["curve"]
    assert set(panel.series) == {"model", "jpeg", "webp"}
    named = [item.name() for item in panel.plot.plotItem.listDataItems() if item.name()]
    assert named == ["This model", "JPEG", "WebP"]   # besides them only the ring at the chosen bits
    for codec, item in panel.series.items():
        xs, ys = item.getOriginalDataset()
        points = sorted((p["bytes_per_image"], p["psnr"]) for p in curve
                        if p["codec"] == codec and math.isfinite(p["psnr"]))
        assert len(points) >= len(BITS_CHOICES) and np.allclose(xs, [p[0] for p in points])
        assert np.allclose(ys, [p[1] for p in points])
    model_bytes = sorted(p["bytes_per_image"] for p in curve if p["codec"] == "model")
    assert model_bytes == sorted(compress.code_bytes(4, b) for b in BITS_CHOICES)


def test_a_newly_trained_model_is_measured_once_training_stops(qtbot, opened):
    window, c = opened(tiny_model(latent_dim=4, seed=2))
    panel, tool = measured_panel(qtbot, window, c)
    assert len(tool.report["model"]["range_low"]) == 4
    assert c.start_training(training_settings(epochs=2, latent_dim=3, hidden=[16]))
    qtbot.waitUntil(lambda: c.run.status == "idle", timeout=60000)
    # The old model's report is gone with it; the new one is measured with its own range.
    qtbot.waitUntil(lambda: tool.report is not None and len(tool.report["model"]["range_low"]) == 3,
                    timeout=60000)
    qtbot.waitUntil(lambda: tool.shown is not None and tool.shown.bytes_per_image == compress.code_bytes(3, 8),
                    timeout=5000)


def test_the_compression_panel_is_disabled_with_a_reason(qtbot, opened):
    with toy_families():
        window, c = opened(items=None)
        c.set_model(toy_model("toy-strokes"))
        window.docks["compression"].raise_()
        panel = c.uses.panel
        qtbot.waitUntil(lambda: "not images" in panel.reason.text(), timeout=3000)
        assert not panel.isEnabled() and panel.toolTip() == panel.reason.text() and panel.content.isHidden()
        assert c.uses.compression.report is None
        # Generating from it works all the same: the preview draws the sequences.
        dialog = c.uses.open_generate_dialog()
        assert dialog.preview_images.shape[0] == 24 and dialog.preview_images.shape[2:] == (48, 48)
        dialog.reject()
    gan = ModelConfig(family="gan", latent_dim=2, hidden=(16,))
    assert "no encoder" in unsupported_reason(gan)


# -- colouring by predicted class ---------------------------------------------------------
def test_the_plane_colours_points_by_the_predicted_class(qtbot, opened):
    window, c = opened()
    set_model_and_wait(qtbot, c, tiny_ssvae())
    bar = window.colour_by
    assert bar.isVisible()
    true_labels = c.data.labels.numpy()
    np.testing.assert_array_equal(window.plane.point_labels(), true_labels)
    with qtbot.waitSignal(c.uses.predicted, timeout=20000):
        bar.combo.setCurrentIndex(bar.combo.findData(PREDICTED))
    with torch.no_grad():
        expected = c.model.classify(c.data.images).argmax(1).numpy()
    np.testing.assert_array_equal(window.plane.point_labels(), expected)
    assert not np.array_equal(expected, true_labels)   # an untrained classifier guesses
    groups = window.plane._points._groups
    np.testing.assert_array_equal(groups, expected)    # the dots' colours are the predicted classes
    val = c.uses.validation_indices()
    assert bar.accuracy.text() == f"Accuracy {np.mean(expected[val] == true_labels[val]):.1%} (validation)"
    # Another plane keeps the predicted colours; the true labels come back when chosen.
    c.set_plane("dims", (1, 0))
    np.testing.assert_array_equal(window.plane.point_labels(), expected)
    bar.combo.setCurrentIndex(bar.combo.findData(TRUE_LABEL))
    np.testing.assert_array_equal(window.plane.point_labels(), true_labels)
    assert bar.accuracy.text() == ""


def test_the_colour_choice_is_only_offered_for_models_that_classify(qtbot, opened):
    window, c = opened(tiny_model(family="cvae"))
    assert not window.colour_by.isVisible()
    set_model_and_wait(qtbot, c, tiny_ssvae())
    assert window.colour_by.isVisible()


# -- the training panel's labels field --------------------------------------------------------
def test_the_labels_field_reaches_the_training_settings(qtbot, opened):
    window, c = opened()
    panel = window.training_panel
    field = panel.labelled_spin
    select_key(panel.family_combo, "vae")
    assert not field.isEnabled() and "classifies" in field.toolTip()
    field.lineEdit().setText("30")
    assert panel.settings().labelled is None      # not for a family that uses every label
    select_key(panel.family_combo, "ssvae")
    assert field.isEnabled()
    emitted = []
    window.startTrainingRequested.disconnect()
    window.startTrainingRequested.connect(emitted.append)
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert emitted and emitted[0].labelled == 30 and emitted[0].family == "ssvae"
    plan = plan_training(emitted[0].with_changes(data=None, epochs=1), data=c.data)
    assert plan.train_config.labelled == 30
    field.lineEdit().setText("all")
    assert panel.settings().labelled is None and not panel.problems()
    field.lineEdit().setText("0")
    assert panel.problems() == ["Labelled images must be at least 1, not 0."] and panel.settings() is None
