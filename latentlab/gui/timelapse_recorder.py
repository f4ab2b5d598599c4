"""The training time-lapse in the window: one frame per snapshot while "Record time-lapse" is ticked.

Each frame is what :mod:`latentlab.core.timelapse` draws: the data on the latent plane beside
what the decoder makes of the probe (the probe's code as it was when the snapshot came), with
the epoch and step as a caption. :class:`FrameRenderer` renders them on its own thread, so the
GUI thread only hands over the snapshot it already has; at most one snapshot waits (a newer one
replaces it), and the frames are kept as PNG bytes. A long run keeps at most :data:`MAX_FRAMES`:
past that, every other frame is dropped and only every other snapshot is taken from then on,
so the whole run stays evenly sampled.

When the run ends the person is asked where to save it (MP4 or GIF, chosen by the name);
cancelling keeps the frames, and File ▸ Export ▸ Training Time-lapse… saves them later (until
the next recorded run). Writing is atomic (:mod:`latentlab.core.video`, :func:`latentlab.core.export.write_gif`).
"""

from __future__ import annotations

import io
import math
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QApplication, QFileDialog

from latentlab.core.errors import LatentLabError
from latentlab.core.timelapse import FORMATS, MAX_GIF_FRAMES, Timelapse, gif_frame
from latentlab.gui.views import dialogs

__all__ = ["FPS", "MAX_FRAMES", "FrameRenderer", "TimelapseRecorder", "write_timelapse"]

MAX_FRAMES = 1200          # ~1-2 MB of PNG per 40 frames: a bounded memory cost however long the run
PANEL_PX = 256             # each half of a frame (plane, decoded probe)
POINTS = 1000              # data points drawn per frame
FPS = 8.0
FILE_FILTER = "MP4 video (*.mp4);;GIF animation (*.gif)"
NO_FRAMES = ("There is no time-lapse yet. Tick “Record time-lapse” under the training controls, "
             "then train: a frame is taken at every snapshot of the weights.")


def write_timelapse(path: str | os.PathLike[str], frames: list[bytes], fps: float = FPS) -> int:
    """Write PNG-encoded frames as ``.mp4`` or ``.gif`` (atomically); returns the frames written.

    A GIF holds at most :data:`~latentlab.core.timelapse.MAX_GIF_FRAMES`: longer recordings are
    evenly thinned to fit (an MP4 keeps them all).
    """
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise LatentLabError(f"a time-lapse is saved as {' or '.join(FORMATS)}, not '{Path(path).name}'")
    if not frames:
        raise LatentLabError(NO_FRAMES)

    def pixels(data: bytes) -> np.ndarray:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("RGB"))

    if suffix == ".mp4":
        from latentlab.core.video import write_mp4

        return write_mp4(path, (pixels(f) for f in frames), fps)
    from latentlab.core.export import write_gif

    stride = max(1, math.ceil(len(frames) / MAX_GIF_FRAMES))
    chosen = [gif_frame(pixels(f)) for f in frames[::stride]]
    write_gif(path, chosen, fps)
    return len(chosen)


class FrameRenderer:
    """Renders snapshots into PNG frames on one background thread (see the module doc)."""

    def __init__(self, timelapse: Timelapse, max_frames: int = MAX_FRAMES) -> None:
        self.timelapse = timelapse
        self.max_frames = max(2, int(max_frames))
        self.frames: list[bytes] = []
        self.error: str | None = None
        self._stride = 1
        self._seen = 0
        self._skipped: tuple[Any, ...] | None = None   # the latest snapshot the stride passed over
        self._pending: tuple[Any, ...] | None = None
        self._closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name="timelapse-frames", daemon=True)
        self._thread.start()

    def offer(self, state: dict[str, torch.Tensor], probe: np.ndarray | None, caption: str) -> None:
        """A new snapshot: it becomes a frame unless a newer one comes before the thread is free."""
        with self._cond:
            self._seen += 1
            job = (state, probe, caption)
            if (self._seen - 1) % self._stride:
                self._skipped = job
                return
            self._skipped = None
            self._pending = job
            self._cond.notify()

    def finish(self, timeout_s: float = 10.0) -> list[bytes]:
        """Frame the last snapshot if the stride skipped it, wait for the thread, return the frames."""
        with self._cond:
            if self._skipped is not None and self._pending is None:
                self._pending, self._skipped = self._skipped, None
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout_s)
        with self._cond:
            return list(self.frames)

    def count(self) -> int:
        with self._cond:
            return len(self.frames)

    def _loop(self) -> None:
        torch.set_num_threads(1)   # per thread; training has the other cores
        while True:
            with self._cond:
                while self._pending is None and not self._closed:
                    self._cond.wait()
                if self._pending is None:
                    return
                job, self._pending = self._pending, None
            state, probe, caption = job
            try:
                if probe is not None and len(probe) == self.timelapse.config.latent_dim:
                    self.timelapse.probe = np.asarray(probe, np.float32)
                px = self.timelapse.frame(state, caption)
                buf = io.BytesIO()
                Image.fromarray(px).save(buf, format="PNG", compress_level=1)
            except Exception as exc:  # noqa: BLE001 - a frame that cannot be drawn is reported, not fatal
                with self._cond:
                    self.error = f"{type(exc).__name__}: {exc}"
                continue
            with self._cond:
                self.frames.append(buf.getvalue())
                if len(self.frames) > self.max_frames:
                    self.frames = self.frames[::2]
                    self._stride *= 2


