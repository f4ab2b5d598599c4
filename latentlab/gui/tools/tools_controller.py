"""The latent tools' state: interpolation path, attribute vector, bookmarks.

:class:`ToolsController` holds no widgets and no model. The host (the application's
controller) hands it plain callables over numpy arrays, so the panels can be tested with a
fake decoder:

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
:meth:`notify_probe_moved`; when the weights change it calls :meth:`refresh`; when another
model becomes current it calls :meth:`adapt_to_model`, which keeps what still fits (a path
of data items or image files is encoded again) and says what it had to drop.
Sessions are saved and restored with :mod:`latentlab.gui.tools.session_io`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PySide6.QtCore import QObject, Signal

from latentlab.core.errors import LatentLabError
from latentlab.core.latent import PATH_METHODS, Plane, apply_attribute, attribute_vector, path_through
from latentlab.gui.tools.attribute_state import Attribute, float_tensor
from latentlab.gui.tools.image_files import as_nchw, load_image_files

Array = np.ndarray
DEFAULT_STEPS = 8


@dataclass
class NamedCode:
    """A latent code with a name: a waypoint ("item 12", "seven.png") or a bookmark.

    A code made by encoding remembers what it encoded (data ``item`` number, or the
    ``image`` ``[C, H, W]`` of a file), so another model can encode it again.
    """

    name: str
    z: Array
    item: int | None = None
    image: Array | None = None

    @property
    def encodable(self) -> bool:
        return self.item is not None or self.image is not None


def _unique_name(prefix: str, items: Sequence[NamedCode]) -> str:
    """``"{prefix} N"`` with the smallest N >= len(items) + 1 that no item uses."""
    taken = {item.name for item in items}
    n = len(items) + 1
    while f"{prefix} {n}" in taken:
        n += 1
    return f"{prefix} {n}"


class ToolsController(QObject):
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
    attributeChanged(object): the chosen :class:`Attribute` (None: none), e.g. restored
        from a session, so a panel can show the classes and the amount.
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
    attributeChanged = Signal(object)
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
        # An attribute kept across a model of another latent size: its vector is computed
        # again once the new model's codes exist.
        self._pending_attribute: tuple[int, int | None, float] | None = None
        self._dim = self.latent_dim()

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

    def _codes_fit(self) -> bool:
        codes, d = self._codes(), self.latent_dim()
        return codes is not None and d > 0 and np.ndim(codes) == 2 and np.shape(codes)[1] == d

    def refresh(self) -> None:
        """The weights or the codes changed: decode the path again and redraw the arrow."""
        if self._path is not None:
            self._rebuild()
        if self._labels() is not None and self._codes_fit():
            if self._pending_attribute is not None:
                to_class, from_class, amount = self._pending_attribute
                self._pending_attribute = None
                try:
                    self.set_attribute(to_class, from_class, amount)
                except LatentLabError:   # the classes are gone from this data set
                    self.clear_attribute()
            elif self.attribute is not None:
                a = self.attribute
                self.attribute = Attribute(a.to_class, a.from_class, self._vector(a.to_class, a.from_class),
                                           a.amount)
                self._emit_arrow()
        self.modelRefreshed.emit()

    def reset(self) -> None:
        """Forget everything."""
        self.waypoints, self.bookmarks = [], []
        self._pending_attribute = None
        self.clear_attribute()
        self._rebuild()
        self.waypointsChanged.emit()
        self.bookmarksChanged.emit()

    def adapt_to_model(self) -> str | None:
        """Another model is current: keep what fits it and say what could not be kept.

        With the same latent size everything stays. With another one, waypoints made by
        encoding (data items, image files) are encoded again with the new model, other codes
        (bookmarks, probe positions) are dropped, and the attribute keeps its classes and
        amount while its vector waits for the new codes. Returns a line for the status bar,
        or None when nothing changed. Without a model (size 0) everything waits as it is.
        """
        dim, old = self.latent_dim(), self._dim
        if dim == 0 or dim == old:
            self._dim = dim or old
            self.modelRefreshed.emit()
            return None
        self._dim = dim
        kept: list[NamedCode] = []
        for w in self.waypoints:
            z = self._encode_again(w)
            if z is not None:
                kept.append(NamedCode(w.name, z, w.item, w.image))
        dropped, lost_bookmarks = len(self.waypoints) - len(kept), len(self.bookmarks)
        self.waypoints, self.bookmarks = kept, []
        a = self.attribute
        if a is not None:
            self._pending_attribute = (a.to_class, a.from_class, a.amount)
        self.attribute = None
        self._base_z = self._applied_z = None
        self.arrowCleared.emit()
        self._rebuild()
        self.waypointsChanged.emit()
        self.bookmarksChanged.emit()
        self.modelRefreshed.emit()
        return _adapt_message(old, dim, len(kept), dropped, lost_bookmarks, self._pending_attribute is not None)

    def _encode_again(self, code: NamedCode) -> Array | None:
        """``code``'s source encoded with the current model, or None when it has none (or is gone)."""
        try:
            if code.item is not None:
                image = np.asarray(self._item_image(int(code.item)))
            elif code.image is not None:
                image = code.image
            else:
                return None
            return np.asarray(self._encode(as_nchw(image[None])), dtype=np.float32)[0]
        except LatentLabError:   # the item is not in this data set, or the model cannot take the image
            return None

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
        self.waypoints[-1].item = int(index)

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
        for path, z, image in zip(paths, codes, images, strict=True):
            self.waypoints.append(NamedCode(os.path.basename(os.fspath(path)), z, image=np.asarray(image)))
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
        self.waypoints = [NamedCode(w.name, np.array(w.z, np.float32).reshape(-1), w.item, w.image) for w in items]
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

    # -- attribute vector ---------------------------------------------------------------
    def has_labels(self) -> bool:
        """Whether the data set has labels (attribute vectors need them)."""
        return self._labels() is not None

    def _vector(self, to_class: int, from_class: int | None) -> Array:
        codes, labels = self._codes(), self._labels()
        if labels is None:
            raise LatentLabError("Attribute vectors need labelled data; this data set has no labels.")
        if codes is None or not self._codes_fit():
            raise LatentLabError("The data set has not been encoded yet; wait for the plane to fill.")
        vec = attribute_vector(float_tensor(codes), torch.as_tensor(np.asarray(labels)), int(to_class),
                               None if from_class is None else int(from_class))
        return vec.numpy()

    def set_attribute(self, to_class: int, from_class: int | None = None, amount: float = 1.0) -> Array:
        """Choose the direction from ``from_class``'s mean (None: all data) to ``to_class``'s."""
        vec = self._vector(to_class, from_class)
        self._pending_attribute = None
        self.attribute = Attribute(int(to_class), None if from_class is None else int(from_class), vec, float(amount))
        # The base stays: re-applying with other classes starts from the same code.
        self._emit_arrow()
        self.attributeChanged.emit(self.attribute)
        return vec.copy()

    def _at_applied(self, z: Array | None) -> bool:
        return (z is not None and self._applied_z is not None and z.shape == self._applied_z.shape
                and np.allclose(z, self._applied_z, atol=1e-6))

    def base_code(self) -> Array | None:
        """The code the attribute starts from: the probe, or the last base while the probe
        still sits where applying put it (so changing the amount never compounds)."""
        z = self.probe_or_none()
        return self._base_z.copy() if self._base_z is not None and self._at_applied(z) else z

    def is_applied(self) -> bool:
        """Whether the probe sits where the attribute put it (the amount then moves it)."""
        return self.attribute is not None and self._at_applied(self.probe_or_none())

    def apply(self, amount: float | None = None) -> Array:
        """Move the probe to ``base + amount * vector`` (see :meth:`base_code`); return it."""
        if self.attribute is None:
            raise LatentLabError("Choose the classes of the attribute first.")
        if amount is not None:
            self.attribute.amount = float(amount)
        base = self.base_code()
        if base is None:
            raise LatentLabError("Open or train a model first: there is no probe to use.")
        vector = float_tensor(self.attribute.vector)
        new = apply_attribute(float_tensor(base), vector, self.attribute.amount).numpy()
        self._base_z, self._applied_z = base, new
        self.move_probe(new)
        return new.copy()

    def arrow_xy(self) -> tuple[Array, Array] | None:
        """The arrow from the base code to base + vector, in plane coordinates (or None)."""
        plane, base = self._plane(), self.base_code()
        a = self.attribute
        if a is None or base is None or plane is None or base.shape != a.vector.shape or plane.dim != base.size:
            return None
        xy = plane.project(float_tensor(np.stack([base, base + a.vector]))).numpy()
        return xy[0], xy[1]

    def _emit_arrow(self) -> None:
        ends = self.arrow_xy()
        if ends is not None:
            self.arrowChanged.emit(*ends)

    def clear_attribute(self) -> None:
        """Forget the attribute direction and hide its arrow."""
        self.attribute = None
        self._pending_attribute = None
        self._base_z = self._applied_z = None
        self.arrowCleared.emit()
        self.attributeChanged.emit(None)

    # -- classes ----------------------------------------------------------------------
    def class_names(self) -> list[str]:
        """Names of the data set's classes (may be empty)."""
        return [str(n) for n in self._class_names()]

    def class_count(self) -> int:
        """Number of classes: the names, or the largest label + 1."""
        names, labels = self.class_names(), self._labels()
        if names:
            return len(names)
        return 0 if labels is None or len(labels) == 0 else int(np.max(labels)) + 1


def _adapt_message(old: int, new: int, kept: int, dropped: int, bookmarks: int, attribute: bool) -> str | None:
    """The status line after a model of another latent size: what was kept, what was dropped."""
    parts = []
    if kept:
        parts.append(f"encoded the {_count(kept, 'path waypoint')} again")
    gone = [text for n, text in ((dropped, _count(dropped, "path waypoint")),
                                 (bookmarks, _count(bookmarks, "bookmark"))) if n]
    if gone:
        parts.append(f"dropped {' and '.join(gone)} (codes of the old model)")
    if attribute:
        parts.append("kept the attribute's classes")
    if not parts:
        return None
    return f"The model has {new} latent dimensions, not {old}: " + "; ".join(parts) + "."


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
