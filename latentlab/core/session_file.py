"""A saved exploration session: bookmarks, paths, the plane and attribute vectors.

The file is JSON with ``"format_version": 1``. It refers to the model by path and content
hash rather than embedding it, so a session stays small; :func:`check_model` warns when
the model at that path has changed since the session was saved.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

from latentlab.core.atomic_file import atomic_write
from latentlab.core.errors import LatentLabError
from latentlab.core.latent import PATH_METHODS, Plane
from latentlab.core.safe_io import load_json, read_capped

FORMAT_VERSION = 1
#: Sessions are a few kB; anything near this is not one.
MAX_SESSION_BYTES = 64 * 1024**2
_FIELDS = ("model_path", "model_hash", "bookmarks", "paths", "plane", "attributes", "extra")


@dataclass
class Session:
    """What a user built while exploring one model.

    Attributes
    ----------
    model_path, model_hash:
        Where the model was and its content hash when the session was saved.
    bookmarks:
        ``{"name": str, "z": [float, ...]}`` each.
    paths:
        ``{"name": str, "waypoints": [[float, ...], ...], "steps": int, "method": "lerp" | "slerp"}``.
    plane:
        :meth:`Plane.to_dict` output, or a short description such as ``{"kind": "dims",
        "i": 0, "j": 1}``; empty for the default view.
    attributes:
        ``{"name": str, "from": class or None, "to": class, "amount": float}`` where a
        class is its index or name.
    extra:
        Free JSON-able settings (view rectangle, colours, ...).
    """

    model_path: str = ""
    model_hash: str = ""
    bookmarks: list[dict[str, Any]] = field(default_factory=list)
    paths: list[dict[str, Any]] = field(default_factory=list)
    plane: dict[str, Any] = field(default_factory=dict)
    attributes: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form including ``format_version``."""
        d: dict[str, Any] = {"format_version": FORMAT_VERSION}
        d.update({name: getattr(self, name) for name in _FIELDS})
        return d


# -- validation ------------------------------------------------------------------------


class _Invalid(Exception):
    """One problem inside the file; the caller adds the file name."""


def _is_number(v: Any) -> bool:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:  # a JSON integer too large for a float
        return False


def _expect(cond: bool, message: str) -> None:
    if not cond:
        raise _Invalid(message)


def _vector(v: Any, where: str) -> list[float]:
    _expect(isinstance(v, list) and len(v) > 0, f"{where} must be a non-empty list of numbers")
    _expect(all(_is_number(x) for x in v), f"{where} must contain only finite numbers")
    return [float(x) for x in v]


def _name(item: dict[str, Any], where: str) -> str:
    _expect(isinstance(item.get("name"), str), f"{where} needs a text 'name'")
    return item["name"]


def _record(item: Any, where: str, keys: set[str]) -> dict[str, Any]:
    _expect(isinstance(item, dict), f"{where} must be an object")
    missing = keys - set(item)
    _expect(not missing, f"{where} lacks {', '.join(sorted(missing))}")
    return item


def _check_bookmark(item: Any, where: str) -> list[int]:
    _record(item, where, {"name", "z"})
    _name(item, where)
    return [len(_vector(item["z"], f"{where} 'z'"))]


def _check_path(item: Any, where: str) -> list[int]:
    _record(item, where, {"name", "waypoints", "steps", "method"})
    _name(item, where)
    wps = item["waypoints"]
    _expect(isinstance(wps, list) and len(wps) > 0, f"{where} 'waypoints' must be a non-empty list")
    steps = item["steps"]
    _expect(isinstance(steps, int) and not isinstance(steps, bool) and steps >= 0,
            f"{where} 'steps' must be a whole number of 0 or more")
    _expect(item["method"] in PATH_METHODS, f"{where} 'method' must be one of {', '.join(PATH_METHODS)}")
    return [len(_vector(w, f"{where} waypoint {k + 1}")) for k, w in enumerate(wps)]


