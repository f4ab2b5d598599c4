"""The latent tools inside the main window: docks, plane overlays, Shift+click, drops.

:class:`WindowTools` is built when a session is attached (the tools need torch, the
window shell must not). It owns one :class:`~latentlab.gui.tools.ToolsController` over
the session, puts its panels in dock widgets tabbed with the loss curves, draws the
path and the attribute arrow on the plane and follows the probe. Exports and sessions
are in :mod:`latentlab.gui.window.window_exports`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPointF, Qt, QTimer
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QDockWidget, QInputDialog, QWidget

from latentlab.core.errors import LatentLabError
from latentlab.gui.tools import (
    AttributePanel,
    BookmarksPanel,
    InterpolationPanel,
    ToolsController,
    TraversalPanel,
)
from latentlab.gui.tools.data_browser import DataBrowserPanel
from latentlab.gui.window.window_panels import scrolling
from latentlab.gui.window.window_exports import WindowExports

if TYPE_CHECKING:
    from latentlab.gui.window.main_window import MainWindow
    from latentlab.gui.session import Session

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
CLICK_SLOP_PX = 4   # a press and release this close together is a click, not a drag


def _ask_bookmark_name(parent: QWidget, default: str) -> str | None:
    """Ask for a bookmark's name; None if cancelled."""
    name, ok = QInputDialog.getText(parent, "Bookmark the probe", "Name:", text=default)
    return name if ok else None


