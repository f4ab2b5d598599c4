"""Session files: round trip, validation of bad files, model-change warning."""

from __future__ import annotations

import json
import os

import pytest
import torch

from latentlab.core import export
from latentlab.core.errors import LatentLabError
from latentlab.core.latent import pca_plane
from latentlab.core.session_file import Session, check_model, load_session, save_session


def _session() -> Session:
    plane = pca_plane(torch.randn(30, 3, generator=torch.Generator().manual_seed(0)))
    return Session(
        model_path="models/mnist-vae",
        model_hash="abc123",
        bookmarks=[{"name": "a thin one", "z": [0.5, -1.25, 2.0]}],
        paths=[{"name": "loop", "waypoints": [[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]], "steps": 8, "method": "slerp"}],
        plane=plane.to_dict(),
        attributes=[{"name": "more 7", "from": None, "to": 7, "amount": 1.5},
                    {"name": "3 to 8", "from": "3", "to": "8", "amount": -0.5}],
        extra={"view": [-3, 3, -3, 3]},
    )


def _write(path, obj) -> None:
    path.write_text(json.dumps(obj), encoding="utf-8")


def test_round_trip(tmp_path) -> None:
    path = tmp_path / "explore.json"
    session = _session()
    save_session(path, session)
    assert json.loads(path.read_text(encoding="utf-8"))["format_version"] == 1
    assert load_session(path) == session


def test_minimal_file_gets_defaults(tmp_path) -> None:
    path = tmp_path / "min.json"
    _write(path, {"format_version": 1})
    assert load_session(path) == Session()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"format_version": 2}, "version"),
        ({"format_version": None}, "format_version"),
        ({"bookmarks": {"name": "x"}}, "'bookmarks' must be a list"),
        ({"bookmarks": [{"name": "x", "z": [1, "two", 3]}]}, "bookmark 1"),
        ({"bookmarks": [{"z": [1.0, 2.0, 3.0]}]}, "name"),
        ({"paths": [{"name": "p", "waypoints": [[0, 0, 0]], "steps": -1, "method": "lerp"}]}, "steps"),
        ({"paths": [{"name": "p", "waypoints": [[0, 0, 0]], "steps": 2, "method": "spline"}]}, "method"),
        ({"paths": [{"name": "p", "waypoints": [[0, 0, 0]], "steps": True, "method": "lerp"}]}, "steps"),
        ({"attributes": [{"name": "a", "from": None, "to": 1.5, "amount": 1}]}, "'to'"),
        ({"attributes": [{"name": "a", "from": None, "to": 1}]}, "amount"),
        ({"plane": {"origin": [0, 0, 0], "basis": [[1, 0, 0], [1, 0, 0]]}}, "plane"),
        ({"bookmarks": [{"name": "short", "z": [1.0, 2.0]}]}, "different lengths"),
        ({"model_hash": 5}, "model_hash"),
        ({"colour": "blue"}, "unknown entries: colour"),
        # An integer too large for a float must be a clear error, not an OverflowError.
        ({"bookmarks": [{"name": "huge", "z": [1, 10**400, 3]}]}, "finite numbers"),
        ({"attributes": [{"name": "a", "from": None, "to": 1, "amount": 10**400}]}, "amount"),
        ({"plane": {"origin": [0, 10**400, 0], "basis": [[1, 0, 0], [0, 1, 0]]}}, "plane"),
    ],
)
def test_bad_contents_name_the_file_and_the_problem(tmp_path, change, message) -> None:
    d = _session().to_dict()
    d.update(change)
    if d["format_version"] is None:
        del d["format_version"]
    path = tmp_path / "bad.json"
    _write(path, d)
    with pytest.raises(LatentLabError, match=message) as info:
        load_session(path)
    assert "bad.json" in str(info.value)


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"{not json", "not valid JSON"),
        (b'{"format_version": 1, "bookmarks": [{"name": "n", "z": [NaN]}]}', "NaN"),
        (b"\xff\xfe\x00garbage", "not text"),
        (b"[1, 2, 3]", "JSON object"),
    ],
)
def test_unreadable_files(tmp_path, raw, message) -> None:
    path = tmp_path / "broken.json"
    path.write_bytes(raw)
    with pytest.raises(LatentLabError, match=message):
        load_session(path)


def test_missing_file(tmp_path) -> None:
    with pytest.raises(LatentLabError, match="does not exist"):
        load_session(tmp_path / "gone.json")


def test_saving_an_invalid_session_leaves_the_old_file(tmp_path) -> None:
    path = tmp_path / "keep.json"
    save_session(path, _session())
    before = path.read_bytes()
    broken = _session()
    broken.bookmarks.append({"name": "nan", "z": [float("nan"), 0.0, 0.0]})
    with pytest.raises(LatentLabError, match="keep.json"):
        save_session(path, broken)
    assert path.read_bytes() == before


def test_failed_save_is_atomic(tmp_path, monkeypatch) -> None:
    path = tmp_path / "s.json"
    save_session(path, Session(model_hash="one"))
    monkeypatch.setattr(export.os, "replace", lambda src, dst: (_ for _ in ()).throw(OSError(5, "I/O error")))
    with pytest.raises(LatentLabError, match="I/O error"):
        save_session(path, _session())
    assert load_session(path).model_hash == "one"
    assert os.listdir(tmp_path) == ["s.json"]


def test_save_to_missing_folder(tmp_path) -> None:
    with pytest.raises(LatentLabError, match="does not exist"):
        save_session(tmp_path / "nope" / "s.json", Session())


def test_check_model_warns_only_when_the_hash_changed() -> None:
    session = _session()
    assert check_model(session, "abc123") is None
    warning = check_model(session, "def456")
    assert warning is not None and "models/mnist-vae" in warning and "changed" in warning
    assert check_model(Session(), "anything") is None