class TimelapseRecorder(QObject):
    """Records the time-lapse of a training run for ``window`` (see the module doc).

    ``training`` is the controller's :class:`~latentlab.gui.training_run.TrainingRun`;
    ``model()``, ``data()`` and ``probe_z()`` give the model being trained (its GUI copy), its
    data and the probe's code. ``ask_path()`` (a file name or None) may be replaced by tests.
    """

    def __init__(self, window: Any, training: Any, *, model: Callable[[], Any], data: Callable[[], Any],
                 probe_z: Callable[[], np.ndarray | None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.window = window
        self.check = window.training_panel.timelapse_check
        self._model, self._data, self._probe_z = model, data, probe_z
        self.renderer: FrameRenderer | None = None
        self.frames: list[bytes] = []
        self.ask_path: Callable[[], str | None] = self._ask_path
        self._run_id: int | None = None
        self._run: Any = None
        training.model.runChanged.connect(self._on_run)
        training.snapshotReady.connect(self._on_snapshot)
        self.check.toggled.connect(self._on_toggled)
        window.closing.connect(self.shutdown)

    @property
    def recording(self) -> bool:
        return self.renderer is not None and self.check.isChecked()

    # -- the run ----------------------------------------------------------------------
    def _on_run(self, run: Any) -> None:
        previous, self._run = self._run, run
        if run.status == "running" and run.run_id != self._run_id:
            self._run_id = run.run_id
            if self.check.isChecked():
                self._begin()
        elif run.status == "idle" and previous is not None and previous.status != "idle" \
                and run.run_id == self._run_id and self.renderer is not None:
            self._end_of_run()

    def _on_toggled(self, on: bool) -> None:
        run = self._run
        if on and self.renderer is None and run is not None and run.status != "idle":
            self._begin()   # ticked while training: record from the next snapshot

    def _begin(self) -> None:
        model, data = self._model(), self._data()
        if model is None or data is None:
            return
        try:
            # Only its frame renderer is used (nothing is written before close(), never called):
            # the frames go to memory here and to a file when the person chooses one.
            timelapse = Timelapse("timelapse.gif", model.config, data, size=PANEL_PX, points=POINTS, fps=FPS)
        except LatentLabError as exc:
            self.window.show_status(f"No time-lapse for this run: {exc}")
            return
        self.frames = []
        self.renderer = FrameRenderer(timelapse)

    def _caption(self) -> str:
        run = self._run
        p = getattr(run, "progress", None)
        if p is None:
            return "start"
        return f"epoch {p.epoch + run.epoch_offset}  step {p.step}"

    def _on_snapshot(self, state: dict[str, torch.Tensor]) -> None:
        if self.recording:
            self.renderer.offer(state, self._probe_z(), self._caption())

    def _end_of_run(self) -> None:
        renderer, self.renderer = self.renderer, None
        self.frames = renderer.finish()
        if renderer.error:
            self.window.show_error("Time-lapse frames were lost", f"Some frames could not be drawn: {renderer.error}")
        if self.frames:
            # After the window has shown the run's end: the question comes once the signal is through.
            QTimer.singleShot(0, self.export)

    def shutdown(self) -> None:
        """The window is closing: stop the frame thread (what it holds is dropped)."""
        renderer, self.renderer = self.renderer, None
        if renderer is not None:
            renderer.finish(timeout_s=2.0)

    # -- saving -----------------------------------------------------------------------
    def frame_count(self) -> int:
        """Frames recorded: of the run being recorded, else of the last recorded run."""
        return self.renderer.count() if self.renderer is not None else len(self.frames)

    def export(self) -> str | None:
        """Ask for a file and write the last recorded run's time-lapse; the path, or None."""
        if self.renderer is not None:
            self.window.show_error("Still recording", "The time-lapse is saved when training ends; stop "
                                   "training first to save it now.")
            return None
        if not self.frames:
            self.window.show_error("No time-lapse", NO_FRAMES)
            return None
        path = self.ask_path()
        if not path:
            self.window.show_status(f"The time-lapse ({len(self.frames)} frames) is kept until the next recorded "
                                    "run: File ▸ Export ▸ Training Time-lapse… saves it.")
            return None
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            written = write_timelapse(path, self.frames)
        except LatentLabError as exc:
            self.window.show_error("Could not save the time-lapse", str(exc))
            return None
        finally:
            QApplication.restoreOverrideCursor()
        self.window.show_status(f"Saved the training time-lapse ({written} frames) to {path}")
        return path

    def _ask_path(self) -> str | None:
        path, chosen = QFileDialog.getSaveFileName(self.window, "Save the training time-lapse", "timelapse.mp4",
                                                   FILE_FILTER, options=QFileDialog.Option.DontConfirmOverwrite)
        if not path:
            return None
        if not path.lower().endswith(FORMATS):
            path += ".gif" if "gif" in chosen.lower() else ".mp4"
        if os.path.exists(path) and not dialogs.confirm_overwrite(self.window, path):
            return None
        return path
