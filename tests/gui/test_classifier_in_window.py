"""A classifying model in the window: the images whose labels it learned from are ringed on the
plane, and the classifier's answer for the decoded probe image is shown under the colour choice."""

from __future__ import annotations

import numpy as np
import torch

from latentlab.core import inference
from latentlab.core.checkpoint import describe_data
from latentlab.core.partial_labels import kept_items
from tests.gui.controller_support import (
    set_model_and_wait,
    tiny_model,
    tiny_ssvae,
    training_settings,
    wait_for_codes,
)


def test_a_trained_ssvae_rings_the_images_whose_labels_it_kept_also_after_reopening(qtbot, opened, tmp_path):
    window, c = opened()
    c.ask_unsaved = lambda _text: "discard"
    settings = training_settings(epochs=1, family="ssvae", hidden=[16]).with_changes(labelled=20, seed=4)
    with qtbot.waitSignal(c.training.resultReady, timeout=60000):
        assert c.start_training(settings)
    qtbot.waitUntil(lambda: not c.is_training, timeout=20000)
    wait_for_codes(qtbot, c)
    expected = kept_items(c.data, 20, 0.2, 4).numpy()
    qtbot.waitUntil(lambda: len(window.plane.marked()) == 20, timeout=5000)
    np.testing.assert_array_equal(np.sort(window.plane.marked()), expected)
    assert "one of the 20 labelled" in window.plane.legend_notes()["marked"]
    # Found again from the saved training settings and data record when the model is reopened.
    path = str(tmp_path / "few-labels")
    assert c.save_model(path)
    c.set_model(tiny_model())
    wait_for_codes(qtbot, c)
    assert len(window.plane.marked()) == 0 and "marked" not in window.plane.legend_notes()
    assert c.open_model(path)
    wait_for_codes(qtbot, c)
    np.testing.assert_array_equal(np.sort(window.plane.marked()), expected)
    # Other data than the model trained on: no rings (they would mark the wrong images).
    assert c.open_data("mnist", limit=200)
    wait_for_codes(qtbot, c)
    assert len(window.plane.marked()) == 0


def test_a_model_that_kept_every_label_rings_nothing(qtbot, opened):
    window, c = opened()
    set_model_and_wait(qtbot, c, tiny_ssvae(), meta={"train": {"val_fraction": 0.2, "seed": 0},
                                                    "data": describe_data(c.data, 0.2, 0)})
    assert len(window.plane.marked()) == 0
    set_model_and_wait(qtbot, c, tiny_ssvae(), meta={"train": {"val_fraction": 0.2, "seed": 1, "labelled": 30},
                                                    "data": describe_data(c.data, 0.2, 1)})
    np.testing.assert_array_equal(np.sort(window.plane.marked()), kept_items(c.data, 30, 0.2, 1).numpy())
    # The rings follow their points onto another plane.
    c.set_plane("dims", (1, 0))
    wait_for_codes(qtbot, c)
    marked = window.plane.marked()
    np.testing.assert_allclose(window.plane._marks.getData()[0], c.scene.xy[np.sort(marked), 0])


def test_the_classifier_answer_for_the_decoded_probe_is_shown(qtbot, opened):
    window, c = opened()
    set_model_and_wait(qtbot, c, tiny_ssvae())
    line = window.colour_by.probe_class
    for x, y, condition in ((0.5, -0.3, 0), (-1.2, 0.8, 7)):
        c.set_condition(condition)
        c.move_probe(x, y)
        c.release_probe(x, y)
        qtbot.waitUntil(lambda: c.decoder.last is not None and c.decoder.last.probe.position == c.probe.position)
        z = torch.as_tensor(np.array(c.probe.z, dtype=np.float32))[None]
        with torch.no_grad():
            image = inference.decode(c.model, z, condition)
            probabilities = c.model.classify(image)[0].numpy()
        best = int(probabilities.argmax())
        assert line.isVisibleTo(window) and line.text() == f"Classifier: {best} ({probabilities[best]:.0%})"
    # A model that does not classify shows no such line.
    set_model_and_wait(qtbot, c, tiny_model(family="cvae"))
    assert not window.colour_by.isVisible() and line.text() == ""
