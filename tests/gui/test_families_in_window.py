"""The window runs any family of the registry: one defined only in a test trains, saves, loads
and is explored; a family with sequence outputs is drawn by the sequence view."""

from __future__ import annotations

import numpy as np
import torch


from latentlab.core import inference, render
from latentlab.core.checkpoint import load_model
from latentlab.gui.manifold import to_display
from tests.gui.controller_support import training_settings, wait_for_codes
from tests.toy_families import NAME, toy_family_registered
from tests.toy_sequence import toy_families, toy_model


def test_a_family_defined_only_in_a_test_trains_saves_loads_and_is_explored(qtbot, opened, tmp_path):
    with toy_family_registered() as toy:
        window, c = opened()
        combo = window.training_panel.family_combo
        assert combo.findData(NAME) >= 0   # the panel lists it from the registry
        settings = training_settings(epochs=2, family=NAME, hidden=[16])
        assert c.start_training(settings)
        qtbot.waitUntil(lambda: c.run.status == "idle", timeout=60000)
        history = c.run.history
        assert [h["epoch"] for h in history] == [1, 2]
        # Its own term reaches the history and the loss curves.
        assert all("code_norm" in h["train"] for h in history)
        assert "code_norm" in window.loss_plot.terms()
        wait_for_codes(qtbot, c)
        folder = tmp_path / "toy"
        assert c.save_model(str(folder))
        assert load_model(folder).config.family == toy.name
        # Opened again, it is explored like any model: the probe decodes where it is put.
        window.close()
        window2, c2 = opened()
        assert c2.open_model(str(folder))
        wait_for_codes(qtbot, c2)
        c2.release_probe(0.3, -0.2)
        expected = inference.decode(c2.model, c2.probe.z, None)[0, 0].numpy()
        np.testing.assert_allclose(window2.decoded.current_image(), expected, atol=1e-6)


def test_a_sequence_family_is_drawn_by_the_sequence_view(qtbot, opened):
    with toy_families():
        window, c = opened(items=None)
        c.set_model(toy_model("toy-strokes"))
        side = window.side
        assert side.output_kind == "sequence" and side.output_stack.currentWidget() is side.sequence
        c.release_probe(0.5, -0.25)
        spec = render.output_spec(c.model.config)
        expected = inference.decode(c.model, np.array([0.5, -0.25], np.float32))[0].numpy()
        np.testing.assert_allclose(side.sequence.current_output(), expected, atol=1e-6)
        first = side.sequence.current_output().copy()
        c.release_probe(-0.6, 0.4)
        assert not np.allclose(side.sequence.current_output(), first)   # the drawing follows the probe
        assert "z = (-0.60, 0.40)" in side.sequence.caption()
        # Strips, thumbnails and sheets get pictures: the sequence drawn with the core renderer.
        pictures = c.decode_z(np.array([[0.5, -0.25], [-0.6, 0.4]], np.float32))
        assert pictures.shape[0] == 2 and pictures.shape[1:3] == (64, 64)
        drawn = render.as_images(torch.from_numpy(expected)[None], spec, size=64)[0]
        np.testing.assert_allclose(pictures[0], to_display(drawn), atol=1e-6)
        assert pictures[0].min() < 0.5 < pictures[0].max()   # dark strokes on a light ground
        # Back to an image model: the image view returns.
        from tests.gui.controller_support import tiny_model

        c.set_model(tiny_model())
        assert side.output_kind == "image" and side.output_stack.currentWidget() is side.decoded
        assert window.side.title.text().startswith("Decoded at")

