"""The GUI's controller: the current model, data set, latent plane and workers. No widgets.

Threads (see the architecture notes): the training worker owns the model being
trained and hands out weight snapshots; the session owns an *inference copy* that
lives on the GUI thread (eval mode, CPU) and decodes the probe under
``torch.inference_mode()``. Encoding the whole data set for the scatter runs in the
inference worker with its own model copy built from a snapshot's state, never this
copy.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PySide6.QtCore import QObject, QTimer, Signal

from latentlab.core import inference
from latentlab.core.data.dataset import Dataset
from latentlab.core.errors import LatentLabError
from latentlab.core.models.base import LatentModel, ModelConfig
from latentlab.gui import manifold as planes
from latentlab.core.device import cpu_state
from latentlab.gui.manifold import encode_job, to_display
from latentlab.gui.session_training import SessionTrainingMixin
from latentlab.gui.workers import InferenceWorker, TrainingWorker, describe_exception

log = logging.getLogger(__name__)

ENCODE_INTERVAL_MS = 1500   # scatter refresh while training


def default_training_threads() -> int:
    """Intra-op threads for training in the GUI: all cores but one for the GUI thread."""
    return max(1, (os.cpu_count() or 2) - 1)


class Session(SessionTrainingMixin, QObject):
    """Owns what the window shows and does the work behind its actions.

    Signals
    -------
    modelChanged(): another model (or none) is current.
    dataChanged(): another data set is current.
    codesChanged(): new encodings and their plane coordinates (``xy``) are ready.
    planeChanged(): the latent plane changed (``xy`` follows with codesChanged).
    weightsUpdated(): the inference copy got new weights (a training snapshot).
    conditionChanged(int): the CVAE's class label changed.
    trainingProgress(Progress), trainingStateChanged(str), trainingFinished(TrainResult).
    errorOccurred(str title, str message): show the user; already logged if unexpected.
    statusMessage(str): a short line for the status bar.
    """

    modelChanged = Signal()
    dataChanged = Signal()
    codesChanged = Signal()
    planeChanged = Signal()
    weightsUpdated = Signal()
    conditionChanged = Signal(int)
    trainingProgress = Signal(object)
    trainingStateChanged = Signal(str)
    trainingFinished = Signal(object)
    errorOccurred = Signal(str, str)
    statusMessage = Signal(str)

    def __init__(self, parent: QObject | None = None, training_threads: int | None = None) -> None:
        super().__init__(parent)
        # Torch's thread count is per thread (OpenMP). The GUI thread only decodes single
        # points; a team of threads here would fight the trainer for the cores and, after
        # each op, spin-wait on them.
        torch.set_num_threads(1)
        self.training_threads = training_threads or default_training_threads()
        self.model: LatentModel | None = None
        self.model_path: str | None = None
        self.model_meta: dict[str, Any] = {}
        self.history: list[dict[str, Any]] = []
        self.train_config: Any = None
        self.data: Dataset | None = None
        self.codes: np.ndarray | None = None
        self.xy: np.ndarray | None = None
        self.plane: Any = None
        self.plane_kind = "pca"
        self.plane_dims = (0, 1)
        self.selected: list[int] = []          # most recent last; anchors of the three-point plane
        self.condition = 0
        self.probe_z: np.ndarray | None = None
        self.training_state = "idle"
        self._plan: Any = None               # the running (or last) training plan
        self.inference = InferenceWorker()
        self.inference.resultReady.connect(self._on_job_result)
        self.inference.failed.connect(self._on_job_failed)
        self._trainer: TrainingWorker | None = None
        self._encoded_state: Any = None        # the state object the codes were computed from
        self._latest_state: dict[str, torch.Tensor] | None = None
        self._encode_timer = QTimer(self)
        self._encode_timer.setInterval(ENCODE_INTERVAL_MS)
        self._encode_timer.timeout.connect(self._encode_latest_snapshot)
        self._saved_switch_interval: float | None = None

    # -- what is current --------------------------------------------------------------
    @property
    def config(self) -> ModelConfig | None:
        return None if self.model is None else self.model.config

    @property
    def model_name(self) -> str:
        if self.model_path:
            return Path(self.model_path).name.removesuffix(".latentlab")
        return "untitled" if self.model is not None else "no model"

    @property
    def latent_dim(self) -> int:
        return 0 if self.model is None else self.model.config.latent_dim

    @property
    def is_training(self) -> bool:
        return self._trainer is not None

    def image_of(self, index: int) -> np.ndarray | None:
        """Data item ``index`` as a display array (for thumbnails), or None."""
        if self.data is None or not 0 <= index < len(self.data):
            return None
        return to_display(self.data.images[index])

    # -- errors -------------------------------------------------------------------------
    def _report(self, title: str, exc: BaseException) -> None:
        message, user_mistake = describe_exception(exc)
        if not user_mistake:
            log.error("%s", title, exc_info=exc)
            message = f"{message}\n\nSee the log for details."
        self.errorOccurred.emit(title, message)

    # -- files ------------------------------------------------------------------------------
    def open_model(self, path: str) -> bool:
        """Load a saved model folder; its recorded data set is loaded if none matches."""
        if self.is_training:
            self.errorOccurred.emit("Cannot open a model", "Stop training before opening another model.")
            return False
        try:
            from latentlab.core.checkpoint import load_model

            loaded = load_model(path)
        except Exception as exc:
            self._report("Could not open the model", exc)
            return False
        self.set_model(loaded.model, meta=dict(loaded.meta or {}), path=str(path))
        if self.data is None or self.data.shape != tuple(loaded.config.input_shape):
            source = (self.model_meta.get("data") or {}).get("source")
            if source:
                self.open_data(source)
        return True

    def save_model(self, path: str) -> bool:
        """Save the current model (weights, config, history, data info) as a model folder."""
        if self.model is None:
            self.errorOccurred.emit("Nothing to save", "Train or open a model first.")
            return False
        try:
            from latentlab.core.checkpoint import save_model

            save_model(path, self.model, train_config=self.train_config, history=self.history,
                       data_info=self._data_info())
        except Exception as exc:
            self._report("Could not save the model", exc)
            return False
        self.model_path = str(path)
        self.modelChanged.emit()
        self.statusMessage.emit(f"Saved {path}")
        return True

    def _data_info(self) -> dict[str, Any] | None:
        if self.data is None:
            return self.model_meta.get("data")
        from latentlab.core.checkpoint import describe_data

        tc = self.train_config
        return describe_data(self.data, getattr(tc, "val_fraction", None), getattr(tc, "seed", None))

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

    # -- model and data ---------------------------------------------------------------
    def set_model(self, model: LatentModel | None, meta: dict[str, Any] | None = None,
                  path: str | None = None) -> None:
        """Make ``model`` (moved to the CPU, eval mode) the inference copy."""
        if model is not None:
            model = model.to("cpu").eval()
        self.model = model
        self.model_meta = meta or {}
        self.history = list(self.model_meta.get("history") or [])
        self.model_path = path
        self.condition = 0
        # Another model has other axes: start again from its PCA view.
        self.plane_kind, self.plane_dims = "pca", (0, 1)
        self._latest_state = None if model is None else cpu_state(model)
        self._reset_codes()
        self.modelChanged.emit()
        self.request_encode()

    def set_data(self, data: Dataset | None) -> None:
        self.data = data
        self.selected.clear()
        self._reset_codes()
        self.dataChanged.emit()
        if self.model_ready() and data is not None and not self.model_fits_data():
            shape = "×".join(str(v) for v in self.model.config.input_shape)
            self.statusMessage.emit(f"The model expects {shape} images; '{data.name}' has "
                                    f"{'×'.join(str(v) for v in data.shape)}. Train a new model on it, "
                                    "or open data that matches.")
        self.request_encode()

    def _reset_codes(self) -> None:
        self.codes = None
        self.xy = None
        self.plane = None
        self._encoded_state = None
        self.inference.cancel("encode")
        if self.model is not None:
            self.plane = planes.initial_plane(self.model.config.latent_dim, self.plane_kind, self.plane_dims)
        self.codesChanged.emit()

    def model_ready(self) -> bool:
        """A model exists and can encode and decode (a PCA model must be fitted first)."""
        return self.model is not None and bool(getattr(self.model, "fitted", True))

    def model_fits_data(self) -> bool:
        return self.model_ready() and inference.fits(self.model.config, self.data)

    # -- encoding and planes ----------------------------------------------------------
    def request_encode(self, state: dict[str, torch.Tensor] | None = None) -> bool:
        """Encode the data set in the background (latest request wins)."""
        if not self.model_fits_data():
            return False
        state = state if state is not None else self._latest_state
        if state is None:
            state = self._latest_state = cpu_state(self.model)
        self._encoded_state = state
        self.inference.submit("encode", encode_job(self.model.config, state, self.data))
        return True

    def latest_state(self) -> dict[str, torch.Tensor]:
        """The newest weights as a detached copy that background jobs may read."""
        if self._latest_state is None and self.model is not None:
            self._latest_state = cpu_state(self.model)
        return self._latest_state

    def _encode_latest_snapshot(self) -> None:
        if self._latest_state is not None and self._latest_state is not self._encoded_state:
            self.request_encode(self._latest_state)

    def _on_job_result(self, kind: str, generation: int, result: Any) -> None:
        if kind != "encode" or result is None or not self.inference.is_current(kind, generation):
            return
        if self.data is None or len(result) != len(self.data):
            return
        self.codes = result
        self._refit_plane()
        self.codesChanged.emit()

    def _on_job_failed(self, kind: str, generation: int, message: str) -> None:
        if self.inference.is_current(kind, generation):
            self.errorOccurred.emit("Background work failed", message)

    def _refit_plane(self) -> None:
        """Recompute the plane (PCA follows the codes) and the scatter coordinates."""
        if self.model is None or self.codes is None:
            return
        try:
            self.plane = planes.make_plane(self.plane_kind, self.codes, self.plane_dims,
                                           self.selected[-3:], previous=self.plane)
        except LatentLabError as exc:
            self.errorOccurred.emit("Cannot use that plane", str(exc))
            self.plane_kind = "pca"
            self.plane = planes.make_plane("pca", self.codes, self.plane_dims, [], previous=None)
        self.xy = planes.project(self.plane, self.codes)

    def set_plane(self, kind: str, dims: tuple[int, int] | None = None) -> None:
        """Choose the plane: "pca", "dims" (two latent dimensions) or "points" (through the
        codes of the three most recently selected points)."""
        self.plane_kind = kind
        if dims is not None:
            self.plane_dims = (int(dims[0]), int(dims[1]))
        if self.codes is None:
            if self.model is not None:
                self.plane = planes.initial_plane(self.latent_dim, kind, self.plane_dims)
        else:
            self._refit_plane()
        self.planeChanged.emit()
        self.codesChanged.emit()

    def note_selected(self, index: int) -> None:
        """Remember a selected point (the three-point plane uses the last three)."""
        if index in self.selected:
            self.selected.remove(index)
        self.selected = [*self.selected, int(index)][-8:]

    def encode_items(self, indices: Any) -> np.ndarray:
        """Latent means of data items (GUI thread; meant for a handful of items)."""
        if not self.model_fits_data():
            raise LatentLabError("Open a model and a matching data set first.")
        idx = torch.as_tensor(np.asarray(indices, dtype=np.int64))
        labels = self.data.labels[idx] if self.data.labels is not None else None
        return inference.encode(self.model, self.data.images[idx], labels)

    def encode_images(self, images: np.ndarray) -> np.ndarray:
        """Latent means ``[N, D]`` of images ``[N, C, H, W]`` in [0, 1] (e.g. dropped files).

        A conditional model encodes them under the class the decoder is showing.
        """
        if not self.model_ready():
            raise LatentLabError("Open or train a model first: there is nothing to encode with.")
        return inference.encode(self.model, images, self.condition)

    def kl_per_dim(self, limit: int = 512) -> np.ndarray | None:
        """How much each latent dimension is used ``[D]``: mean KL over the first ``limit``
        items, or the codes' variance for models without a KL; None before both exist."""
        if not self.model_fits_data():
            return None
        kl = inference.kl_per_dim(self.model, self.data, limit)
        if np.any(kl > 0):
            return kl
        return None if self.codes is None else self.codes.var(axis=0).astype(np.float32)

    # -- decoding ---------------------------------------------------------------------
    def set_condition(self, label: int) -> None:
        """The class the conditional decoder is given (CVAE only)."""
        if int(label) != self.condition:
            self.condition = int(label)
            self.conditionChanged.emit(self.condition)

    def lift(self, x: float, y: float) -> np.ndarray:
        """The full latent vector at plane point ``(x, y)``."""
        if self.plane is None:
            raise LatentLabError("No model is loaded.")
        return planes.lift(self.plane, np.array([[x, y]], dtype=np.float32))[0]

    def decode_z(self, z: np.ndarray) -> np.ndarray:
        """Decode latent vectors ``[D]`` -> one image, ``[K, D]`` -> ``[K, ...]`` images."""
        if not self.model_ready():
            raise LatentLabError("No model is loaded yet." if self.model is None else
                                 "The model is not ready yet: it is still being fitted.")
        images = inference.decode(self.model, np.atleast_2d(np.asarray(z, dtype=np.float32)), self.condition)
        out = np.stack([to_display(im) for im in images])
        return out[0] if np.ndim(z) == 1 else out

    def decode_at(self, x: float, y: float) -> np.ndarray:
        """Decode plane point ``(x, y)``; ``probe_z`` keeps its latent vector."""
        z = self.lift(x, y)
        self.probe_z = z
        return self.decode_z(z)