def _check_attribute(item: Any, where: str) -> list[int]:
    _record(item, where, {"name", "from", "to", "amount"})
    _name(item, where)

    def is_class(v: Any) -> bool:
        return isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool))

    _expect(is_class(item["to"]), f"{where} 'to' must be a class index or name")
    _expect(item["from"] is None or is_class(item["from"]), f"{where} 'from' must be a class, or null for the mean")
    _expect(_is_number(item["amount"]), f"{where} 'amount' must be a finite number")
    return []


def _check_plane(plane: Any) -> list[int]:
    _expect(isinstance(plane, dict), "'plane' must be an object")
    if "basis" not in plane and "origin" not in plane:
        return []  # a description such as {"kind": "pca"}: nothing numeric to check
    try:
        return [Plane.from_dict(plane).dim]
    except LatentLabError as exc:
        raise _Invalid(f"'plane' is not valid: {exc}") from None


def _validate(d: Any) -> Session:
    _expect(isinstance(d, dict), "the file must hold a JSON object")
    version = d.get("format_version")
    _expect(version is not None, "it has no 'format_version', so it is not a LatentLab session")
    _expect(version == FORMAT_VERSION,
            f"it has format version {version!r}; this LatentLab reads version {FORMAT_VERSION}")
    unknown = set(d) - set(_FIELDS) - {"format_version"}
    _expect(not unknown, f"unknown entries: {', '.join(sorted(unknown))}")
    for key in ("model_path", "model_hash"):
        _expect(isinstance(d.get(key, ""), str), f"'{key}' must be text")
    for key in ("plane", "extra"):
        _expect(isinstance(d.get(key, {}), dict), f"'{key}' must be an object")
    dims: list[int] = []
    checks = (("bookmarks", "bookmark", _check_bookmark), ("paths", "path", _check_path),
              ("attributes", "attribute", _check_attribute))
    for key, label, check in checks:
        items = d.get(key, [])
        _expect(isinstance(items, list), f"'{key}' must be a list")
        for k, item in enumerate(items):
            dims += check(item, f"{label} {k + 1}")
    dims += _check_plane(d.get("plane", {}))
    # Codes of different lengths cannot belong to one model.
    _expect(len(set(dims)) <= 1, f"its codes have different lengths ({', '.join(map(str, sorted(set(dims))))})")
    return Session(**{key: d[key] for key in _FIELDS if key in d})


# -- files -----------------------------------------------------------------------------


def save_session(path: str | os.PathLike[str], session: Session) -> None:
    """Write ``session`` as JSON, atomically. An invalid session raises LatentLabError."""
    d = session.to_dict()
    try:
        _validate(json.loads(json.dumps(d, allow_nan=False)))
        text = json.dumps(d, indent=2, allow_nan=False)
    except (_Invalid, TypeError, ValueError) as exc:
        raise LatentLabError(f"cannot save session '{os.fspath(path)}': {exc}") from None
    data = (text + "\n").encode("utf-8")
    atomic_write(path, lambda f: f.write(data))


def load_session(path: str | os.PathLike[str]) -> Session:
    """Read and check a session file; any problem raises LatentLabError naming the file."""
    p = os.fspath(path)
    if not os.path.exists(p):
        raise LatentLabError(f"session file '{p}' does not exist")
    where = f"session file '{p}'"
    # Size and nesting depth are bounded before parsing: a hostile file is one clear line.
    d = load_json(read_capped(p, MAX_SESSION_BYTES, where), where, allow_nan=False)
    try:
        return _validate(d)
    except _Invalid as exc:
        raise LatentLabError(f"session file '{p}': {exc}") from None


def check_model(session: Session, current_hash: str) -> str | None:
    """A warning to show when the model's content differs from the one the session was made with."""
    if not session.model_hash or session.model_hash == current_hash:
        return None
    where = f" at '{session.model_path}'" if session.model_path else ""
    return (
        f"The model{where} has changed since this session was saved; "
        "bookmarks, paths and attribute vectors may now decode to different images."
    )
