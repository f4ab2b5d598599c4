"""The stream view's logic: a long series scored window by window and played through the plane.

:class:`StreamController` opens a series (a ``.csv`` file, or the procedural stream with
injected anomalies), scales it as the model's data was scaled, and has the inference worker
score it with :func:`latentlab.core.scoring.score_series` (each window's code and
reconstruction error; never on the GUI thread). The codes are drawn on the plane as a path
through time (:class:`~latentlab.gui.views.stream_view.StreamOverlay`), the errors beneath
(:class:`~latentlab.gui.views.stream_view.StreamPanel`) with a threshold: windows above it are
anomalies, marked on both. A head plays (a timer, a chosen number of windows a second) or
scrubs: it puts the probe on the current window's code, so the decoded view shows the
reconstruction, and draws the window itself beneath it. With Follow, rows appended to the file
(:class:`~latentlab.gui.tools.stream_follow.FileFollower`) are scaled the same way and their new
windows scored in the worker, extending the path and the curve; the head follows the newest.

The host gives plain callables (:class:`StreamHost`), so this needs no controller and no window.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer

from latentlab.core.data.series import standardise
from latentlab.core.data.series_tail import SeriesTail
from latentlab.core.errors import LatentLabError
from latentlab.core.scoring import WindowScores
from latentlab.gui.tools.stream_follow import FileFollower
from latentlab.gui.views.stream_view import DEFAULT_SPEED, StreamOverlay, StreamPanel

#: The procedural stream opened by File ▸ Open Procedural Stream.
DEMO_LENGTH = 6000
DEMO_ANOMALIES = 12
DEMO_SEED = 1
#: The default threshold: this many robust standard deviations (1.4826 · MAD) above the median error.
THRESHOLD_SIGMAS = 6.0
SCALED_KINDS = ("series", "stream")


@dataclass(frozen=True)
class StreamHost:
    """What the stream view needs from the application, as plain callables.

    ``model()`` the model on screen (GUI thread) or None; ``state()`` a detached copy of its
    weights for background jobs; ``plane()`` the plane on screen; ``data_source()`` the current
    data set's recorded source (its scaling applies to a series); ``set_probe_code(z)`` puts the
    probe on a code; ``submit(kind, job, on_result, on_error)`` the inference worker's;
    ``show_reference(array | None)`` draws a window beneath the decoded output;
    ``show_error(title, text)`` and ``show_status(text)`` speak to the person.
    """

    model: Callable[[], Any]
    state: Callable[[], Any]
    plane: Callable[[], Any]
    data_source: Callable[[], Mapping[str, Any] | None]
    set_probe_code: Callable[[np.ndarray], None]
    submit: Callable[..., Any]
    show_reference: Callable[[np.ndarray | None], None]
    show_error: Callable[[str, str], None]
    show_status: Callable[[str], None]


def score_job(config: Any, state: Any, series: np.ndarray, stride: int, offset: int):
    """A worker job: the windows of ``series`` scored, their starts counted from ``offset``."""
    def job(should_stop: Callable[[], bool]) -> WindowScores | None:
        from latentlab.core import inference
        from latentlab.core.scoring import score_series

        model = inference.model_from_state(config, state)
        scores = score_series(model, series, stride, should_stop=should_stop)
        if scores is None:
            return None
        return replace(scores, starts=scores.starts + offset)

    return job


def _project(plane: Any, codes: np.ndarray) -> np.ndarray:
    """Plane coordinates ``[N, 2]`` of codes ``[N, D]``."""
    import torch

    return plane.project(torch.from_numpy(np.array(codes, dtype=np.float32))).numpy()


def default_threshold(errors: np.ndarray) -> float:
    """Median plus :data:`THRESHOLD_SIGMAS` robust deviations (outliers barely move it)."""
    e = np.asarray(errors, np.float64)
    if len(e) == 0:
        return 0.0
    median = float(np.median(e))
    spread = 1.4826 * float(np.median(np.abs(e - median)))
    return median + THRESHOLD_SIGMAS * spread if spread > 0 else float(e.max()) * 1.01 + 1e-12


class StreamController(QObject):
    """Opens, scores, plays and follows a series (see the module doc)."""

    def __init__(self, host: StreamHost, panel: StreamPanel, overlay: StreamOverlay,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.host, self.panel, self.overlay = host, panel, overlay
        self._generation = 0
        self._model: Any = None           # the model the series was opened for
        self._name = ""
        self._scale: tuple[Any, Any] | None = None   # (center, scale) applied to the raw values
        self._series = np.zeros((0, 0), np.float32)  # scaled, every row so far
        self._window, self._stride = 0, 1
        self._starts = np.zeros(0, np.int64)
        self._codes = np.zeros((0, 0), np.float32)
        self._errors = np.zeros(0, np.float32)
        self._peaks = np.zeros(0, np.float32)
        self._score = "error"             # which score the plot and the threshold use: "error" or "peak"
        self._threshold: float | None = None
        self._head = 0
        self._head_code: np.ndarray | None = None
        self._plane: Any = None
        self._tail: SeriesTail | None = None
        self._follower: FileFollower | None = None
        self._handles: dict[str, Any] = {}
        self._more = False                # rows arrived while a follow job ran
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._tick)
        self.set_speed(DEFAULT_SPEED)
        panel.playRequested.connect(self.set_playing)
        panel.speedRequested.connect(self.set_speed)
        panel.headRequested.connect(self.set_head)
        panel.thresholdRequested.connect(self.set_threshold)
        panel.followRequested.connect(self.set_following)
        panel.scoreRequested.connect(self.set_score)
        panel.strideRequested.connect(self.set_stride)

    # ---------------------------------------------------------------- what is shown
    @property
    def scores(self) -> WindowScores:
        """Every window scored so far."""
        return WindowScores(starts=self._starts.copy(), codes=self._codes.copy(), errors=self._errors.copy(),
                            peaks=self._peaks.copy())

    @property
    def head(self) -> int:
        return self._head

    @property
    def threshold(self) -> float | None:
        return self._threshold

    @property
    def series(self) -> np.ndarray:
        """The scaled series (every row read so far) ``[T, F]``."""
        return self._series

    def is_open(self) -> bool:
        return self._model is not None

    def is_following(self) -> bool:
        return self._follower is not None and self._follower.is_active()

    def values(self) -> np.ndarray:
        """``[N]``: the score of every window that the plot shows and the threshold applies to."""
        return self._peaks if self._score == "peak" else self._errors

    def anomalous(self) -> np.ndarray:
        """``[N]``: the windows whose score is above the threshold."""
        if self._threshold is None:
            return np.zeros(len(self._errors), bool)
        return self.values() > self._threshold

    def set_score(self, score: str) -> None:
        """Plot and threshold the mean squared error of each window (``"error"``) or its worst
        step (``"peak"``: a short spike that barely moves the mean stands out). The threshold
        starts again from its default for that score."""
        if score not in ("error", "peak"):
            raise ValueError(f"unknown score {score!r}")
        self._score = score
        if len(self._starts) == 0:
            return
        self._threshold = default_threshold(self.values())
        self.panel.set_scores(self._starts, self.values())
        self._show_threshold()
        self._describe_head()

    def window(self, index: int) -> np.ndarray:
        """Window ``index`` of the scaled series ``[T, F]``."""
        start = int(self._starts[index])
        return self._series[start:start + self._window]

    # ---------------------------------------------------------------- opening
    def _checked_model(self) -> Any:
        model = self.host.model()
        if model is None or not getattr(model, "fitted", True):
            raise LatentLabError("Open or train a sequence model first (a Stream autoencoder suits a long series).")
        caps = model.config.capabilities
        if caps.output != "sequence" or not caps.encoder:
            raise LatentLabError(f"A series is scored by a sequence model with an encoder (e.g. stream-ae); the "
                                 f"model on screen is a {model.config.family} model of "
                                 f"{'images' if caps.output == 'image' else caps.output + 's'}.")
        return model

    def _scaling(self) -> tuple[Any, Any] | None:
        """The scaling of the model's training series (recorded in its file), else of the data on
        screen, when it is a scaled series (``series`` or ``stream``); else the values stay raw."""
        source = self.host.data_source() or {}
        if source.get("kind") in SCALED_KINDS and source.get("center") is not None:
            return source.get("center"), source.get("scale")
        return None

    def _stride_for(self, window: int) -> int:
        stride = (self.host.data_source() or {}).get("stride")
        ok = isinstance(stride, int) and not isinstance(stride, bool) and stride >= 1
        return stride if ok else max(1, window // 4)

    def open_series(self, path: str) -> bool:
        """Open a ``.csv`` series and score it with the model on screen.

        The file is read and scored by the inference worker (a long file does not hold up the
        window); what is wrong with it is said in a dialog and in the panel. False when it
        cannot even start (no sequence model on screen).
        """
        def read(config: Any) -> tuple[np.ndarray, SeriesTail | None]:
            tail = SeriesTail(path)
            values = tail.read()
            names = tuple(config.feature_names)
            if not tail.names:
                raise LatentLabError(f"{path}: the file is empty; it needs a header row and one row per time step")
            if names and tail.names != names:
                raise LatentLabError(f"{path}: columns {', '.join(tail.names)} differ from the model's "
                                     f"{', '.join(names)}")
            if len(tail.names) != config.input_shape[1]:
                raise LatentLabError(f"{path}: {len(tail.names)} columns; the model reads {config.input_shape[1]}")
            return values, tail

        return self._open("Cannot open the series", Path(path).name, read)

    def open_procedural(self, length: int = DEMO_LENGTH, anomalies: int = DEMO_ANOMALIES,
                        seed: int = DEMO_SEED) -> bool:
        """Open the procedural stream (with injected anomalies) with as many channels as the model reads.

        A model trained on the ``stream`` source gets a stream of the same system (the same
        normal behaviour), scaled as its training stream was.
        """
        from latentlab.core.data.sequences import MAX_CHANNELS, procedural_stream

        source = self.host.data_source() or {}
        system = source.get("system", 0) if source.get("kind") == "stream" else 0

        def read(config: Any) -> tuple[np.ndarray, SeriesTail | None]:
            channels = int(config.input_shape[1])
            if channels > MAX_CHANNELS:
                raise LatentLabError(f"the procedural stream has at most {MAX_CHANNELS} channels; the model reads "
                                     f"{channels}")
            values, _ = procedural_stream(length, channels, seed=seed, anomalies=anomalies, system=int(system))
            return values, None

        return self._open("Cannot open the stream", f"procedural stream ({anomalies} injected anomalies)", read)

    def _open(self, title: str, name: str, read: Callable[[Any], tuple[np.ndarray, SeriesTail | None]]) -> bool:
        try:
            model = self._checked_model()
        except LatentLabError as exc:
            self.host.show_error(title, str(exc))
            return False
        self.close()
        config, state = model.config, self.host.state()
        window = int(config.input_shape[0])
        stride, scaling = self._stride_for(window), self._scaling()
        self._model, self._name, self._window, self._stride = model, name, window, stride
        self.panel.set_series(f"{name} · reading…", followable=False)
        self.panel.set_stride(stride, window)
        self.panel.show_message("Reading and scoring the windows…")

        def job(should_stop: Callable[[], bool]) -> tuple[Any, ...] | None:
            # On the worker: nothing here touches a widget or the GUI's model.
            values, tail = read(config)
            used = scaling
            if used is None and tail is None:   # the procedural stream for a model of unscaled data
                scaled, center, spread = standardise(values)
                used = (center, spread)
            else:
                scaled = self._scaled(values, used, name)
            if len(scaled) < window:
                raise LatentLabError(f"{name} has {len(scaled)} rows, fewer than one window of {window} steps")
            scores = score_job(config, state, scaled, stride, 0)(should_stop)
            return None if scores is None else (scaled, tail, used, scores)

        generation = self._generation

        def loaded(result: tuple[Any, ...] | None) -> None:
            self._handles.pop("stream", None)
            if generation == self._generation and result is not None:
                self._series, self._tail, self._scale, scores = result
                self.panel.set_series(self._title(), followable=self._tail is not None)
                self._on_scored(scores)

        def failed(message: str) -> None:
            self._handles.pop("stream", None)
            if generation == self._generation:
                self.close(message)
                self.host.show_error(title, message)

        self._handles["stream"] = self.host.submit("stream", job, on_result=loaded, on_error=failed)
        return True

    @staticmethod
    def _scaled(values: np.ndarray, scaling: tuple[Any, Any] | None, where: str) -> np.ndarray:
        if scaling is None:
            return np.ascontiguousarray(values, np.float32)
        return standardise(values, scaling[0], scaling[1], where)[0]

    def _title(self) -> str:
        f = self._series.shape[1]
        return f"{self._name} · {f} channel{'s' if f != 1 else ''} · windows of {self._window} steps"

    def close(self, message: str = "") -> None:
        """Forget the series: stop playing and following, clear the plot, the path and the reference."""
        self._generation += 1
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()
        self._stop_following()
        self._timer.stop()
        was_open = self._model is not None
        self._model, self._tail, self._threshold = None, None, None
        self._series = np.zeros((0, 0), np.float32)
        self._starts = np.zeros(0, np.int64)
        self._codes = np.zeros((0, 0), np.float32)
        self._errors = np.zeros(0, np.float32)
        self._peaks = np.zeros(0, np.float32)
        self._head, self._more = 0, False
        self.overlay.clear()
        self.panel.clear(message)
        if was_open and self._head_code is not None:
            self._head_code = None
            self.host.show_reference(None)

    # ---------------------------------------------------------------- scoring
    def _submit(self, kind: str, start: int, on_result: Callable[[WindowScores | None], None]) -> None:
        generation = self._generation

        def deliver(result: WindowScores | None) -> None:
            self._handles.pop(kind, None)
            if generation == self._generation and result is not None:
                on_result(result)

        def failed(message: str) -> None:
            self._handles.pop(kind, None)
            if generation == self._generation:
                self.panel.show_message(message)
                self.host.show_error("Could not score the series", message)

        job = score_job(self._model.config, self.host.state(), self._series[start:], self._stride, start)
        self._handles[kind] = self.host.submit(kind, job, on_result=deliver, on_error=failed)

    def set_stride(self, stride: int) -> None:
        """Score the series again with windows ``stride`` steps apart; the head stays near its step."""
        stride = int(stride)
        if self._model is None or len(self._starts) == 0 or not 1 <= stride <= self._window:
            self.panel.set_stride(self._stride, max(self._window, 1))   # nothing to score again yet
            return
        if stride == self._stride:
            return
        near = int(self._starts[self._head])
        follow = self._handles.pop("stream-follow", None)
        if follow is not None:
            follow.cancel()
        self._stride, self._more = stride, False
        self.panel.set_stride(stride, self._window)
        self.panel.show_message("Scoring the windows…")
        self._submit("stream", 0, lambda scores: self._on_scored(scores, near))

    def _on_scored(self, scores: WindowScores, near: int | None = None) -> None:
        self._starts, self._codes = scores.starts.astype(np.int64), scores.codes
        self._errors, self._peaks = scores.errors, scores.peaks
        self._threshold = default_threshold(self.values())
        self.panel.show_message("")
        self.panel.set_scores(self._starts, self.values())
        self.replot()
        self._show_threshold()
        if self.is_following():
            self.set_head(len(self._starts) - 1)
        else:
            self.set_head(0 if near is None else int(np.argmin(np.abs(self._starts - near))))
        self.host.show_status(f"Scored {len(self._starts):,} windows of {self._name}; "
                              f"{int(self.anomalous().sum())} above the threshold.")
        if self._more:
            self._score_new()

    # ---------------------------------------------------------------- the plane
    def replot(self) -> None:
        """Project the codes on the plane on screen (again, after the plane changed)."""
        plane = self.host.plane()
        self._plane = plane
        if plane is None or len(self._codes) == 0:
            self.overlay.clear()
            return
        xy = _project(plane, self._codes)
        self.overlay.set_path(xy)
        self.overlay.set_anomalies(xy[self.anomalous()])
        self.overlay.set_head_index(self._head)

    def path_xy(self) -> np.ndarray:
        """The plane coordinates of every window's code ``[N, 2]`` (what the path draws)."""
        plane = self.host.plane()
        if plane is None or len(self._codes) == 0:
            return np.zeros((0, 2), np.float32)
        return _project(plane, self._codes)

    def on_scene(self, scene: Any) -> None:
        """A new scene: another model closes the series; another plane moves the path."""
        if self._model is None:
            return
        model = self.host.model()
        if model is not self._model:
            self.close("The model on screen changed: open the series again to score it with this model.")
            return
        if self.host.plane() is not self._plane:
            self.replot()

    def on_probe(self, probe: Any) -> None:
        """The probe moved: once it has left the head's code, the window drawn under it goes."""
        code = self._head_code
        if code is None:
            return
        z = getattr(probe, "z", None)
        if not getattr(probe, "exact", False) or z is None or not np.array_equal(np.asarray(z), code):
            self._head_code = None
            self.host.show_reference(None)

    # ---------------------------------------------------------------- the head
    def set_head(self, index: int) -> None:
        """Move the head to window ``index``: the probe on its code, the window drawn beneath."""
        n = len(self._starts)
        if n == 0:
            return
        index = int(min(max(index, 0), n - 1))
        self._head = index
        self._describe_head()
        if self.host.plane() is not self._plane:
            self.replot()   # the path must be on the plane on screen before the head moves along it
        self.overlay.set_head_index(index)
        code = np.array(self._codes[index], np.float32)
        self._head_code = code
        self.host.set_probe_code(code)
        self.host.show_reference(self.window(index))

    def _describe_head(self) -> None:
        index, n = self._head, len(self._starts)
        start, value = int(self._starts[index]), float(self.values()[index])
        flag = " · anomaly" if self._threshold is not None and value > self._threshold else ""
        self.panel.set_head(index, f"window {index + 1:,} of {n:,} · step {start:,} · {self._score} {value:.3g}{flag}")

    def set_playing(self, playing: bool) -> None:
        """Play (the head moves on at the chosen speed) or pause."""
        playing = bool(playing) and len(self._starts) > 0
        if playing and self._head >= len(self._starts) - 1 and not self.is_following():
            self.set_head(0)   # Play at the end starts over
        if playing:
            self._timer.start()
        else:
            self._timer.stop()
        self.panel.set_playing(playing)

    def is_playing(self) -> bool:
        return self._timer.isActive()

    def set_speed(self, windows_per_second: float) -> None:
        self._timer.setInterval(max(1, round(1000.0 / max(float(windows_per_second), 0.1))))

    def _tick(self) -> None:
        if self._head < len(self._starts) - 1:
            self.set_head(self._head + 1)
        elif not self.is_following():
            self.set_playing(False)   # the end; while following, the next window may come

    # ---------------------------------------------------------------- threshold
    def set_threshold(self, value: float) -> None:
        """Windows with an error above ``value`` are anomalies."""
        if not np.isfinite(value):
            return
        self._threshold = float(value)
        self._show_threshold()
        if 0 <= self._head < len(self._starts):
            self._describe_head()   # it says whether the head's window is an anomaly

    def _show_threshold(self) -> None:
        if self._threshold is None:
            return
        anomalous = self.anomalous()
        self.panel.set_threshold(self._threshold, anomalous)
        plane = self.host.plane()
        if plane is not None and len(self._codes):
            self.overlay.set_anomalies(_project(plane, self._codes[anomalous]))

    # ---------------------------------------------------------------- following a file
    def set_following(self, on: bool) -> None:
        """Follow the file: read rows appended to it and score their windows as they come."""
        if not on or self._tail is None:
            self._stop_following()
            self.panel.set_following(False)
            return
        if self.is_following():
            return
        self._follower = FileFollower(self._tail, parent=self)
        self._follower.rowsAppended.connect(self._on_rows)
        self._follower.failed.connect(self._on_follow_failed)
        self.panel.set_following(True)
        self.panel.show_message("")
        self._follower.start()

    def poll(self) -> int:
        """Read the followed file now (rows appended since the last read); how many rows came."""
        return 0 if self._follower is None else self._follower.poll()

    def _stop_following(self) -> None:
        if self._follower is not None:
            self._follower.stop()
            self._follower.deleteLater()
            self._follower = None

    def _on_rows(self, values: np.ndarray) -> None:
        try:
            scaled = self._scaled(values, self._scale, self._name)
        except LatentLabError as exc:
            self._on_follow_failed(str(exc))
            return
        self._series = np.concatenate([self._series, scaled])
        self._score_new()

    def _next_start(self) -> int:
        return int(self._starts[-1]) + self._stride if len(self._starts) else 0

    def _score_new(self) -> None:
        if "stream-follow" in self._handles or "stream" in self._handles:
            self._more = True   # scored when the running job is done
            return
        start = self._next_start()
        if len(self._series) - start >= self._window:
            self._more = False
            self._submit("stream-follow", start, self._on_more_scored)

    def _on_more_scored(self, scores: WindowScores) -> None:
        keep = scores.starts >= self._next_start()   # never the same window twice
        self._starts = np.concatenate([self._starts, scores.starts[keep].astype(np.int64)])
        self._codes = np.concatenate([self._codes, scores.codes[keep]])
        self._errors = np.concatenate([self._errors, scores.errors[keep]])
        self._peaks = np.concatenate([self._peaks, scores.peaks[keep]])
        self.panel.set_scores(self._starts, self.values())
        self.replot()
        self._show_threshold()
        if self.is_following():
            self.set_head(len(self._starts) - 1)
        if self._more:
            self._score_new()

    def _on_follow_failed(self, message: str) -> None:
        self._stop_following()
        self.panel.set_following(False)
        self.panel.show_message(f"Stopped following: {message}")
        self.host.show_status(f"Stopped following the series: {message.splitlines()[0]}")
