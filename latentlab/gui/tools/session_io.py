"""Turn the tools' state into a core session and back.

The host saves with :func:`collect_session` + :func:`latentlab.core.session_file.save_session`
and opens with :func:`~latentlab.core.session_file.load_session` (showing
:func:`~latentlab.core.session_file.check_model`'s warning) + :func:`apply_session`.

The path record carries one extra key the core format leaves open, ``"waypoint_names"``,
so waypoints keep the names they were shown with. Classes are written by index and read
by index or name.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from latentlab.core.errors import LatentLabError
from latentlab.core.session_file import Session
from latentlab.gui.tools.tools_controller import NamedCode, ToolsController

PATH_NAME = "Path"


def collect_session(
    controller: ToolsController, model_path: str, model_hash: str, plane_dict: dict[str, Any] | None = None
) -> Session:
    """A :class:`Session` holding the controller's bookmarks, path and attribute."""
    bookmarks = [{"name": b.name, "z": [float(v) for v in b.z]} for b in controller.bookmarks]
    paths = []
    if controller.waypoints:
        paths.append({
            "name": PATH_NAME,
            "waypoints": [[float(v) for v in w.z] for w in controller.waypoints],
            "waypoint_names": [w.name for w in controller.waypoints],
            "steps": int(controller.steps),
            "method": controller.method,
        })
    attributes = []
    a = controller.attribute
    if a is not None:
        names = controller.class_names()

        def label(k: int | None) -> str:
            return "all data" if k is None else (names[k] if 0 <= k < len(names) else str(k))

        attributes.append({"name": f"{label(a.from_class)} → {label(a.to_class)}",
                           "from": a.from_class, "to": a.to_class, "amount": float(a.amount)})
    return Session(model_path=str(model_path), model_hash=str(model_hash), bookmarks=bookmarks,
                   paths=paths, plane=dict(plane_dict or {}), attributes=attributes,
                   extra={"path_position": controller.position()})


def _class_index(value: Any, names: list[str], count: int) -> int:
    if isinstance(value, str):
        if value in names:
            return names.index(value)
        raise LatentLabError(f"the session names class '{value}', which this data set does not have")
    k = int(value)
    if not 0 <= k < max(count, 1):
        raise LatentLabError(f"the session uses class {k}, but this data set has {count} classes")
    return k


def _check_dims(session: Session, dim: int) -> None:
    lengths = {len(b["z"]) for b in session.bookmarks}
    lengths |= {len(w) for p in session.paths for w in p["waypoints"]}
    wrong = sorted(n for n in lengths if n != dim)
    if wrong:
        raise LatentLabError(
            f"the session's codes have {wrong[0]} latent values but the model has {dim}: "
            "open the model the session was made with")


def apply_session(controller: ToolsController, session: Session) -> None:
    """Restore bookmarks, the first path and the first attribute from ``session``.

    The probe is not moved. An attribute that the current data cannot supply (no labels,
    an unknown class) raises LatentLabError after bookmarks and the path are restored.
    """
    dim = controller.latent_dim()
    if dim == 0:
        raise LatentLabError("Open the model first, then the session that belongs to it.")
    _check_dims(session, dim)
    controller.set_bookmarks([NamedCode(b["name"], np.asarray(b["z"], np.float32)) for b in session.bookmarks])
    if session.paths:
        p = session.paths[0]
        names = p.get("waypoint_names")
        if not (isinstance(names, list) and len(names) == len(p["waypoints"])
                and all(isinstance(n, str) for n in names)):
            names = [f"waypoint {k + 1}" for k in range(len(p["waypoints"]))]
        controller.set_waypoints([NamedCode(n, np.asarray(w, np.float32)) for n, w in zip(names, p["waypoints"])],
                                 p["steps"], p["method"])
        position = session.extra.get("path_position", 0)
        if isinstance(position, int) and not isinstance(position, bool):
            controller.set_position(position, move_probe=False)
    else:
        controller.clear_waypoints()
    controller.clear_attribute()
    if session.attributes:
        a = session.attributes[0]
        names, count = controller.class_names(), controller.class_count()
        from_class = None if a["from"] is None else _class_index(a["from"], names, count)
        controller.set_attribute(_class_index(a["to"], names, count), from_class, float(a["amount"]))
