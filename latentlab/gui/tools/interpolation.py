"""The interpolation panel: waypoints, the decoded path, a scrubber, playback, export.

:class:`InterpolationPanel` (objectName ``"interpolationPanel"``) is a view of a
:class:`~latentlab.gui.tools.tools_controller.ToolsController`: the list shows its
waypoints, the strip its decoded frames, and moving the scrubber (``"pathScrubber"``),
clicking a frame or playing sends the probe along the path. Image files dropped on the
panel, picked with "Add images…" or passed to :meth:`InterpolationPanel.add_image_files`
(for files dropped on the main window) are encoded and appended as waypoints.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMenu,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from latentlab.core.errors import LatentLabError
from latentlab.gui.views import dialogs
from latentlab.gui.tools import export_dialogs
from latentlab.gui.tools.strip import FrameStrip
from latentlab.gui.tools.tools_controller import ToolsController

METHODS = (("Linear", "lerp"), ("Spherical", "slerp"))
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.webp *.tif *.tiff);;All files (*)"
DEFAULT_FPS = 12
THUMB_MIN, THUMB_MAX = 40, 96   # the strip's thumbnails grow with the dock's height


def _ask_files(parent: QWidget | None) -> list[str]:
    """Ask for image files to add as waypoints (empty if cancelled)."""
    paths, _ = QFileDialog.getOpenFileNames(parent, "Add images as waypoints", "", IMAGE_FILTER)
    return list(paths)


class InterpolationPanel(QWidget):
    """Build a path through waypoints, scrub or play it, and export it (see module doc)."""

    def __init__(self, controller: ToolsController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("interpolationPanel")
        self.setAcceptDrops(True)
        self.controller = controller
        self._direction = 1   # +1 forwards, -1 backwards (ping-pong)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._advance)
        # Waypoints on the left, the path on the right, every control in two rows: a low
        # dock (about 180 pixels at 1024 x 700) shows them all without scrolling.
        outer = QHBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        outer.addLayout(self._build_waypoints(), 1)
        layout = QVBoxLayout()
        layout.setSpacing(4)
        outer.addLayout(layout, 3)
        layout.addLayout(self._build_controls())
        self.strip = FrameStrip(thumb_size=THUMB_MIN, grow_to=THUMB_MAX)
        self.strip.frameClicked.connect(self._scrub_to)
        layout.addWidget(self.strip, 1)
        layout.addLayout(self._build_scrubber())
        controller.waypointsChanged.connect(self._refill_list)
        controller.framesChanged.connect(self._show_frames)
        controller.positionChanged.connect(self._show_position)
        self._refill_list()
        self._show_frames(controller.frames())

    # -- layout -----------------------------------------------------------------------
    def _button(self, text: str, slot: Callable[[], None], tip: str = "") -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        button.clicked.connect(slot)
        return button

    def _build_waypoints(self) -> QVBoxLayout:
        column = QVBoxLayout()
        column.setSpacing(4)
        self.waypoint_list = QListWidget()
        self.waypoint_list.setObjectName("waypointList")
        self.waypoint_list.setToolTip("The path visits these codes in order. Shift+click points on the plane, "
                                      "or drop image files here, to add them.")
        self.waypoint_list.setMinimumHeight(40)
        column.addWidget(self.waypoint_list, 1)
        # Short words after one "Add" label: the dock must fit beside the training panel on a
        # 1024-pixel-wide screen without a scroll bar.
        self.add_selected_button = self._button("Selected", self._add_selected,
                                                "Add the data point selected on the plane (encoded)")
        self.add_probe_button = self._button("Probe", self._add_probe, "Add the probe's position")
        self.add_files_button = self._button("Images…", self._add_files, "Add image files (encoded)")
        self.remove_button = self._button("Remove", self._remove, "Remove the chosen waypoint")
        self.up_button = self._button("Up", lambda: self._move(-1), "Visit the chosen waypoint earlier")
        self.down_button = self._button("Down", lambda: self._move(1), "Visit the chosen waypoint later")
        self.clear_button = self._button("Clear", lambda: self.controller.clear_waypoints(), "Remove every waypoint")
        for buttons in ((self.add_selected_button, self.add_probe_button, self.add_files_button),
                        (self.remove_button, self.up_button, self.down_button, self.clear_button)):
            row = QHBoxLayout()
            row.setSpacing(2)
            if buttons[0] is self.add_selected_button:
                row.addWidget(QLabel("Add"))
            for b in buttons:
                row.addWidget(b)
            row.addStretch(1)
            column.addLayout(row)
        return column

    def _build_controls(self) -> QHBoxLayout:
        """Steps and method of the path, Play and its speed, in one row."""
        row = QHBoxLayout()
        row.addWidget(QLabel("Steps:"))
        self.steps_spin = QSpinBox()
        self.steps_spin.setObjectName("pathSteps")
        self.steps_spin.setToolTip("Frames between two waypoints")
        self.steps_spin.setRange(1, 200)
        self.steps_spin.setValue(self.controller.steps)
        self.steps_spin.valueChanged.connect(lambda n: self._guard(lambda: self.controller.set_steps(n)))
        row.addWidget(self.steps_spin)
        self.method_combo = QComboBox()
        self.method_combo.setObjectName("pathMethod")
        for text, method in METHODS:
            self.method_combo.addItem(text, method)
        self.method_combo.setToolTip("Spherical keeps codes at a typical distance from the centre")
        self.method_combo.currentIndexChanged.connect(
            lambda _i: self._guard(lambda: self.controller.set_method(self.method_combo.currentData())))
        row.addWidget(self.method_combo)
        row.addSpacing(8)
        self.play_button = QToolButton()
        self.play_button.setText("Play")
        self.play_button.setMinimumWidth(self.play_button.fontMetrics().horizontalAdvance("Pause") + 16)
        self.play_button.setObjectName("pathPlay")
        self.play_button.setCheckable(True)
        self.play_button.toggled.connect(self._set_playing)
        row.addWidget(self.play_button)
        self.fps_spin = QSpinBox()
        self.fps_spin.setObjectName("pathFps")
        self.fps_spin.setRange(1, 60)
        self.fps_spin.setValue(DEFAULT_FPS)
        self.fps_spin.setSuffix(" fps")
        self.fps_spin.setToolTip("Frames per second when playing and in exported animations")
        self.fps_spin.valueChanged.connect(lambda fps: self._timer.setInterval(round(1000 / fps)))
        self._timer.setInterval(round(1000 / DEFAULT_FPS))
        row.addWidget(self.fps_spin)
        row.addStretch(1)
        return row

    def _build_scrubber(self) -> QHBoxLayout:
        """The scrubber, looping, and one Export menu (strip, GIF, APNG, codes), in one row."""
        row = QHBoxLayout()
        self.scrubber = QSlider(Qt.Orientation.Horizontal)
        self.scrubber.setObjectName("pathScrubber")
        self.scrubber.setToolTip("Move the probe along the path")
        self.scrubber.setRange(0, 0)
        self.scrubber.valueChanged.connect(self._scrub_to)
        row.addWidget(self.scrubber, 1)
        self.loop_check = QCheckBox("Loop")
        self.loop_check.setChecked(True)
        self.pingpong_check = QCheckBox("Ping-pong")
        self.pingpong_check.setToolTip("Play forwards, then backwards")
        row.addWidget(self.loop_check)
        row.addWidget(self.pingpong_check)
        menu = QMenu(self)
        self.export_strip_action = menu.addAction("Strip PNG…", self._export_strip)
        self.export_strip_action.setToolTip("All frames side by side")
        self.export_gif_action = menu.addAction("GIF…", lambda: self._export_animation(export_dialogs.export_gif))
        self.export_apng_action = menu.addAction("APNG…",
                                                 lambda: self._export_animation(export_dialogs.export_apng))
        self.export_mp4_action = menu.addAction("MP4…", lambda: self._export_animation(export_dialogs.export_mp4))
        self.export_mp4_action.setToolTip("An H.264 video, for players and slides")
        self.export_codes_action = menu.addAction("Codes…", self._export_codes)
        self.export_codes_action.setToolTip("The path's latent codes as a table")
        menu.setToolTipsVisible(True)
        self.export_button = QToolButton()
        self.export_button.setObjectName("pathExport")
        self.export_button.setText("Export")
        self.export_button.setToolTip("Save the path as a strip, an animation or its codes")
        self.export_button.setMenu(menu)
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        row.addWidget(self.export_button)
        return row

    # -- actions ----------------------------------------------------------------------
    def _guard(self, action: Callable[[], object], title: str = "Interpolation") -> bool:
        try:
            action()
        except LatentLabError as exc:
            dialogs.show_error(self, title, str(exc))
            return False
        return True

    def _add_selected(self) -> None:
        self._guard(self.controller.add_selected, "Cannot add the selected point")

    def _add_probe(self) -> None:
        self._guard(self.controller.add_probe, "Cannot add the probe")

    def _add_files(self) -> None:
        paths = _ask_files(self)
        if paths:
            self.add_image_files(paths)

    def add_image_files(self, paths: Sequence[str | os.PathLike[str]]) -> bool:
        """Encode image files and add them as waypoints; an unreadable file shows an error."""
        return self._guard(lambda: self.controller.add_image_files(list(paths)), "Cannot add images")

    def _remove(self) -> None:
        row = self.waypoint_list.currentRow()
        if row >= 0:
            self.controller.remove_waypoint(row)
            self.waypoint_list.setCurrentRow(min(row, self.waypoint_list.count() - 1))

    def _move(self, offset: int) -> None:
        row = self.waypoint_list.currentRow()
        if row >= 0:
            self.waypoint_list.setCurrentRow(self.controller.move_waypoint(row, offset))

    def _scrub_to(self, index: int) -> None:
        # Always send: clicking the current frame brings back a probe dragged elsewhere.
        self.controller.set_position(index)

    # -- controller -> widgets --------------------------------------------------------
    def _refill_list(self) -> None:
        row = self.waypoint_list.currentRow()
        self.waypoint_list.clear()
        self.waypoint_list.addItems([w.name for w in self.controller.waypoints])
        if self.waypoint_list.count():
            self.waypoint_list.setCurrentRow(min(max(row, 0), self.waypoint_list.count() - 1))
        self.up_button.setEnabled(self.waypoint_list.count() > 1)
        self.down_button.setEnabled(self.waypoint_list.count() > 1)
        self._sync_path_options()

    def _sync_path_options(self) -> None:
        # A restored session may bring its own steps and method.
        self.steps_spin.blockSignals(True)
        self.steps_spin.setValue(self.controller.steps)
        self.steps_spin.blockSignals(False)
        self.method_combo.blockSignals(True)
        self.method_combo.setCurrentIndex(max(0, self.method_combo.findData(self.controller.method)))
        self.method_combo.blockSignals(False)

    def _show_frames(self, frames: object) -> None:
        self.strip.set_frames(frames)  # type: ignore[arg-type]
        n = self.strip.count()
        self.scrubber.blockSignals(True)
        self.scrubber.setRange(0, max(0, n - 1))
        self.scrubber.blockSignals(False)
        for w in (self.scrubber, self.play_button, self.export_button, self.export_strip_action,
                  self.export_gif_action, self.export_apng_action, self.export_mp4_action,
                  self.export_codes_action):
            w.setEnabled(n > 0)
        if n == 0:
            self.play_button.setChecked(False)
        self._show_position(self.controller.position())

    def _show_position(self, index: int) -> None:
        self.scrubber.blockSignals(True)
        self.scrubber.setValue(index)
        self.scrubber.blockSignals(False)
        self.strip.set_current(index if self.strip.count() else -1)

    # -- playback ---------------------------------------------------------------------
    def is_playing(self) -> bool:
        """Whether the path is being played."""
        return self._timer.isActive()

    def _set_playing(self, playing: bool) -> None:
        self.play_button.setText("Pause" if playing else "Play")
        if not playing:
            self._timer.stop()
            return
        n = self.strip.count()
        if n == 0:
            self.play_button.setChecked(False)
            return
        at_end = self.controller.position() >= n - 1 and self._direction > 0
        if at_end and not self.pingpong_check.isChecked():
            self.controller.set_position(0)   # play again from the start
        self._timer.start()

    def _advance(self) -> None:
        n = self.strip.count()
        nxt = self.controller.position() + self._direction
        if not 0 <= nxt < n:
            if self.pingpong_check.isChecked() and n > 1 and (self._direction > 0 or self.loop_check.isChecked()):
                self._direction = -self._direction
                nxt = self.controller.position() + self._direction
            elif self.loop_check.isChecked() and n > 1:
                self._direction, nxt = 1, 0
            else:
                self._direction = 1
                self.play_button.setChecked(False)
                return
        self.controller.set_position(nxt)

    # -- export -----------------------------------------------------------------------
    def _export_strip(self) -> None:
        frames = self.controller.frames()
        if frames is not None:
            export_dialogs.export_strip(self, frames)

    def _export_animation(self, export: Callable[..., object]) -> None:
        frames = self.controller.frames()
        if frames is not None:
            export(self, frames, fps=self.fps_spin.value(), loop=self.loop_check.isChecked(),
                   pingpong=self.pingpong_check.isChecked())

    def _export_codes(self) -> None:
        path = self.controller.path()
        if path is not None:
            export_dialogs.export_codes(self, path)

    # -- drag and drop ----------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt override)
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt override)
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.add_image_files(paths)