class WindowTools(QObject):
    """Latent tools wired into ``window`` over ``session`` (see the module doc)."""

    def __init__(self, window: MainWindow, session: Session) -> None:
        super().__init__(window)
        self.window, self.session = window, session
        self._moving_probe = False        # the tools are moving the probe themselves
        self._press_pos: QPointF | None = None
        self._shift_click = False
        self._dim = session.latent_dim
        self.controller = ToolsController(
            encode=session.encode_images, decode=session.decode_z, plane=lambda: session.plane,
            item_image=self._item_image, codes=lambda: session.codes, labels=self._labels,
            class_names=self._class_names, probe_z=self._probe_z, set_probe_z=self._set_probe_z,
            selected_index=window.plane.selected, parent=self)
        self._build_panels()
        self.docks = self._build_docks()
        self.exports = WindowExports(self)
        self._connect()

    # -- what the controller sees -------------------------------------------------------
    def _item_image(self, index: int) -> np.ndarray:
        data = self.session.data
        if data is None or not 0 <= index < len(data):
            raise LatentLabError(f"There is no data item {index}.")
        return data.images[index].numpy()

    def _labels(self) -> np.ndarray | None:
        data = self.session.data
        return None if data is None or data.labels is None else data.labels.numpy()

    def _class_names(self) -> Sequence[str]:
        data = self.session.data
        return () if data is None else tuple(data.class_names)

    def _count(self) -> int:
        return 0 if self.session.data is None else len(self.session.data)

    def _probe_z(self) -> np.ndarray | None:
        s = self.session
        z = s.probe_z
        if not s.model_ready() or z is None or len(z) != s.latent_dim:
            return None
        return z

    def _set_probe_z(self, z: np.ndarray) -> None:
        self._moving_probe = True
        try:
            self.window.probe.show_z(z)
        finally:
            self._moving_probe = False

    # -- building -----------------------------------------------------------------------
    def _build_panels(self) -> None:
        c = self.controller
        self.interpolation = InterpolationPanel(c)
        self.traversal = TraversalPanel(c, kl_per_dim=self.session.kl_per_dim)
        self.attributes = AttributePanel(c)
        self.bookmarks = BookmarksPanel(c)
        self.browser = DataBrowserPanel(c, count=self._count, image=self._item_image, labels=self._labels,
                                        class_names=self._class_names)

    def _build_docks(self) -> dict[str, QDockWidget]:
        w = self.window
        area = Qt.DockWidgetArea.BottomDockWidgetArea
        panels = (("interpolation", "Interpolation", self.interpolation), ("traversal", "Traversal", self.traversal),
                  ("attributes", "Attributes", self.attributes), ("bookmarks", "Bookmarks", self.bookmarks),
                  ("data", "Data", self.browser))
        docks = {key: w.add_dock(title, f"{key}Dock", scrolling(panel), area) for key, title, panel in panels}
        # A tabbed dock may count as visible while covered: decode the strips when its tab shows.
        docks["traversal"].visibilityChanged.connect(lambda shown: shown and self.traversal.schedule_refresh())
        # Tabbed with the loss curves: one strip of screen, the layout remembered by saveState().
        previous = w.loss_dock
        for dock in docks.values():
            w.tabifyDockWidget(previous, dock)
            previous = dock
        w.loss_dock.raise_()
        return docks

    def _connect(self) -> None:
        c, s, w = self.controller, self.session, self.window
        c.pathChanged.connect(lambda *_: self.draw_path())
        c.arrowChanged.connect(w.plane.set_arrow)
        c.arrowCleared.connect(w.plane.clear_arrow)
        c.waypointsChanged.connect(self._on_waypoints_changed)
        s.codesChanged.connect(self.redraw_overlays)
        s.planeChanged.connect(self.redraw_overlays)
        s.weightsUpdated.connect(c.refresh)
        s.modelChanged.connect(self._on_model_changed)
        s.dataChanged.connect(self._on_data_changed)
        w.probe.probeDecoded.connect(self._on_probe_decoded)
        w.plane.probeReleased.connect(self._on_probe_released)
        w.plane.viewport().installEventFilter(self)
        self.browser.showRequested.connect(w.select_point)

    # -- session -> tools ---------------------------------------------------------------
    def _on_model_changed(self) -> None:
        if self.session.latent_dim != self._dim:
            self._dim = self.session.latent_dim
            self.controller.reset()   # codes of another size mean nothing to this model
        self.controller.refresh()
        self.attributes.refresh_classes()

    def _on_data_changed(self) -> None:
        self.attributes.refresh_classes()
        self.browser.refresh()

    def _on_probe_decoded(self) -> None:
        if not self._moving_probe:
            self.controller.notify_probe_moved()

    def draw_path(self) -> None:
        """Draw the path polyline and its waypoints on the plane (or clear them)."""
        try:
            xy, marks = self.controller.path_xy()
        except Exception:   # a path of another latent size than the plane: nothing sensible to draw
            xy, marks = None, None
        self.window.plane.set_path(xy, marks)

    def redraw_overlays(self) -> None:
        """The plane moved under the path and the arrow: project them again."""
        self.draw_path()
        ends = self.controller.arrow_xy() if self.controller.attribute is not None else None
        if ends is not None:
            self.window.plane.set_arrow(*ends)

    def _on_waypoints_changed(self) -> None:
        n = len(self.controller.waypoints)
        if n:
            self.docks["interpolation"].raise_()

    # -- adding waypoints ---------------------------------------------------------------
    def guard(self, title: str, action: Callable[[], Any]) -> bool:
        """Run ``action``; a LatentLabError becomes an error dialog. True when it worked."""
        try:
            action()
        except LatentLabError as exc:
            self.window.show_error(title, str(exc))
            return False
        return True

    def _added(self) -> None:
        n = len(self.controller.waypoints)
        name = self.controller.waypoints[-1].name if n else ""
        more = " Add one more to make a path." if n == 1 else ""
        self.window.show_status(f"Added {name} to the interpolation path ({n} waypoints).{more}")

    def add_selected(self) -> bool:
        """Add the point selected on the plane to the path (Tools menu)."""
        ok = self.guard("Cannot add the selected point", self.controller.add_selected)
        if ok:
            self._added()
        return ok

    def add_probe(self) -> bool:
        """Add the probe's position to the path (Tools menu)."""
        ok = self.guard("Cannot add the probe", self.controller.add_probe)
        if ok:
            self._added()
        return ok

    def add_clicked_point(self) -> bool:
        """A Shift+click: add the clicked data point, or the clicked spot, to the path."""
        plane = self.window.plane
        index = plane.selected()
        x, y = plane.probe_position()
        if index is not None and np.allclose(self.session.xy[index], (x, y), atol=1e-6):
            ok = self.guard("Cannot add the point", lambda: self.controller.add_item(index))
        else:
            z = self._probe_z()
            if z is None:
                self.window.show_error("Cannot add the point", "Open or train a model first.")
                return False
            ok = self.guard("Cannot add the point",
                            lambda: self.controller.add_waypoint(z, f"point ({x:.2f}, {y:.2f})"))
        if ok:
            self._added()
        return ok

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        # The plane reports clicks without their keys: remember whether Shift was held.
        if isinstance(event, QMouseEvent) and event.button() == Qt.MouseButton.LeftButton:
            if event.type() == QEvent.Type.MouseButtonPress:
                self._press_pos = event.position()
            elif event.type() == QEvent.Type.MouseButtonRelease:
                moved = self._press_pos is not None and (event.position() - self._press_pos).manhattanLength()
                self._shift_click = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier) \
                    and self._press_pos is not None and moved <= CLICK_SLOP_PX
                self._press_pos = None
        return False

    def _on_probe_released(self, *_: float) -> None:
        if self._shift_click:
            self._shift_click = False
            # After the click has finished selecting and decoding the point.
            QTimer.singleShot(0, self.add_clicked_point)

    def add_files(self, paths: Sequence[str]) -> bool:
        """Dropped files: encode the images as waypoints; anything else is refused."""
        if not paths:
            return False
        odd = [p for p in paths if not p.lower().endswith(IMAGE_SUFFIXES) or not os.path.isfile(p)]
        if odd:
            kinds = ", ".join(s.lstrip(".").upper() for s in IMAGE_SUFFIXES[:-1])
            self.window.show_error("Not an image file",
                                   f"“{os.path.basename(odd[0].rstrip(os.sep)) or odd[0]}” is not an image file. "
                                   f"Drop image files ({kinds}) on the window to add them to the "
                                   "interpolation path.")
            return False
        ok = self.interpolation.add_image_files(list(paths))
        if ok:
            self._added()
        return ok

    # -- bookmarks ----------------------------------------------------------------------
    def bookmark_probe(self) -> bool:
        """Ask for a name and bookmark the probe (Tools ▸ Bookmark Probe…)."""
        if self._probe_z() is None:
            self.window.show_error("Cannot bookmark", "Open or train a model first: there is no probe yet.")
            return False
        default = f"Bookmark {len(self.controller.bookmarks) + 1}"
        name = _ask_bookmark_name(self.window, default)
        if name is None:
            return False
        if not self.bookmarks.add(name.strip() or default):
            return False
        self.docks["bookmarks"].raise_()
        self.window.show_status(f"Bookmarked the probe as “{self.controller.bookmarks[-1].name}”.")
        return True
