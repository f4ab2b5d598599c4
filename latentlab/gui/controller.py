"""The application's controller: it owns the model, the data, the GUI state and the workers.

It answers the window's requests (open, save, train, move the probe, export, ...). It
writes the :class:`~latentlab.gui.state.Scene` (what the plane shows) and the
:class:`~latentlab.gui.state.Probe`; the :class:`~latentlab.gui.state.Run` is written by
the :class:`~latentlab.gui.training_run.TrainingRun` it owns, as are the exports
(:mod:`latentlab.gui.exports`) and the latent tools' state. The window receives the values;
the tools' :class:`~latentlab.gui.tools.ToolsController` reads them through callables.

Threads (see the architecture notes): the training worker owns the model being trained and
hands out weight snapshots; the controller owns an *inference copy* on the GUI thread (eval
mode, CPU) that decodes the probe through :mod:`latentlab.core.inference`. Encoding the
whole data set runs in the inference worker with its own model built from a detached copy
of the weights; its handle brings the codes back to the controller alone.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PySide6.QtCore import QObject
from superqt.utils import qthrottled

from latentlab.core import inference, render, train_process
from latentlab.core.adapters import save_refusal
from latentlab.core.data.dataset import Dataset
from latentlab.core.device import cpu_state
from latentlab.core.errors import LatentLabError
from latentlab.core.models.base import LatentModel
from latentlab.core.training_settings import TrainingSettings
from latentlab.gui import manifold as planes
from latentlab.gui import open_model as model_files
from latentlab.gui import placement
from latentlab.gui import settings as prefs
from latentlab.gui.download_dialog import StandardDataFetcher
from latentlab.gui.exports import Exports
from latentlab.gui.following import FollowHost, RunFollowing
from latentlab.gui.manifold import ManifoldController, MosaicInputs, to_display
from latentlab.gui.encode_pacing import DragClock, EncodePacing
from latentlab.gui.frame_pacing import FramePacer
from latentlab.gui.probe_score import ProbeScore
from latentlab.gui.probe_decoder import ProbeDecoder
from latentlab.gui.quality_watch import QualityWatch
from latentlab.gui.realness import RealnessController
from latentlab.gui.state import Probe, ProbeModel, Run, Scene, SceneModel
from latentlab.gui.timelapse_recorder import TimelapseRecorder
from latentlab.gui.tools import ToolsController, apply_session, collect_session
from latentlab.gui.tools.denoise import DenoiseTool
from latentlab.gui.tools.density import DensityOverlay
from latentlab.gui.tools.uses import UsesController
from latentlab.gui.tools.stream import StreamController, StreamHost
from latentlab.gui.training_run import TrainingRun
from latentlab.gui.window.main_window import CANCEL, SAVE, MainWindow
from latentlab.gui.workers import InferenceWorker, JobHandle, describe_exception

log = logging.getLogger(__name__)

# While training, the scatter is encoded again at most this often (the first snapshot at once).
ENCODE_INTERVAL_MS = 1500
# Progress reports redraw the loss plot (~10-20 ms of painting each on a small machine):
# four a second read as live and leave the GUI thread free for the probe.
PROGRESS_INTERVAL_S = 0.25
MAX_ANCHORS = 8
THUMBNAIL_PX = 64       # a drawn sequence in strips, hover thumbnails and sheets
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
_KEEP: Any = object()


def default_training_threads() -> int:
    """Intra-op threads for training in the GUI: all cores but one for the GUI thread."""
    return max(1, (os.cpu_count() or 2) - 1)


def _item_image(data: Dataset, index: int) -> np.ndarray:
    """Data item ``index`` as the model takes it: ``[C, H, W]`` float in [0, 1] (or ``[T, F]``)."""
    if not 0 <= index < len(data):
        raise LatentLabError(f"There is no data item {index}.")
    return data.images[index].numpy()


def _item_picture(data: Dataset, index: int) -> np.ndarray:
    """Data item ``index`` as a picture ``[C, H, W]`` in [0, 1]: a sequence is drawn."""
    item = _item_image(data, index)
    if getattr(data, "kind", "image") != "sequence":
        return item
    spec = render.OutputSpec("sequence", tuple(item.shape), tuple(data.feature_names))
    return render.as_images(item[None], spec, size=THUMBNAIL_PX)[0].numpy()


def _trained_on(record: dict[str, Any] | None, data: Dataset | None) -> str:
    """The name of the data a model was trained on: its record's, else the data on screen's
    when the fingerprints agree (older files record none), else "" (unknown)."""
    record = record or {}
    if record.get("name"):
        return str(record["name"])
    same = data is not None and record.get("fingerprint") is not None and record.get("fingerprint") == data.fingerprint
    return data.name if same else ""


def _config_value(config: Any, key: str) -> Any:
    """A field of a TrainConfig or of its dict (a loaded model keeps the dict)."""
    return config.get(key) if isinstance(config, dict) else getattr(config, key, None)


class AppController(QObject):
    """Answers ``window``'s requests and keeps its views showing the current state.

    ``ask_unsaved(text) -> "save" | "discard" | "cancel"``, ``ask_save_path(name)``,
    ``ask_session_path(save)``, ``ask_yes_no(title, text)`` and ``ask_bookmark_name(default)``
    are the questions it may ask; they default to the window's dialogs and may be replaced
    (tests answer them).
    """

    def __init__(self, window: MainWindow, training_threads: int | None = None,
                 isolate_training: bool | None = None) -> None:
        super().__init__(window)
        # Torch's thread count is per thread (OpenMP). The GUI thread only decodes single
        # points; a team of threads here would fight the trainer for the cores and, after
        # each op, spin-wait on them.
        torch.set_num_threads(1)
        self.window = window
        self.training_threads = training_threads or default_training_threads()
        self.scene_model = SceneModel(self)
        self.probe_model = ProbeModel(self)
        # Training runs in a child process (core.train_process) unless told otherwise.
        self.isolate_training = train_process.wanted() if isolate_training is None else bool(isolate_training)
        self.training = TrainingRun(self, isolated=self.isolate_training)
        self.run_model = self.training.model   # written by the training run alone
        self.inference = InferenceWorker()
        self.quality = QualityWatch(self.training, use_weights=self.use_weights, parent=self)
        self.quality.ask_use_best = window.ask_use_best
        self.ask_unsaved: Callable[[str], str] = window.ask_unsaved
        self.ask_save_path: Callable[[str], str | None] = window.ask_model_save_path
        self.ask_session_path: Callable[[bool], str | None] = window.ask_session_path
        self.ask_yes_no: Callable[[str, str], bool] = window.ask_yes_no
        self.ask_bookmark_name: Callable[[str], str | None] = window.ask_bookmark_name
        self.shutdown_clean = True
        self._model: LatentModel | None = None
        self._model_path: str | None = None
        self._model_key = 0
        self._train_config: Any = None
        self._model_source: Any = None         # the data source recorded in the model's file
        self._model_data: dict[str, Any] | None = None   # the "data" record of what it was trained on
        self._data: Dataset | None = None
        self._data_key = 0
        self._plane: Any = None
        self._plane_kind, self._plane_dims = "pca", (0, 1)
        self._anchors: list[int] = []          # selected items, most recent last (the three-point plane)
        self._codes: np.ndarray | None = None
        self._errors: np.ndarray | None = None   # per item, when the codes come from inversion
        self._regressors = placement.RegressorCache()
        self._xy: np.ndarray | None = None
        self._layout: Any = None               # the layout key of the last scene with points
        self._latest_state: dict[str, torch.Tensor] | None = None
        self._encoded_state: Any = None        # the weights the codes were (or are being) computed from
        self._encode_handle: JobHandle | None = None
        self._encode_quick = False             # the last placement asked for was a quick one
        self._pending_session: Any = None
        # Snapshots arrive a few times a second; the scatter follows at most every 1.5 s.
        self._encode_soon = qthrottled(self._encode_latest, timeout=ENCODE_INTERVAL_MS, leading=True, parent=self)
        self.drag_clock = DragClock()   # whether the probe is being dragged: one clock for every pace
        # While the probe is dragged, reports and answers wait for the spare time after a frame.
        self.frames = FramePacer(self.drag_clock.dragging, self)
        self.training.pace = self.inference.pace = self.quality.pace = self.frames.call
        self.quality.held = self.drag_clock.dragging   # fewer quality measurements during a drag
        self._encode_pacing = EncodePacing(self._encode_soon.setTimeout, self.drag_clock)   # slower for big data or a drag
        self.decoder = ProbeDecoder(self.probe_model, self._decode_display, self._caption, self)
        self.tools = ToolsController(
            encode=self.encode_images, decode=self.decode_z, plane=lambda: self._plane,
            item_image=self._tool_item_image, codes=lambda: self._codes, labels=self._labels,
            class_names=self._class_names, probe_z=self._probe_code, set_probe_z=self.set_probe_code,
            selected_index=window.plane.selected, parent=self)
        self.manifold = ManifoldController(self.inference, self._mosaic_inputs, self)
        self.denoise = DenoiseTool(model=lambda: self._model, parent=self)
        self.probe_score = ProbeScore(self.inference, state=self._encoded_weights, data=lambda: self._data, parent=self)
        self.probe_score.pace = self.frames.call
        self.following = RunFollowing(FollowHost(
            adopt=self._adopt_followed, load_weights=self._on_snapshot, set_history=self._followed_history,
            show_status=lambda text: self.window.show_status(text, 0),
            show_error=lambda title, text: self.window.show_error(title, text)), self)
        self.realness = RealnessController(self.inference, self._mosaic_inputs, self)
        self.downloads = StandardDataFetcher(window, self)   # the standard data sets, fetched with a dialog
        self.timelapse = TimelapseRecorder(window, self.training, model=lambda: self._model,
                                           data=lambda: self._data, probe_z=self._probe_code, parent=self)
        self.density = DensityOverlay(window.plane, scene=lambda: self.scene, manifold_map=lambda: self.probe_score.map,
                                      submit=self.inference.submit, parent=self)
        self.exports = Exports(window, self.tools, scene=lambda: self.scene, decoded=lambda: self.decoder.last,
                               manifold_mode=lambda: self.manifold.mode)
        self._connect()
        window.install_tools(self.tools, kl_per_dim=self.kl_per_dim, denoise=self.denoise)
        self.uses = UsesController(   # generate a data set, the compression dock, predicted classes
            window, model=lambda: self._model if self.model_ready() else None, state=self.latest_state,
            data=lambda: self._data, train_config=lambda: self._train_config,
            model_hash=self._saved_model_hash, model_name=lambda: self.model_name,
            busy=lambda: self.is_training, submit=self.inference.submit,
            ask_yes_no=lambda title, text: self.ask_yes_no(title, text),
            model_data=lambda: self._model_data, parent=self)
        self.scene_model.sceneChanged.connect(self.uses.show_scene)
        self.decoder.decoded.connect(self.uses.show_decoded)   # the classifier under the probe
        self.stream = StreamController(StreamHost(
            model=lambda: self._model, state=self.latest_state, plane=lambda: self._plane,
            data_source=lambda: self._model_source or (None if self._data is None else self._data.source),
            set_probe_code=self.set_probe_code,
            submit=self.inference.submit, show_reference=self._show_reference, show_error=window.show_error,
            show_status=window.show_status), *window.install_stream(), parent=self)
        self.scene_model.sceneChanged.connect(self.stream.on_scene)
        self.probe_model.probeChanged.connect(self.stream.on_probe)
        window.openSeriesRequested.connect(self.stream.open_series)
        window.openStreamRequested.connect(self.stream.open_procedural)
        window.set_ready(True)
        self._publish_scene()
        self.training.reset()
        self._set_probe(Probe())

    def _connect(self) -> None:
        w, tools = self.window, self.tools
        self.scene_model.sceneChanged.connect(w.show_scene)
        self.probe_model.probeChanged.connect(w.show_probe)
        self.run_model.runChanged.connect(w.show_run)
        self.decoder.decoded.connect(self._on_probe_decoded)
        self.decoder.failed.connect(w.show_status)
        self.manifold.mosaicChanged.connect(w.show_mosaic)
        self.realness.realnessChanged.connect(w.show_realness)
        self.realness.failed.connect(w.show_status)
        self.scene_model.sceneChanged.connect(self.realness.refresh)   # new weights, plane or model
        w.realnessRequested.connect(self.realness.set_enabled)
        w.viewChanged.connect(self.realness.schedule)
        self.training.snapshotReady.connect(self._on_snapshot)
        self.training.snapshotReady.connect(self.realness.refresh)   # after the snapshot is taken in
        self.training.resultReady.connect(self._on_trained)
        self.training.failed.connect(w.show_error)
        self.quality.changed.connect(w.show_quality)
        tools.pathChanged.connect(self._draw_path)
        tools.arrowChanged.connect(self._draw_arrow)
        tools.arrowCleared.connect(self._clear_arrow)
        self.scene_model.sceneChanged.connect(self.denoise.show_scene)
        self.probe_model.probeChanged.connect(self.denoise.show_probe)
        tools.modelRefreshed.connect(self.denoise.weights_changed)
        self.scene_model.sceneChanged.connect(self.probe_score.on_scene)
        self.probe_model.probeChanged.connect(self.probe_score.on_probe)
        self.probe_score.scoreChanged.connect(w.show_probe_score)
        w.openModelRequested.connect(self._open_model_requested)
        w.followRunRequested.connect(self.follow_run)
        w.saveModelRequested.connect(self._save_model_requested)
        w.openDataRequested.connect(self._open_data_requested)
        w.openSessionRequested.connect(self.open_session)
        w.saveSessionRequested.connect(self.save_session)
        w.exportRequested.connect(self.export)
        w.startTrainingRequested.connect(self.start_training)
        w.pauseRequested.connect(self.pause_training)
        w.resumeRequested.connect(self.resume_training)
        w.stopRequested.connect(self.stop_training)
        w.quitRequested.connect(self.quit)
        w.probeMoved.connect(self.move_probe)
        w.probe_dragged = self.drag_clock.dragging   # the side panels wait while the probe moves
        w.pace = self.frames.call
        w.probeReleased.connect(self.release_probe)
        w.pointSelected.connect(self.select_point)
        w.planeRequested.connect(self._plane_requested)
        w.conditionRequested.connect(self.set_condition)
        w.manifoldRequested.connect(self.manifold.set_enabled)
        w.manifoldModeRequested.connect(self.set_manifold_mode)
        w.viewChanged.connect(self.manifold.schedule)
        w.addSelectedRequested.connect(self.add_selected)
        w.addProbeRequested.connect(self.add_probe)
        w.addClickedRequested.connect(self.add_clicked)
        w.bookmarkRequested.connect(self.bookmark_probe)
        w.filesDropped.connect(self.add_files)
        w.compareRequested.connect(self.open_compare)
        w.densityRequested.connect(self.density.set_enabled)
        w.viewChanged.connect(self.density.schedule)
        self.probe_score.scoreChanged.connect(self.density.on_score)
        self.scene_model.sceneChanged.connect(self.density.on_scene)
        w.before_close = self.may_close
        w.save_refusal = lambda: save_refusal(self._model)
        w.closing.connect(self._on_window_closing)

    # -- what is current --------------------------------------------------------------
    @property
    def scene(self) -> Scene:
        return self.scene_model.value

    @property
    def probe(self) -> Probe:
        return self.probe_model.value

    @property
    def run(self) -> Run:
        return self.run_model.value

    @property
    def model(self) -> LatentModel | None:
        """The inference copy (GUI thread, eval mode); None without a model."""
        return self._model

    @property
    def data(self) -> Dataset | None:
        return self._data

    @property
    def model_path(self) -> str | None:
        return self._model_path

    @property
    def model_name(self) -> str:
        if self._model_path:
            return Path(self._model_path).name.removesuffix(".latentlab")
        return "untitled" if self._model is not None else "no model"

    @property
    def latent_dim(self) -> int:
        return 0 if self._model is None else self._model.config.latent_dim

    @property
    def is_training(self) -> bool:
        return self.training.is_training

    def model_ready(self) -> bool:
        """A model exists and can encode and decode (a PCA model must be fitted first)."""
        return self._model is not None and bool(getattr(self._model, "fitted", True))

    def model_fits_data(self) -> bool:
        return self.model_ready() and inference.fits(self._model.config, self._data)

    def _labels(self) -> np.ndarray | None:
        return None if self._data is None or self._data.labels is None else self._data.labels.numpy()

    def _class_names(self) -> tuple[str, ...]:
        return () if self._data is None else tuple(self._data.class_names)

    def _tool_item_image(self, index: int) -> np.ndarray:
        if self._data is None:
            raise LatentLabError("Open a data set first.")
        return _item_image(self._data, index)

    # -- errors and messages ------------------------------------------------------------
    def _report(self, title: str, exc: BaseException) -> None:
        message, user_mistake = describe_exception(exc)
        if not user_mistake:
            log.error("%s", title, exc_info=exc)
            message = f"{message}\n\nSee the log for details."
        self.window.show_error(title, message)

    def _guard(self, title: str, action: Callable[[], Any]) -> bool:
        """Run ``action``; a LatentLabError becomes an error dialog. True when it worked."""
        try:
            action()
        except LatentLabError as exc:
            self.window.show_error(title, str(exc))
            return False
        return True

    # -- publishing state -------------------------------------------------------------------
    def _publish_scene(self) -> None:
        model, data = self._model, self._data
        scene = Scene(
            model_key=self._model_key if model is not None else 0,
            model_name=self.model_name, model_path=self._model_path,
            model_config=None if model is None else model.config,
            model_ready=self.model_ready(), fits_data=self.model_fits_data(),
            data_key=self._data_key if data is not None else 0,
            data_name="" if data is None else data.name,
            trained_on=_trained_on(self._model_data, data),
            data_source=None if data is None else dict(data.source or {}),
            data_size=0 if data is None else len(data),
            item_image=None if data is None else functools.partial(_item_picture, data),
            plane=self._plane, plane_kind=self._plane_kind, plane_dims=self._plane_dims,
            anchors=tuple(self._anchors[-3:]), codes=self._codes, xy=self._xy, labels=self._labels(),
            errors=self._errors,
            class_names=self._class_names(),
            axis_names=planes.axis_names(self._plane, self.latent_dim, self._plane_dims),
            output=None if model is None else render.output_spec(model.config))
        self.scene_model.set(scene)

    def _set_probe(self, probe: Probe) -> None:
        self.probe_model.set(probe)

    # -- files ------------------------------------------------------------------------------
    def _confirm_discard(self, action: str) -> bool:
        """Ask before the model on screen (unsaved, or still training) would be lost.

        Save saves it first (asking where), Discard goes on, Cancel stops the action.
        True when the action may go on.
        """
        if not self.is_training and not (self.run.unsaved and self._model is not None):
            return True
        what = ("Training is still running; the model has not been saved" if self.is_training
                else f"The trained model “{self.model_name}” has not been saved")
        answer = self.ask_unsaved(f"{what}. Save it before you {action}?")
        if answer == CANCEL:
            return False
        if answer == SAVE:
            path = self.ask_save_path(self.model_name)
            return bool(path) and self.save_model(path)
        return True

    def _open_model_requested(self, path: str) -> None:
        self.open_model(path)

    def open_model(self, path: str) -> bool:
        """Load a saved model folder (asking first if unsaved work would be lost); its
        recorded data set is loaded too when the data on screen does not fit it."""
        if not self._confirm_discard("open another model"):
            return False
        try:
            from latentlab.gui.open_model import load_model   # a LatentLab model or ONNX graphs

            loaded = load_model(path)
        except Exception as exc:
            self._report("Could not open the model", exc)
            return False
        self.following.stop()
        path = loaded.path
        self.training.shutdown(2000)   # a run of the model being replaced is discarded
        self._show_loaded(loaded, str(path))
        if isinstance(self._model_source, dict):   # the panel's data follows the model's, if it offers it
            self.window.choose_data_in_panel(self._model_source)
        prefs.add_recent_model(str(path))
        self.window.refresh_recent_menu()
        return True

    def _show_loaded(self, loaded: Any, path: str | None) -> None:
        """Put a loaded model on screen, with its recorded data set when the data on screen
        does not fit it."""
        data: Any = _KEEP
        if self._data is None or not inference.fits(loaded.config, self._data):
            source = (loaded.meta.get("data") or {}).get("source")
            if source:
                # Read before anything switches: the model never meets data it cannot take.
                try:
                    data = self._load_data(source, None, "auto", None)
                except Exception as exc:
                    self._report("Could not open the model's data set", exc)
        self._replace(model=loaded.model, data=data, meta=dict(loaded.meta or {}), path=path)

    # -- following a run another process trains (File ▸ Follow Run) ---------------------
    def follow_run(self, folder: str) -> bool:
        """Follow the live run folder ``folder`` (asking first if unsaved work would be lost)."""
        if self.is_training:
            self.window.show_error("Training is running", "Stop the training in this window before "
                                   "following another run.")
            return False
        if not self._confirm_discard("follow a run"):
            return False
        return self.following.follow(folder)

    def _adopt_followed(self, loaded: Any, folder: str) -> None:
        # Shown as a model without a file of its own: Save asks where, never into the run folder.
        self._show_loaded(loaded, None)

    def _followed_history(self, history: list[dict[str, Any]]) -> None:
        self.training.reset(history=tuple(history), unsaved=False)

    def _save_model_requested(self, path: str) -> None:
        if self.save_model(path):
            prefs.add_recent_model(path)
            self.window.refresh_recent_menu()

    def save_model(self, path: str) -> bool:
        """Save the current model as a model folder: its newest weights (the latest training
        snapshot while training runs) with the history of its finished epochs."""
        if self._model is None:
            self.window.show_error("Nothing to save", "Train or open a model first.")
            return False
        if save_refusal(self._model):   # a person's own code: say what can be saved instead
            self.window.show_error("Cannot save this model", save_refusal(self._model) or "")
            return False
        try:
            from latentlab.core.checkpoint import save_model

            save_model(path, self._model, train_config=self._train_config, history=list(self.run.history),
                       data_info=self._model_data or self._data_info())
        except Exception as exc:
            self._report("Could not save the model", exc)
            return False
        self._model_path = str(path)
        self.training.set_unsaved(False)
        self._publish_scene()
        self.window.show_status(f"Saved {path}")
        return True

    def _data_info(self) -> dict[str, Any] | None:
        if self._data is None:
            return None
        from latentlab.core.checkpoint import describe_data

        tc = self._train_config
        return describe_data(self._data, _config_value(tc, "val_fraction"), _config_value(tc, "seed"))

    def _open_data_requested(self, path: str) -> None:
        if self.open_data(path):
            # The person chose this data: the training panel's data choice follows.
            self.window.choose_data_in_panel(self._data.source or {})

    def open_data(self, spec: Any, image_size: int | None = None, color: str = "auto",
                  limit: int | None = None) -> bool:
        """Load a data set (a name, a path or a recorded source dict) and make it current."""
        try:
            data = self._load_data(spec, image_size, color, limit)
        except Exception as exc:
            self._report("Could not open the data set", exc)
            return False
        self.set_data(data)
        return True

    @staticmethod
    def _load_data(spec: Any, image_size: int | None, color: str, limit: int | None) -> Dataset:
        from latentlab.core.data import load_dataset

        return load_dataset(spec, image_size=image_size, color=color, limit=limit)

    def set_manifold_mode(self, mode: str) -> None:
        """Manifold over the view or over the prior; the prior's grid is framed so its cells
        are large enough to read."""
        self.manifold.set_mode(mode)
        if mode == "prior" and self._plane is not None:
            view = self.window.plane
            n = max(2, min(planes.view_cells(view.width(), view.height())))
            view.frame(planes.prior_grid_codes(self._plane, n)[1])

    # -- model and data ---------------------------------------------------------------
    def set_model(self, model: LatentModel | None, meta: dict[str, Any] | None = None,
                  path: str | None = None) -> None:
        """Make ``model`` (moved to the CPU, eval mode) the current model; ``meta`` is its
        saved ``config.json`` (history, training settings), ``path`` its file."""
        self._replace(model=model, meta=meta, path=path)

    def set_data(self, data: Dataset | None) -> None:
        """Make ``data`` the current data set."""
        self._replace(data=data)

    def _replace(self, *, model: Any = _KEEP, data: Any = _KEEP, meta: dict[str, Any] | None = None,
                 path: str | None = None, unsaved: bool = False) -> None:
        """Another model and/or data set: one new scene, never one model's points under another's plane."""
        new_model, new_data = model is not _KEEP, data is not _KEEP
        if self._encode_handle is not None:
            self._encode_handle.cancel()
        self._encode_soon.cancel()
        if new_model:
            meta = meta or {}
            self._pending_session = None   # a session waiting for the old model's codes is not this one's
            self._model = None if model is None else model.to("cpu").eval()
            self._model_key += 1
            self._model_path = path
            self._train_config = meta.get("train")
            self._model_source = (meta.get("data") or {}).get("source") if isinstance(meta.get("data"), dict) else None
            self._model_data = dict(meta["data"]) if isinstance(meta.get("data"), dict) else None
            # Another model has other axes: start again from its PCA view.
            self._plane_kind, self._plane_dims = "pca", (0, 1)
            self._latest_state = None if model is None else cpu_state(self._model)
            self.training.reset(tuple(dict(h) for h in meta.get("history") or [] if isinstance(h, dict)), unsaved)
        if new_data:
            self._data = data
            self._data_key += 1
            self._anchors.clear()
        self._codes = self._xy = self._errors = None
        self._encoded_state = None
        self._plane = None if self._model is None else planes.initial_plane(
            self.latent_dim, self._plane_kind, self._plane_dims)
        self._refit_probe(condition=0 if new_model else None)
        # After the probe has the new latent size, so every tool sees the new model at once.
        adapted = self.tools.adapt_to_model() if new_model else None
        self._publish_scene()
        self.manifold.schedule()
        self._decode_or_clear()
        if adapted:
            self.window.show_status(adapted)
        if new_data and not new_model and self.model_ready() and data is not None and not self.model_fits_data():
            self.window.show_status(inference.incompatibility(self._model.config, data) or "")
        self.request_encode()

    # -- encoding and planes ----------------------------------------------------------
    def request_encode(self, state: dict[str, torch.Tensor] | None = None, quick: bool = False) -> bool:
        """Place the data set in the background (latest request wins): encoded, or found by
        inverting the generator (``quick``: fewer refinement steps, for training snapshots)."""
        if not self.model_fits_data():
            return False
        if state is None:
            state = self.latest_state()
        self._encoded_state = state
        self._encode_quick = quick
        key = (self._model_key, self._data_key)
        cfg = self._model.config
        job = placement.placement_job(cfg, state, self._data, quick=quick,
                                      regressor=self._regressors.get(self._model_key))
        self._encode_handle = self.inference.submit(
            "encode", job, on_result=functools.partial(self._on_codes, key), on_error=self._on_encode_failed,
            on_progress=self._show_placing if placement.by_inversion(cfg) else None)
        return True

    def adopt_placement(self, model: Any, data: Any, placed: placement.Placed | None) -> bool:
        """Show codes placed elsewhere for ``model`` (its weights as loaded) on ``data``: the
        app's start-up encodes the data while this controller is built, so the points come
        sooner. Only while that model and data are current, still untrained and not yet placed;
        the encode their arrival asked for is then dropped. True when adopted."""
        if placed is None or model is not self._model or data is not self._data or self._codes is not None \
                or self.is_training or self._latest_state is not self._encoded_state \
                or len(placed.codes) != len(data):
            return False
        if self._encode_handle is not None:
            self._encode_handle.cancel()
        self._on_codes((self._model_key, self._data_key), placed)
        return self._codes is placed.codes

    def _encoded_weights(self) -> dict[str, torch.Tensor] | None:
        """The weights the scene's codes came from (the off-manifold map reads their variances)."""
        return self._encoded_state if self._encoded_state is not None else self.latest_state()

    def _show_placing(self, done: int, total: int) -> None:
        self.window.show_status(placement.progress_text(done, total), 0)

    def placing(self) -> bool:
        """True while the data are being placed (encoded or inverted) in the background."""
        handle = self._encode_handle
        return handle is not None and not handle.done and handle.is_current()

    def latest_state(self) -> dict[str, torch.Tensor] | None:
        """The newest weights as a detached copy that background jobs may read."""
        if self._latest_state is None and self._model is not None:
            self._latest_state = cpu_state(self._model)
        return self._latest_state

    def _encode_latest(self) -> None:
        if self._latest_state is not None and self._latest_state is not self._encoded_state:
            if self.placing() and self._encode_quick and placement.by_inversion(self._model.config):
                return   # a training-time inversion finishes first; its result asks for the next one
            self.request_encode(self._latest_state, quick=True)

    def _on_encode_failed(self, message: str) -> None:
        self.window.show_error("Background work failed", message)

    def _on_codes(self, key: tuple[int, int], placed: placement.Placed | None) -> None:
        if placed is None or key != (self._model_key, self._data_key) or self._data is None \
                or len(placed.codes) != len(self._data):
            return
        self._codes, self._errors = placed.codes, placed.errors
        self.probe_score.use_posterior(placed.codes, placed.logvars)
        self._encode_pacing.placed(placed.cpu_s)
        if placed.errors is not None:
            self._placed_by_inversion(placed)
        self._refit_plane()
        self._show_new_plane()
        self.tools.refresh()   # the attribute vector follows the codes
        if self._pending_session is not None:
            record, self._pending_session = self._pending_session, None
            self._apply_session(record)

    def _placed_by_inversion(self, placed: placement.Placed) -> None:
        # The regressor the job trained serves the next placements and the GUI's own copy
        # (the tools encode a few items on this thread), and is saved with the model.
        self._regressors.keep(self._model_key, placed)
        placement.adopt_regressor(self._model, placed.regressor)
        if self._latest_state is not self._encoded_state:
            self._encode_soon()   # training moved on while this placement ran
        elif not self.is_training:
            self.window.show_status(placement.placed_text(placed))

    def _refit_plane(self) -> None:
        """Recompute the plane (PCA follows the codes) and the scatter coordinates."""
        if self._model is None or self._codes is None:
            return
        try:
            self._plane = planes.make_plane(self._plane_kind, self._codes, self._plane_dims,
                                            self._anchors[-3:], previous=self._plane)
        except LatentLabError as exc:
            self.window.show_error("Cannot use that plane", str(exc))
            self._plane_kind = "pca"
            self._plane = planes.make_plane("pca", self._codes, self._plane_dims, [], previous=None)
        self._xy = planes.project(self._plane, self._codes)

    def _show_new_plane(self) -> None:
        """Publish the scene after the plane or the codes changed; the probe follows."""
        layout_changed = self._xy is not None and self._layout_key() != self._layout
        self._refit_probe()
        if layout_changed:
            self._layout = self._layout_key()
            self._bring_probe_to_the_data()
        self._publish_scene()
        self.manifold.schedule()
        self._redraw_overlays()
        self.decoder.request()

    def _layout_key(self) -> tuple[Any, ...]:
        anchors = tuple(self._anchors[-3:]) if self._plane_kind == "points" else ()
        return self._model_key, self._data_key, self._plane_kind, self._plane_dims, anchors

    def _plane_requested(self, kind: str, dim_x: int, dim_y: int) -> None:
        self.set_plane(kind, (dim_x, dim_y))

    def set_plane(self, kind: str, dims: tuple[int, int] | None = None) -> None:
        """Choose the plane: "pca", "dims" (two latent dimensions) or "points" (through the
        codes of the three most recently selected points)."""
        if self._model is None or kind not in planes.PLANE_KINDS:
            return
        if dims is not None:
            if kind == "dims" and int(dims[0]) == int(dims[1]):
                self.window.show_status("Choose two different dimensions.")
                return
            self._plane_dims = (int(dims[0]), int(dims[1]))
        self._plane_kind = kind
        if self._codes is None:
            self._plane = planes.initial_plane(self.latent_dim, kind, self._plane_dims)
        else:
            self._refit_plane()
        self._show_new_plane()

    def select_point(self, index: int) -> None:
        """Select data item ``index``: ring it, put the probe on it, remember it as an anchor."""
        if self._xy is None or not 0 <= index < len(self._xy):
            return
        if index in self._anchors:
            self._anchors.remove(index)
        self._anchors = [*self._anchors, int(index)][-MAX_ANCHORS:]
        self._publish_scene()
        self.window.show_selection(index)
        x, y = (float(v) for v in self._xy[index])
        self.release_probe(x, y)
        self.window.show_status(f"Selected {self.scene.item_text(index)}. Shift+click adds a point to the "
                                "interpolation path; selected points anchor the “Through three points” plane.")

    def encode_items(self, indices: Any) -> np.ndarray:
        """Latent means of data items (GUI thread; meant for a handful of items)."""
        if not self.model_fits_data():
            raise LatentLabError("Open a model and a matching data set first.")
        idx = torch.as_tensor(np.asarray(indices, dtype=np.int64))
        labels = self._data.labels[idx] if self._data.labels is not None else None
        return inference.encode(self._model, self._data.images[idx], labels)

    def encode_images(self, images: np.ndarray) -> np.ndarray:
        """Latent means ``[N, D]`` of images ``[N, C, H, W]`` in [0, 1] (data items, dropped files).

        A conditional model encodes them under the class the decoder is showing.
        """
        if not self.model_ready():
            raise LatentLabError("Open or train a model first: there is nothing to encode with.")
        return inference.encode(self._model, images, self.probe.condition)

    def kl_per_dim(self, limit: int = 512) -> np.ndarray | None:
        """How much each latent dimension is used ``[D]``: mean KL over the first ``limit``
        items, or the codes' variance for models without a KL; None before both exist."""
        if not self.model_fits_data():
            return None
        kl = inference.kl_per_dim(self._model, self._data, limit)
        if np.any(kl > 0):
            return kl
        return None if self._codes is None else self._codes.var(axis=0).astype(np.float32)

    # -- the probe ----------------------------------------------------------------------
    def _refit_probe(self, condition: int | None = None) -> None:
        """Keep the probe on the current plane: a tool's exact code stays and is drawn at its
        projection; otherwise the code follows the plane position."""
        p = self.probe
        cond = p.condition if condition is None else condition
        if self._plane is None:
            self._set_probe(Probe(p.x, p.y, None, False, cond))
        elif p.exact and p.z is not None and len(p.z) == self.latent_dim:
            x, y = (float(v) for v in planes.project(self._plane, p.z[None])[0])
            self._set_probe(Probe(x, y, p.z, True, cond))
        else:
            self._set_probe(Probe(p.x, p.y, planes.lift(self._plane, np.array([[p.x, p.y]]))[0], False, cond))

    def _bring_probe_to_the_data(self) -> None:
        """A probe left outside where the codes lie is out of sight: put it at their median."""
        xy = self._xy
        if xy is None or len(xy) == 0 or self.probe.exact:
            return
        low, high = np.percentile(xy, [1, 99], axis=0)
        x, y = self.probe.position
        if not (low[0] <= x <= high[0] and low[1] <= y <= high[1]):
            mx, my = (float(v) for v in np.median(xy, axis=0))
            self._set_probe(Probe(mx, my, planes.lift(self._plane, np.array([[mx, my]]))[0], False,
                                  self.probe.condition))

    def _probe_at(self, x: float, y: float) -> None:
        if self._plane is None:
            self._set_probe(self.probe.with_changes(x=float(x), y=float(y), z=None, exact=False))
            return
        z = planes.lift(self._plane, np.array([[x, y]], dtype=np.float32))[0]
        self._set_probe(Probe(float(x), float(y), z, False, self.probe.condition))

    def move_probe(self, x: float, y: float) -> None:
        """The probe is being dragged to ``(x, y)``: decode now or by the frame's end."""
        self.drag_clock.moved()
        self._probe_at(x, y)
        self.decoder.request()
        self._encode_pacing.probe_moved()
        self.frames.frame()   # what waited runs once this frame is drawn

    def release_probe(self, x: float, y: float) -> None:
        """The probe was let go (or clicked) at ``(x, y)``: decode there at once."""
        self._probe_at(x, y)
        self.decoder.decode_now()

    def decode_at(self, x: float, y: float) -> np.ndarray | None:
        """Put the probe at plane point ``(x, y)`` and decode it now; returns the image shown."""
        self.release_probe(x, y)
        last = self.decoder.last
        return None if last is None else last.image

    def set_probe_code(self, z: np.ndarray) -> None:
        """Put the probe on code ``z`` ``[D]`` (a tool's choice): drawn at its projection,
        decoded exactly, kept until the probe is moved on the plane."""
        if not self.model_ready() or self._plane is None:
            return
        z = np.asarray(z, dtype=np.float32).reshape(-1)
        x, y = (float(v) for v in planes.project(self._plane, z[None])[0])
        self.decoder.stop()
        self._set_probe(Probe(x, y, z, True, self.probe.condition))
        self.decoder.decode_now()

    def _probe_code(self) -> np.ndarray | None:
        z = self.probe.z
        if not self.model_ready() or z is None or len(z) != self.latent_dim:
            return None
        return z.copy()

    def set_condition(self, label: int) -> None:
        """The class the conditional decoder is given (CVAE only)."""
        if int(label) != self.probe.condition:
            self._set_probe(self.probe.with_changes(condition=int(label)))
            self.decoder.decode_now()
            self.manifold.schedule()

    def decode_z(self, z: np.ndarray) -> np.ndarray:
        """Decode latent vectors ``[D]`` -> one display image, ``[K, D]`` -> ``[K, ...]`` images."""
        if not self.model_ready():
            raise LatentLabError("No model is loaded yet." if self._model is None else
                                 "The model is not ready yet: it is still being fitted.")
        codes = np.array(np.atleast_2d(z), dtype=np.float32)   # a writable copy for torch
        outputs = inference.decode(self._model, codes, self.probe.condition)
        # Strips, thumbnails and sheets are pictures: a sequence output is drawn first.
        images = render.as_images(outputs, render.output_spec(self._model.config), size=THUMBNAIL_PX) \
            if self._is_sequence_model() else outputs
        out = np.stack([to_display(im) for im in images])
        return out[0] if np.ndim(z) == 1 else out

    def _decode_display(self, z: np.ndarray, condition: int) -> np.ndarray:
        if not self.model_ready():
            raise LatentLabError("The model is not ready yet: it is still being fitted.")
        # A copy: the probe's code is read-only, and torch only takes writable memory.
        output = inference.decode(self._model, np.array(z[None], dtype=np.float32), condition)[0]
        # A sequence goes to the sequence view as its values ([T, F]); it draws them itself.
        return output.numpy() if self._is_sequence_model() else to_display(output)

    def _is_sequence_model(self) -> bool:
        return self._model is not None and render.output_spec(self._model.config).kind == "sequence"

    def _caption(self, probe: Probe) -> str:
        """The decoded view's caption: the latent vector when short, else plane coordinates."""
        z = probe.z
        if z is not None and len(z) <= 4:
            text = "z = (" + ", ".join(f"{v:.2f}" for v in z) + ")"
        else:
            text = f"plane ({probe.x:.2f}, {probe.y:.2f})"
        cfg = None if self._model is None else self._model.config
        if cfg is not None and cfg.is_conditional:
            k = probe.condition
            text += f" · class {cfg.label_names[k] if k < len(cfg.label_names) else k}"
        return text

    def _decode_or_clear(self) -> None:
        if self.model_ready() and self.probe.z is not None:
            self.decoder.decode_now()
        else:
            self.decoder.stop()
            self.decoder.last = None
            self.window.show_decoded(None)

    def _show_reference(self, array: np.ndarray | None) -> None:
        """Draw a series window beneath the decoded sequence (the stream view's head), or remove it."""
        if self.window.side.sequence is not None:
            self.window.side.sequence.set_reference(array, "window")

    def _on_probe_decoded(self, decoded: Any) -> None:
        self.window.show_decoded(decoded)
        if not decoded.probe.exact:   # a tool that set the code knows where the probe is
            self.tools.notify_probe_moved()

    # -- tool overlays ------------------------------------------------------------------
    def _draw_path(self, *_: Any) -> None:
        self.window.show_path(*self.tools.path_xy())

    def _draw_arrow(self, start: np.ndarray, end: np.ndarray) -> None:
        self.window.show_arrow((start, end))

    def _clear_arrow(self) -> None:
        self.window.show_arrow(None)

    def _redraw_overlays(self) -> None:
        """The plane moved under the path and the arrow: project them again."""
        self._draw_path()
        self.window.show_arrow(self.tools.arrow_xy())

    # -- adding to the path, bookmarks --------------------------------------------------
    def _added(self) -> None:
        waypoints = self.tools.waypoints
        n = len(waypoints)
        name = waypoints[-1].name if n else ""
        more = " Add one more to make a path." if n == 1 else ""
        self.window.show_status(f"Added {name} to the interpolation path ({n} waypoints).{more}")

    def add_selected(self) -> bool:
        """Add the point selected on the plane to the path (Tools menu)."""
        ok = self._guard("Cannot add the selected point", self.tools.add_selected)
        if ok:
            self._added()
        return ok

    def add_probe(self) -> bool:
        """Add the probe's position to the path (Tools menu)."""
        ok = self._guard("Cannot add the probe", self.tools.add_probe)
        if ok:
            self._added()
        return ok

    def add_clicked(self, index: int) -> bool:
        """A Shift+click: add the clicked data point (``index``, -1 for none), or the spot."""
        x, y = self.probe.position
        if index >= 0 and self._xy is not None and index < len(self._xy) \
                and np.allclose(self._xy[index], (x, y), atol=1e-6):
            ok = self._guard("Cannot add the point", lambda: self.tools.add_item(index))
        else:
            z = self._probe_code()
            if z is None:
                self.window.show_error("Cannot add the point", "Open or train a model first.")
                return False
            ok = self._guard("Cannot add the point", lambda: self.tools.add_waypoint(z, f"point ({x:.2f}, {y:.2f})"))
        if ok:
            self._added()
        return ok

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
        ok = self._guard("Cannot add images", lambda: self.tools.add_image_files(list(paths)))
        if ok:
            self._added()
        return ok

    def bookmark_probe(self) -> bool:
        """Ask for a name and bookmark the probe (Tools ▸ Bookmark Probe…)."""
        if self._probe_code() is None:
            self.window.show_error("Cannot bookmark", "Open or train a model first: there is no probe yet.")
            return False
        default = f"Bookmark {len(self.tools.bookmarks) + 1}"
        name = self.ask_bookmark_name(default)
        if name is None:
            return False
        if not self._guard("Cannot bookmark", lambda: self.tools.add_bookmark(name.strip() or default)):
            return False
        self.window.docks["bookmarks"].raise_()
        self.window.show_status(f"Bookmarked the probe as “{self.tools.bookmarks[-1].name}”.")
        return True

    # -- manifold -----------------------------------------------------------------------
    def _mosaic_inputs(self) -> MosaicInputs | None:
        if not self.model_ready() or self._plane is None:
            return None
        view = self.window.plane
        cfg = self._model.config
        return MosaicInputs(cfg, self.latest_state(), self._plane,
                            self.probe.condition if cfg.is_conditional else None,
                            view.visible_rect(), view.width(), view.height(), view.pixels_per_unit())

    # -- training -----------------------------------------------------------------------
    def start_training(self, settings: TrainingSettings) -> bool:
        """Start training from the training panel's settings (see TrainingPanel.settings).

        A new model replaces the one on screen: if that one is unsaved, the person is asked
        first. Continuing (``settings.continue_training``) keeps it and numbers the new epochs on.
        """
        if self.is_training:
            return False
        if self.downloads.needs(settings.data):   # fetched off the GUI thread first, then started
            self.downloads.fetch(settings.data, then=lambda: self.start_training(settings))
            return False
        if not settings.continue_training and not self._confirm_discard("train a new model"):
            return False
        self.following.stop()
        try:
            from latentlab.core.plan import plan_training

            plan = plan_training(
                settings, data=self._data,
                model=self._model if self.model_ready() else None, history=list(self.run.history),
                threads=self.training_threads, progress_interval_s=PROGRESS_INTERVAL_S)
        except Exception as exc:
            self._report("Cannot start training", exc)
            return False
        from latentlab.core.models import build_model

        data = plan.data if plan.data is not self._data else _KEEP
        if plan.initial is None:
            # A fresh inference copy; it shows the untrained decoder until the first snapshot.
            self._replace(model=build_model(plan.model_config), data=data, unsaved=True)
        elif data is not _KEEP:
            self._replace(data=data)
        self._train_config = plan.train_config
        self._model_data = self._data_info()   # the data this run trains on (plan.data is on screen now)
        self._publish_scene()
        self.training.start(plan)
        return True

    def restore_run(self, restored: Any) -> bool:
        """Make an interrupted run read back from its autosave (an autosave_watch.RestoredRun) the
        current unsaved model, with its history, and train on where it stopped."""
        if self.is_training:
            return False
        data = restored.plan.data if restored.plan.data is not self._data else _KEEP
        self._replace(model=restored.model, data=data, meta={"history": restored.history}, unsaved=True)
        self._train_config = restored.plan.train_config
        self.training.restore(restored)
        return True

    def pause_training(self) -> None:
        self.training.pause()

    def resume_training(self) -> None:
        self.training.resume()

    def stop_training(self) -> None:
        """Ask training to stop after the current step; the model trained so far is kept."""
        self.training.stop()

    def _on_snapshot(self, state: dict[str, torch.Tensor]) -> None:
        if self._model is None:
            return
        try:
            self._model.load_state_dict(state)
        except RuntimeError as exc:   # a snapshot that does not fit is a bug, not a user mistake
            self._report("Could not show the training progress", exc)
            return
        self._latest_state = state
        self._encode_soon()            # the first snapshot at once, then every 1.5 s at most
        self._weights_changed()

    def use_weights(self, state: dict[str, torch.Tensor]) -> bool:
        """Make ``state`` the current model's weights, unsaved (a kept snapshot of the last run)."""
        if self._model is None or self.is_training:
            return False
        self._model.load_state_dict(state)
        self._on_trained(self._model)
        self.training.set_unsaved(True)
        return True

    def _weights_changed(self) -> None:
        self.decoder.request()
        self.tools.refresh()
        self.manifold.schedule()
        if not self.scene.model_ready and self.model_ready():   # a PCA model was just fitted
            self._publish_scene()

    def _on_trained(self, model: LatentModel) -> None:
        self._model = model
        self._latest_state = cpu_state(model)
        # Continued training changed a loaded model: its file no longer holds these weights,
        # so a session saved now must not point at it (the title says "untitled" until saved).
        self._model_path = None
        self._publish_scene()
        self._weights_changed()
        self._encode_soon.cancel()
        self.request_encode()

    # -- sessions -------------------------------------------------------------------------
    def _plane_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"kind": self._plane_kind, "dims": [int(v) for v in self._plane_dims]}
        if self._plane_kind == "points":
            record["anchors"] = [int(i) for i in self._anchors[-3:]]
        return record

    def _saved_model_hash(self) -> str | None:
        """The SHA-256 of the saved model on screen (a LatentLab model's weights, an ONNX model's
        files); None while it is unsaved, or when its file cannot be read."""
        if self.run.unsaved or not self._model_path:
            return None
        try:
            return model_files.content_hash(self._model_path)
        except LatentLabError:
            return None

    def save_session(self, path: str | None = None) -> str | None:
        """File ▸ Save Session…: bookmarks, the path, the plane and the attribute as JSON
        naming the saved model (asks where when ``path`` is None)."""
        from latentlab.core.session_file import save_session

        if self._model is not None and not self._model_path and save_refusal(self._model):
            self.window.show_error("Cannot save a session of this model", (
                f"A session refers to its model by file, and {self.model_name} comes from code of your own, not "
                "from a file. Open a model from a file (a LatentLab model, or ONNX files) to save sessions of it."))
            return None
        if self._model is None or not self._model_path or self.run.unsaved:
            self.window.show_error("Save the model first", "A session refers to its model by file. Save the model "
                                   "(File ▸ Save Model…) or open a saved one, then save the session.")
            return None
        path = path or self.ask_session_path(True)
        if not path:
            return None
        try:
            record = collect_session(self.tools, os.path.abspath(self._model_path),
                                     model_files.content_hash(self._model_path), self._plane_record())
            save_session(path, record)
        except LatentLabError as exc:
            self.window.show_error("Could not save the session", str(exc))
            return None
        self.window.show_status(f"Saved the session to {path}")
        return path

    def open_session(self, path: str) -> bool:
        """File ▸ Open Session…: open its model if another is current, then restore it.

        A session whose model folder is gone is not applied to another model, unless its codes
        fit the model on screen and the person agrees.
        """
        from latentlab.core.session_file import check_model, load_session

        try:
            record = load_session(path)
        except LatentLabError as exc:
            self.window.show_error("Could not open the session", str(exc))
            return False
        target = record.model_path
        warning = None
        if target and os.path.exists(target):
            if not self._is_current_model(target) and not self.open_model(target):
                return False
            try:
                current = model_files.content_hash(self._model_path) if self._model_path else ""
            except LatentLabError:
                current = ""
            warning = check_model(record, current)
        elif not self._may_apply_elsewhere(record):
            return False
        if self._codes is None:
            self._pending_session = record   # attribute vectors need the codes: finish when they come
        else:
            self._apply_session(record)
        if warning:
            self.window.show_warning("The model has changed", warning)
        return True

    def _is_current_model(self, target: str) -> bool:
        # samefile raises when either file is gone (the current model may have been deleted).
        current = self._model_path
        return bool(current) and os.path.exists(current) and os.path.samefile(target, current) \
            and not self.run.unsaved

    def _may_apply_elsewhere(self, record: Any) -> bool:
        """The session's model folder is missing: apply it to the model on screen only if its
        codes fit and the person agrees."""
        where = f"The session's model folder “{record.model_path}” is missing." if record.model_path else \
            "The session does not name its model."
        sizes = {len(b["z"]) for b in record.bookmarks} | {len(w) for p in record.paths for w in p["waypoints"]}
        if self._model is None:
            self.window.show_error("Could not open the session", f"{where} Open its model first, then the session.")
            return False
        if sizes and sizes != {self.latent_dim}:
            self.window.show_error(
                "Could not open the session",
                f"{where} Its codes have {min(sizes)} latent values and the model on screen "
                f"(“{self.model_name}”) has {self.latent_dim}, so it cannot be used with that model either.")
            return False
        return self.ask_yes_no("Model folder missing",
                               f"{where} Use the session with the model on screen (“{self.model_name}”) instead?")

    def _apply_session(self, record: Any) -> None:
        plane = record.plane
        kind = plane.get("kind")
        if self._model is not None and kind in planes.PLANE_KINDS:
            anchors = [int(i) for i in plane.get("anchors", []) if isinstance(i, int)]
            if kind == "points" and self._data is not None:
                self._anchors = [i for i in anchors if 0 <= i < len(self._data)][-MAX_ANCHORS:]
            dims = plane.get("dims", [0, 1])
            self.set_plane(kind, (int(dims[0]), int(dims[1])) if len(dims) >= 2 else None)
        self._guard("Could not restore the session", lambda: apply_session(self.tools, record))
        self._redraw_overlays()
        self.window.clear_status()

    # -- exports --------------------------------------------------------------------------
    def export(self, kind: str) -> str | None:
        """File ▸ Export ▸ …: ``kind`` is one of "decoded", "manifold", "strip", "gif",
        "apng", "mp4", "traversal", "codes", "path_codes" or "timelapse". Returns the file written, or None."""
        if kind == "timelapse":
            return self.timelapse.export()
        return self.exports.export(kind)

    # -- quitting -------------------------------------------------------------------------
    def quit(self) -> None:
        """File ▸ Quit: close the window (which asks about unsaved work first)."""
        self.window.close()

    def may_close(self) -> bool:
        """Whether the window may close: asks first when a trained model is unsaved or
        training runs (Save saves the newest weights; training then stops with the window)."""
        self.frames.flush()   # a report held during a drag counts for the question
        running = self.run.status == "running"
        if running:
            self.pause_training()   # nothing changes while the person decides
        if self._confirm_discard("quit"):
            return True
        if running:
            self.resume_training()
        return False

    def open_compare(self) -> Any:
        """View ▸ Compare Families…: a window that trains families side by side on the current data."""
        from latentlab.gui.tools.compare_window import CompareWindow
        from latentlab.gui.workers import TrainingWorker

        if self._data is None:
            self.window.show_status("Open a data set first: the families are compared on the current data.")
            return None
        old = getattr(self, "compare_window", None)
        if old is not None and old.data is self._data and old.isVisible():
            old.raise_()
            old.activateWindow()
            return old
        if old is not None:
            old.close()   # stops its training
            old.deleteLater()
        from latentlab.gui.open_model import FILE_FILTER, load_model

        self.compare_window = CompareWindow(   # a child window: it closes, and stops, with this one
            self._data, make_trainer=lambda p: TrainingWorker(p.model_config, p.data, p.train_config, p.initial,
                                                             isolated=self.isolate_training),
            submit=self.inference.submit, threads=self.training_threads, load_model=load_model,
            model_filter=FILE_FILTER, current_model=self._model_for_compare, parent=self.window)
        self.window.closing.connect(self.compare_window.shutdown)
        self.compare_window.show()
        return self.compare_window

    def _model_for_compare(self) -> tuple[Any, str] | None:
        """The model on screen and its name, for the Compare Families window (None: no model)."""
        return None if self._model is None else (self._model, self.model_name)

    def _on_window_closing(self) -> None:
        self.decoder.stop()
        self.shutdown_clean = self.shutdown(1000)

    def shutdown(self, timeout_ms: int = 1000) -> bool:
        """Stop every thread (bounded wait); call before the window goes away.

        Returns True when all threads ended within ``timeout_ms`` each.
        """
        self._encode_soon.cancel()
        self.manifold.schedule.cancel()
        self.frames.clear()
        self.following.stop()
        self.realness.set_enabled(False)
        self.stream.close()
        clean = self.training.shutdown(timeout_ms)
        if self.isolate_training:
            train_process.discard()   # the process waiting for a next run
        clean = self.quality.shutdown(timeout_ms) and clean
        return self.inference.shutdown(timeout_ms) and clean
