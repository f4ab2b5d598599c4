"""collect_session / apply_session: bookmarks, path and attribute survive a session file."""

from __future__ import annotations

import numpy as np
import pytest

from latentlab.core.errors import LatentLabError
from latentlab.core.session_file import Session, load_session, save_session
from latentlab.gui.tools import InterpolationPanel, apply_session, collect_session
from tests.gui.test_tools_support import FakeHost


def _explored(host: FakeHost):
    ctrl = host.controller()
    host.z = host.codes_[3].copy()
    ctrl.add_bookmark()
    host.z = host.codes_[5].copy()
    ctrl.add_bookmark("five")
    ctrl.add_item(0)
    ctrl.add_waypoint(host.codes_[1], "seven.png")
    ctrl.set_steps(4)
    ctrl.set_method("slerp")
    ctrl.set_position(2)
    ctrl.set_attribute(to_class=2, from_class=None, amount=0.75)
    return ctrl


def test_round_trip_through_a_session_file(qtbot, tmp_path) -> None:
    host = FakeHost()
    ctrl = _explored(host)
    session = collect_session(ctrl, "digits.latentlab", "abc123", {"kind": "pca"})
    assert session.attributes[0]["name"] == "all data → two"
    save_session(tmp_path / "s.json", session)
    loaded = load_session(tmp_path / "s.json")

    fresh = FakeHost().controller()   # same model, nothing explored yet
    apply_session(fresh, loaded)
    assert [b.name for b in fresh.bookmarks] == ["Bookmark 1", "five"]
    for a, b in zip(fresh.bookmarks, ctrl.bookmarks):
        np.testing.assert_allclose(a.z, b.z)
    assert [w.name for w in fresh.waypoints] == ["item 0", "seven.png"]
    assert (fresh.steps, fresh.method, fresh.position()) == (4, "slerp", 2)
    np.testing.assert_allclose(fresh.path(), ctrl.path(), atol=1e-6)
    assert fresh.frames() is not None and len(fresh.frames()) == 6
    a = fresh.attribute
    assert (a.to_class, a.from_class, a.amount) == (2, None, 0.75)
    np.testing.assert_allclose(a.vector, ctrl.attribute.vector, atol=1e-6)
    assert loaded.model_hash == "abc123" and loaded.plane == {"kind": "pca"}


def test_classes_may_be_given_by_name(qtbot) -> None:
    ctrl = FakeHost().controller()
    session = Session(attributes=[{"name": "x", "from": "one", "to": "three", "amount": 1.0}])
    apply_session(ctrl, session)
    assert (ctrl.attribute.from_class, ctrl.attribute.to_class) == (1, 3)
    with pytest.raises(LatentLabError, match="'seven'"):
        apply_session(ctrl, Session(attributes=[{"name": "x", "from": None, "to": "seven", "amount": 1.0}]))


def test_codes_of_another_model_are_refused(qtbot) -> None:
    ctrl = FakeHost(dim=4).controller()
    session = Session(bookmarks=[{"name": "b", "z": [0.0, 1.0, 2.0]}])
    with pytest.raises(LatentLabError, match="3 latent values but the model has 4"):
        apply_session(ctrl, session)
    assert ctrl.bookmarks == []


def test_restoring_replaces_what_was_there(qtbot) -> None:
    host = FakeHost()
    ctrl = _explored(host)
    apply_session(ctrl, Session())
    assert ctrl.bookmarks == [] and ctrl.waypoints == [] and ctrl.attribute is None
    assert ctrl.path() is None


def test_interpolation_panel_shows_a_restored_path(qtbot) -> None:
    host = FakeHost()
    session = collect_session(_explored(host), "", "")
    fresh = FakeHost().controller()
    panel = InterpolationPanel(fresh)
    qtbot.addWidget(panel)
    apply_session(fresh, session)
    assert panel.steps_spin.value() == 4 and panel.method_combo.currentData() == "slerp"
    assert panel.waypoint_list.count() == 2 and panel.strip.count() == 6
    assert panel.scrubber.value() == 2
