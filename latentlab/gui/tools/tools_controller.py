"""The latent tools' state: interpolation path, attribute vector, bookmarks.

:class:`ToolsController` holds no widgets and no model. The host (the main window) hands
it plain callables over numpy arrays, so the panels can be tested with a fake decoder:

========================  ===============================================================
``encode(images)``        ``[N, C, H, W]`` float in [0, 1] -> codes ``[N, D]``
``decode(codes)``         ``[M, D]`` -> images ``[M, C, H, W]`` in [0, 1] (see :func:`as_nchw`)
``plane()``               the current :class:`~latentlab.core.latent.Plane`, or None
``item_image(i)``         data item ``i`` as ``[C, H, W]`` (or ``H x W (x 3)``)
``codes()``               the data set's codes ``[N, D]`` (or None before encoding)
``labels()``              ``[N]`` int labels, or None for unlabelled data
``class_names()``         names of the classes (may be empty)
``probe_z()``             the probe's code ``[D]``, or None when no model is loaded
``set_probe_z(z)``        move the probe (and decode there)
``selected_index()``      optional: the selected data item, or None
========================  ===============================================================

The maths lives in :mod:`latentlab.core.latent`; this class only keeps the user's choices
and announces changes. When the host moves the probe itself it calls
:meth:`notify_probe_moved`; when the weights change it calls :meth:`refresh`.
Sessions are saved and restored with :mod:`latentlab.gui.tools.session_io`; the
attribute-vector methods are in :mod:`latentlab.gui.tools.attribute_state`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal

from latentlab.core.errors import LatentLabError
from latentlab.core.latent import PATH_METHODS, Plane, path_through
from latentlab.gui.tools.attribute_state import Attribute, AttributeStateMixin, float_tensor
from latentlab.gui.tools.image_files import as_nchw, load_image_files

Array = np.ndarray
DEFAULT_STEPS = 8


@dataclass
class NamedCode:
    """A latent code with a name: a waypoint ("item 12", "seven.png") or a bookmark."""

    name: str
    z: Array


def _unique_name(prefix: str, items: Sequence[NamedCode]) -> str:
    """``"{prefix} N"`` with the smallest N >= len(items) + 1 that no item uses."""
    taken = {item.name for item in items}
    n = len(items) + 1
    while f"{prefix} {n}" in taken:
        n += 1
    return f"{prefix} {n}"


class ToolsController(AttributeStateMixin, QObject):
    """Interpolation, attribute and bookmark state for one model (see the module doc).

    Signals
    -------
    pathChanged(object, object): path codes ``[M, D]`` and waypoints ``[K, D]``, or
        (None, None) when there is no path; :meth:`path_xy` gives plane coordinates.
    framesChanged(object): decoded path frames ``[M, C, H, W]`` (None: no path).
    positionChanged(int): the scrub position on the path.
    waypointsChanged(): the waypoint list changed (names or order).
    arrowChanged(object, object): attribute arrow start and end ``[2]`` in plane coordinates.
    arrowCleared(): no attribute arrow any more.
    bookmarksChanged(): a bookmark was added, renamed or removed.
    probeChanged(object): the probe's code ``[D]`` after a tool or the host moved it.
    modelRefreshed(): the decoder changed; images made earlier are stale.
    """

    pathChanged = Signal(object, object)
    framesChanged = Signal(object)
    positionChanged = Signal(int)
    waypointsChanged = Signal()
    arrowChanged = Signal(object, object)
    arrowCleared = Signal()
    bookmarksChanged = Signal()
    probeChanged = Signal(object)
    modelRefreshed = Signal()

    def __init__(
        self,
        *,
        encode: Callable[[Array], Array],
        decode: Callable[[Array], Array],
        plane: Callable[[], Plane | None],
        item_image: Callable[[int], Array],
        codes: Callable[[], Array | None],
        labels: Callable[[], Array | None],
        class_names: Callable[[], Sequence[str]],
        probe_z: Callable[[], Array | None],
        set_probe_z: Callable[[Array], None],
        selected_index: Callable[[], int | None] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._encode, self._decode, self._plane = encode, decode, plane
        self._item_image, self._codes, self._labels = item_image, codes, labels
        self._class_names, self._probe_z, self._set_probe_z = class_names, probe_z, set_probe_z
        self._selected_index = selected_index
        self.waypoints: list[NamedCode] = []
        self.bookmarks: list[NamedCode] = []
        self.steps = DEFAULT_STEPS
        self.method = "lerp"
        self._path: Array | None = None
        self._frames: Array | None = None
        self._position = 0
        self.attribute: Attribute | None = None
        self._base_z: Array | None = None      # where the probe was when the attribute was applied
        self._applied_z: Array | None = None   # where applying it put the probe

    # -- host callables ---------------------------------------------------------------
    def probe_or_none(self) -> Array | None:
        """The probe's code ``[D]`` (a copy), or None when no model is loaded."""
        z = self._probe_z()
        return None if z is None else np.array(z, dtype=np.float32).reshape(-1)

    def probe(self) -> Array:
        """The probe's code ``[D]`` (a copy); LatentLabError when no model is loaded."""
        z = self.probe_or_none()
        if z is None:
            raise LatentLabError("Open or train a model first: there is no probe to use.")
        return z

    def latent_dim(self) -> int:
        """D of the current model, or 0 when there is none."""
        z = self.probe_or_none()
        return 0 if z is None else z.size

    def decode(self, codes: Array) -> Array:
        """Decode codes ``[M, D]`` with the host's decoder."""
        return as_nchw(self._decode(np.asarray(codes, dtype=np.float32)))

    def move_probe(self, z: Array) -> None:
        """Move the probe to ``z`` ``[D]`` and announce it."""
        z = np.array(z, dtype=np.float32).reshape(-1)
        self._set_probe_z(z)
        self.probeChanged.emit(z)
        self._emit_arrow()

    def notify_probe_moved(self) -> None:
        """The host moved the probe (drag, click): tell the panels."""
        z = self.probe_or_none()
        if z is not None:
            self.probeChanged.emit(z)
            self._emit_arrow()

    def image_shape(self) -> tuple[int, int, int]:
        """The model's image shape ``(C, H, W)``, found by decoding the zero code."""
        return tuple(int(v) for v in self.decode(np.zeros((1, self.latent_dim()), np.float32)).shape[1:])

    def refresh(self) -> None:
        """The weights changed: decode the path again and redraw the arrow."""
        if self._path is not None:
            self._rebuild()
        if self.attribute is not None and self._labels() is not None and self._codes() is not None:
            a = self.attribute
            self.attribute = Attribute(a.to_class, a.from_class, self._vector(a.to_class, a.from_class), a.amount)
            self._emit_arrow()
        self.modelRefreshed.emit()

    def reset(self) -> None:
        """Forget everything (a model with another latent size was opened)."""
        self.waypoints, self.bookmarks = [], []
        self.clear_attribute()
        self._rebuild()
        self.waypointsChanged.emit()
        self.bookmarksChanged.emit()

    # -- waypoints --------------------------------------------------------------------
    def add_waypoint(self, z: Array, name: str) -> None:
        """Append code ``z`` ``[D]`` as a waypoint called ``name``."""
        z = np.array(z, dtype=np.float32).reshape(-1)
        d = self.latent_dim()
        if d and z.size != d:
            raise LatentLabError(f"waypoint '{name}' has {z.size} latent values, the model has {d}")
        self.waypoints.append(NamedCode(str(name), z))
        self._waypoints_edited()

    def add_item(self, index: int) -> None:
        """Encode data item ``index`` and add it as waypoint "item {index}"."""
        z = self._encode(as_nchw(np.asarray(self._item_image(int(index)))[None]))
        self.add_waypoint(np.asarray(z)[0], f"item {int(index)}")

    def add_selected(self) -> None:
        """Add the data item selected on the plane."""
        index = None if self._selected_index is None else self._selected_index()
        if index is None or index < 0:
            raise LatentLabError("Select a point on the plane first, then add it to the path.")
        self.add_item(index)

    def add_probe(self) -> None:
        """Add the probe's position as a waypoint."""
        self.add_waypoint(self.probe(), _unique_name("probe", self.waypoints))

    def add_image_files(self, paths: Sequence[str | os.PathLike[str]]) -> None:
        """Encode image files (resized to the model's input) and add each as a waypoint."""
        if not paths:
            return
        images = load_image_files(paths, self.image_shape())
        codes = np.asarray(self._encode(images), dtype=np.float32)
        for path, z in zip(paths, codes, strict=True):
            self.waypoints.append(NamedCode(os.path.basename(os.fspath(path)), z))
        self._waypoints_edited()

    def remove_waypoint(self, index: int) -> None:
        """Remove waypoint ``index``."""
        del self.waypoints[index]
        self._waypoints_edited()

    def move_waypoint(self, index: int, offset: int) -> int:
        """Move waypoint ``index`` by ``offset`` places (clamped); return its new index."""
        new = min(max(index + offset, 0), len(self.waypoints) - 1)
        if new != index:
            self.waypoints.insert(new, self.waypoints.pop(index))
            self._waypoints_edited()
        return new

    def clear_waypoints(self) -> None:
        """Remove every waypoint."""
        self.waypoints = []
        self._waypoints_edited()

    def set_waypoints(self, items: Sequence[NamedCode], steps: int, method: str) -> None:
        """Replace the whole path at once (a restored session)."""
        self.waypoints = [NamedCode(w.name, np.array(w.z, np.float32).reshape(-1)) for w in items]
        self.steps, self.method = int(steps), str(method)
        self._waypoints_edited()

    def _waypoints_edited(self) -> None:
        self._rebuild()
        self.waypointsChanged.emit()

    # -- the path ---------------------------------------------------------------------
    def set_steps(self, steps: int) -> None:
        """New codes between two waypoints (0 or more)."""
        if int(steps) != self.steps:
            self.steps = int(steps)
            self._rebuild()

    def set_method(self, method: str) -> None:
        """``"lerp"`` (straight line) or ``"slerp"`` (great circle)."""
        if method not in PATH_METHODS:
            raise LatentLabError(f"unknown path method '{method}' (choose from {', '.join(PATH_METHODS)})")
        if method != self.method:
            self.method = method
            self._rebuild()

    def path(self) -> Array | None:
        """Path codes ``[M, D]``, or None without waypoints."""
        return None if self._path is None else self._path.copy()

    def frames(self) -> Array | None:
        """Decoded path frames ``[M, C, H, W]``, or None."""
        return None if self._frames is None else self._frames.copy()

    def waypoint_codes(self) -> Array | None:
        """Waypoints ``[K, D]``, or None."""
        return np.stack([w.z for w in self.waypoints]) if self.waypoints else None

    def path_xy(self) -> tuple[Array | None, Array | None]:
        """Plane coordinates of the path ``[M, 2]`` and waypoints ``[K, 2]`` (None, None without)."""
        plane = self._plane()
        if self._path is None or plane is None:
            return None, None
        return (plane.project(float_tensor(self._path)).numpy(),
                plane.project(float_tensor(self.waypoint_codes())).numpy())

    def _rebuild(self) -> None:
        if not self.waypoints:
            self._path = self._frames = None
            self._position = 0
            self.pathChanged.emit(None, None)
            self.framesChanged.emit(None)
            return
        self._path = path_through(float_tensor(self.waypoint_codes()), self.steps, self.method).numpy()
        self._frames = self.decode(self._path)
        self._position = min(self._position, len(self._path) - 1)
        self.pathChanged.emit(self._path.copy(), self.waypoint_codes())
        self.framesChanged.emit(self._frames.copy())

    def position(self) -> int:
        """Index of the path code the probe was last sent to."""
        return self._position

    def set_position(self, index: int, move_probe: bool = True) -> None:
        """Scrub: move the probe to path code ``index`` (clamped to the path).

        ``move_probe=False`` only marks the position (restoring a session).
        """
        if self._path is None:
            return
        self._position = min(max(int(index), 0), len(self._path) - 1)
        if move_probe:
            self.move_probe(self._path[self._position])
        self.positionChanged.emit(self._position)

    # -- bookmarks --------------------------------------------------------------------
    def add_bookmark(self, name: str | None = None) -> int:
        """Bookmark the probe's position (default name "Bookmark N"); return its index."""
        z = self.probe()
        self.bookmarks.append(NamedCode(str(name or _unique_name("Bookmark", self.bookmarks)), z))
        self.bookmarksChanged.emit()
        return len(self.bookmarks) - 1

    def rename_bookmark(self, index: int, name: str) -> None:
        """Rename bookmark ``index``; a blank name is refused."""
        if not name.strip():
            raise LatentLabError("A bookmark needs a name; type at least one character.")
        self.bookmarks[index].name = name.strip()
        self.bookmarksChanged.emit()

    def remove_bookmark(self, index: int) -> None:
        """Delete bookmark ``index``."""
        del self.bookmarks[index]
        self.bookmarksChanged.emit()

    def jump_to_bookmark(self, index: int) -> None:
        """Move the probe to bookmark ``index``."""
        self.move_probe(self.bookmarks[index].z)

    def set_bookmarks(self, items: Sequence[NamedCode]) -> None:
        """Replace every bookmark (a restored session)."""
        self.bookmarks = [NamedCode(b.name, np.array(b.z, np.float32).reshape(-1)) for b in items]
        self.bookmarksChanged.emit()

    def class_names(self) -> list[str]:
        """Names of the data set's classes (may be empty)."""
        return [str(n) for n in self._class_names()]

    def class_count(self) -> int:
        """Number of classes: the names, or the largest label + 1."""
        names, labels = self.class_names(), self._labels()
        if names:
            return len(names)
        return 0 if labels is None or len(labels) == 0 else int(np.max(labels)) + 1
