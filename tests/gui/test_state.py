"""The state values: whole, read-only, and telling apart what changed."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from latentlab.gui.state import Probe, ProbeModel, Run, RunModel, Scene, SceneModel
from tests.gui.test_tools_support import FakeHost


def test_a_scene_is_a_read_only_value():
    codes = np.zeros((3, 2), np.float32)
    scene = Scene(model_key=1, data_key=1, codes=codes, xy=codes.copy(), labels=np.array([0, 1, 5]),
                  class_names=("zero", "one"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        scene.xy = None
    with pytest.raises(ValueError):
        scene.codes[0, 0] = 1.0
    assert scene.item_text(1) == "item 1 · one" and scene.item_text(2) == "item 2 · 5"


def test_the_layout_key_separates_what_needs_new_points_from_moved_ones():
    base = Scene(model_key=1, data_key=1, plane_kind="pca")
    assert base.layout_key() == Scene(model_key=1, data_key=1, plane_kind="pca", anchors=(4, 5, 6)).layout_key()
    assert base.layout_key() != Scene(model_key=2, data_key=1).layout_key()
    assert base.layout_key() != Scene(model_key=1, data_key=2).layout_key()
    points = Scene(model_key=1, data_key=1, plane_kind="points", anchors=(1, 2, 3))
    assert points.layout_key() != Scene(model_key=1, data_key=1, plane_kind="points", anchors=(1, 2, 4)).layout_key()


def test_a_probe_keeps_its_own_copy_of_the_code():
    z = np.array([1.0, 2.0], np.float32)
    probe = Probe(0.5, -0.5, z, exact=True, condition=3)
    z[0] = 9.0
    assert probe.z[0] == 1.0 and not probe.z.flags.writeable
    moved = probe.with_changes(condition=4)
    assert moved.condition == 4 and moved.position == (0.5, -0.5) and probe.condition == 3


def test_a_run_knows_its_statuses():
    with pytest.raises(ValueError, match="unknown training status"):
        Run(status="exploded")
    assert Run(status="paused").training and not Run().training


def test_each_model_sends_every_new_value_whole(qtbot):
    for model, value in ((SceneModel(), Scene(model_key=7)), (ProbeModel(), Probe(1.0, 2.0)),
                         (RunModel(), Run(status="running"))):
        signal = next(getattr(model, name) for name in ("sceneChanged", "probeChanged", "runChanged")
                      if hasattr(model, name))
        with qtbot.waitSignal(signal, timeout=1000) as blocker:
            model.set(value)
        assert blocker.args == [value] and model.value is value


def test_a_model_of_another_size_encodes_items_and_files_again_and_drops_the_rest(qtbot, tmp_path):
    from PIL import Image

    host = FakeHost(dim=4)
    items = host.decode(host.codes_)   # the data set's images stay when the model changes
    active = {"model": host}           # the host's current model: 4 latent values, later 6
    tools = host.controller(encode=lambda images: active["model"].encode(images),
                            decode=lambda codes: active["model"].decode(codes), item_image=lambda i: items[i])
    tools.add_item(2)
    picture = (host.decode(host.codes_[5][None])[0, 0] * 255 + 0.5).astype(np.uint8)
    Image.fromarray(picture).save(tmp_path / "five.png")
    tools.add_image_files([tmp_path / "five.png"])
    host.z = host.codes_[7].copy()
    tools.add_probe()
    tools.add_bookmark("mark")
    tools.set_attribute(to_class=2, from_class=0, amount=0.25)
    bigger = FakeHost(dim=6, seed=1)
    active["model"] = bigger
    host.z, host.codes_ = np.zeros(6, np.float32), None   # the new model's codes are not there yet
    message = tools.adapt_to_model()
    assert [w.name for w in tools.waypoints] == ["item 2", "five.png"]
    assert all(w.z.shape == (6,) for w in tools.waypoints)
    np.testing.assert_allclose(tools.waypoints[0].z, bigger.encode(items[2:3])[0], atol=1e-6)
    np.testing.assert_allclose(tools.waypoints[1].z, bigger.encode(np.asarray(Image.open(tmp_path / "five.png"),
                                                                                np.float32)[None, None] / 255)[0],
                               atol=1e-4)
    assert tools.bookmarks == [] and tools.path().shape == (tools.steps + 2, 6)
    assert message == ("The model has 6 latent dimensions, not 4: encoded the 2 path waypoints again; "
                       "dropped 1 path waypoint and 1 bookmark (codes of the old model); kept the attribute's classes.")
    assert tools.attribute is None and tools.arrow_xy() is None
    host.codes_, host.plane_ = bigger.codes_, bigger.plane_
    tools.refresh()   # the new model's codes arrived
    a = tools.attribute
    assert (a.to_class, a.from_class, a.amount, a.vector.shape) == (2, 0, 0.25, (6,))
    assert tools.adapt_to_model() is None   # the same size again: nothing to do
