"""What people use a model for, in the window: generate a data set, compress images, classify.

:class:`UsesController` belongs to the application's controller and answers three things:

* **File ▸ Generate Data Set…** (the window's ``generateRequested``): opens a
  :class:`~latentlab.gui.tools.generate_dialog.GenerateDialog` over a copy of the model's
  weights;
* the **Compression** dock: a :class:`~latentlab.gui.tools.compression.CompressionPanel`
  kept current by a :class:`~latentlab.gui.tools.compression.CompressionTool`;
* **predicted-class colouring** for a model whose family classifies
  (``capabilities.classifies``): the window's "Colour by" choice; the classes come from
  ``model.classify`` (:func:`latentlab.core.metrics.class_probabilities`) in the inference
  worker, and the accuracy against the data's labels is shown beside the choice; the images
  whose labels a semi-supervised run kept are ringed on the plane
  (:func:`latentlab.core.partial_labels.kept_items`, found again from the model's training
  settings when the data on screen is the data it trained on), and the classifier's answer for
  the image decoded under the probe is shown under the choice.

It reads the controller's state through plain callables and talks to the window through
its public methods, so it can be tested with the real window and a tiny model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from PySide6.QtCore import QObject, Signal

from latentlab.core import inference
from latentlab.core.errors import LatentLabError
from latentlab.core.partial_labels import kept_items
from latentlab.gui.tools.compression import CompressionPanel, CompressionTool
from latentlab.gui.tools.generate_dialog import GenerateDialog
from latentlab.gui.views.colour_by import PREDICTED, TRUE_LABEL

DEFAULT_VAL_FRACTION, DEFAULT_SEED = 0.2, 0   # the reference split, for a model that records none


def _config_value(config: Any, key: str) -> Any:
    return config.get(key) if isinstance(config, dict) else getattr(config, key, None)


def _classifies(config: Any) -> bool:
    try:
        return bool(config.capabilities.classifies)
    except LatentLabError:   # its family was unregistered (a plug-in gone) while on screen
        return False


def labelled_marks(train_config: Any, model_data: Any, data: Any) -> tuple[np.ndarray | None, str]:
    """The items whose labels the model's last run kept and a legend line for their rings;
    ``(None, "")`` when the run kept every label or the data on screen is not the data it
    trained on (its fingerprint, from the model's ``"data"`` record, differs)."""
    n = _config_value(train_config, "labelled")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1 or data is None or data.labels is None:
        return None, ""
    if not isinstance(model_data, dict) or model_data.get("fingerprint") != data.fingerprint:
        return None, ""
    fraction, seed = _split_settings(train_config)
    try:
        kept = kept_items(data, n, fraction, seed)
    except LatentLabError:   # settings the data cannot satisfy: it was not this run's data
        return None, ""
    # Two short lines, like the legend's other notes: one long line would widen the legend.
    return kept.numpy(), f"○ = one of the {len(kept):,} labelled<br>images it learned from"


def probe_class_text(probabilities: np.ndarray, names: tuple[str, ...]) -> tuple[str, str]:
    """"Classifier: 7 (93%)" for class probabilities ``[K]``, and a tooltip with the top three."""
    def name(k: int) -> str:
        return names[k] if k < len(names) else str(k)

    order = np.argsort(-probabilities)
    best = int(order[0])
    top = ", ".join(f"{name(int(k))} {probabilities[k]:.0%}" for k in order[:3])
    return (f"Classifier: {name(best)} ({probabilities[best]:.0%})",
            f"What the model's classifier q(y|x) makes of the image decoded under the probe: {top}.")


def _split_settings(config: Any) -> tuple[float, int]:
    """The validation fraction and seed a run recorded (the reference split's when it recorded none)."""
    fraction = _config_value(config, "val_fraction")
    seed = _config_value(config, "seed")
    fraction = DEFAULT_VAL_FRACTION if not isinstance(fraction, (int, float)) else float(fraction)
    seed = DEFAULT_SEED if not isinstance(seed, int) or isinstance(seed, bool) else seed
    return fraction, seed


def predict_job(config: Any, state: dict[str, torch.Tensor], images: torch.Tensor):
    """An inference-worker job: the most likely class ``[N]`` of every image under ``model.classify``."""

    def job(should_stop: Callable[[], bool]) -> np.ndarray | None:
        from latentlab.core.metrics import class_probabilities

        model = inference.model_from_state(config, state)
        parts = []
        for lo in range(0, len(images), 2000):   # a cancelled request stops between chunks
            if should_stop():
                return None
            parts.append(class_probabilities(model, images[lo:lo + 2000]).argmax(1))
        return torch.cat(parts).numpy() if parts else np.zeros(0, np.int64)

    return job


def accuracy_text(predicted: np.ndarray, labels: np.ndarray | None, validation: np.ndarray) -> tuple[str, str]:
    """The accuracy beside the chooser and its tooltip (validation split, then every item)."""
    if labels is None or len(labels) != len(predicted):
        return "No labels to compare with", "The data set has no labels, so the predictions cannot be checked."
    everything = float(np.mean(predicted == labels)) if len(labels) else float("nan")
    val = validation[validation < len(labels)]
    if len(val) == 0:
        return f"Accuracy {everything:.1%} on all {len(labels):,} items", f"All {len(labels):,} items: {everything:.1%} predicted right."
    on_val = float(np.mean(predicted[val] == labels[val]))
    return (f"Accuracy {on_val:.1%} (validation)",
            f"Validation split ({len(val):,} items): {on_val:.1%} predicted right; all {len(labels):,} items on "
            f"the plane: {everything:.1%}.")


class UsesController(QObject):
    """Generate, compression and predicted colouring for one window (see the module doc).

    ``model()`` is the GUI's inference copy when ready (else None), ``state()`` a detached copy
    of its weights, ``data()`` the data set, ``train_config()`` its training settings (a
    TrainConfig or its dict; for the validation split), ``model_hash()`` the SHA-256 of the saved
    model that holds exactly these weights (None when unsaved or unreadable), ``model_data()`` the ``"data"`` record of
    the data the model was trained on (None when unknown), ``model_name()``, ``busy()`` whether
    training runs, ``submit`` the inference worker's, ``ask_yes_no(title, text)`` the
    controller's question.

    From the window it uses the requests ``generateRequested``, ``pointSelected`` and
    ``closing``, its ``colour_by`` bar and plane, ``add_tool_dock``, ``show_point_classes``,
    ``show_marked_points``,
    ``ask_generated_set_path``, ``show_status``, ``show_error`` and (to open a written set)
    ``openDataRequested``.
    """

    predicted = Signal(object)   # the predicted classes just shown (tests wait for them)

    def __init__(self, window: Any, *, model: Callable[[], Any], state: Callable[[], Any], data: Callable[[], Any],
                 train_config: Callable[[], Any], model_hash: Callable[[], str | None],
                 model_name: Callable[[], str], busy: Callable[[], bool], submit: Callable[..., Any],
                 ask_yes_no: Callable[[str, str], bool], model_data: Callable[[], Any] = lambda: None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.window = window
        self._model, self._state, self._data = model, state, data
        self._train_config, self._model_hash, self._model_name = train_config, model_hash, model_name
        self._busy, self._submit, self._ask_yes_no = busy, submit, ask_yes_no
        self._model_data = model_data
        self._marks_for: Any = None         # (scene key, training settings) the rings were found for
        self.dialog: GenerateDialog | None = None
        self._scene: Any = None
        self._predicted_for: Any = None     # the codes the shown predictions belong to
        self._predict_handle: Any = None
        self.panel = CompressionPanel()
        self.compression = CompressionTool(
            self.panel, model=model, state=state, data=data, reference=self.validation_indices,
            selected=window.plane.selected, busy=busy, submit=submit, parent=self)
        dock = window.add_tool_dock("compression", "Compression", self.panel)
        dock.visibilityChanged.connect(lambda shown: shown and self.compression.schedule())
        window.pointSelected.connect(lambda _index: self.compression.schedule())
        window.generateRequested.connect(self.open_generate_dialog)
        window.colour_by.choiceChanged.connect(self._on_colour_choice)
        window.closing.connect(self.shutdown)
        self.panel.show_unavailable("Open or train a model to see it compress images.")

    # -- the validation split ---------------------------------------------------------
    def validation_indices(self) -> np.ndarray:
        """Indices of the data's validation split as the model's training recorded it (the
        reference split when it recorded none)."""
        data = self._data()
        if data is None or len(data) == 0:
            return np.zeros(0, np.int64)
        fraction, seed = _split_settings(self._train_config())
        try:
            _, val = data.split(fraction, seed)
        except LatentLabError:
            val = torch.arange(len(data))
        return (val if len(val) else torch.arange(len(data))).numpy()

    # -- the scene ----------------------------------------------------------------------
    def show_scene(self, scene: Any) -> None:
        """A new scene: the colour chooser follows the model, predictions the codes, and the
        compression panel the model and data."""
        self._scene = scene
        config = scene.model_config
        classifies = config is not None and scene.model_ready and _classifies(config)
        bar = self.window.colour_by
        bar.setVisible(classifies)
        self._mark_labelled(scene, classifies)
        if not classifies:
            bar.show_probe_class("")
            if bar.choice() == PREDICTED:
                bar.set_choice(TRUE_LABEL)
                self._show_true_labels()
        elif bar.choice() == PREDICTED and scene.codes is not None and scene.codes is not self._predicted_for:
            self._predict(scene)
        self.compression.schedule()

    def _mark_labelled(self, scene: Any, classifies: bool) -> None:
        """Ring the images whose labels the model learned from (found once per model, data and run)."""
        config = self._train_config()
        key = (scene.model_key, scene.data_key)
        if self._marks_for is not None and self._marks_for[0] == key and self._marks_for[1] is config:
            return
        self._marks_for = (key, config)
        indices, note = labelled_marks(config, self._model_data(), self._data()) if classifies else (None, "")
        self.window.show_marked_points(key, indices, note)

    def show_decoded(self, decoded: Any) -> None:
        """The probe was decoded (a ``DecodedProbe``; None: nothing): what the model's classifier
        makes of that image, under the colour choice."""
        from latentlab.core.metrics import class_probabilities

        model, scene, bar = self._model(), self._scene, self.window.colour_by
        if decoded is None or model is None or scene is None or not _classifies(model.config) \
                or scene.output is None or scene.output.kind != "image":
            bar.show_probe_class("")
            return
        image = np.asarray(decoded.image, dtype=np.float32)
        # The display image is the decoder's output as H x W (grey) or H x W x 3: back to [1, C, H, W].
        x = torch.from_numpy(image[None, None] if image.ndim == 2 else image.transpose(2, 0, 1)[None].copy())
        probabilities = class_probabilities(model, x)[0].numpy()
        bar.show_probe_class(*probe_class_text(probabilities, scene.condition_names or scene.class_names))

    def _on_colour_choice(self, choice: str) -> None:
        scene = self._scene
        if choice == PREDICTED and scene is not None and scene.codes is not None:
            self._predict(scene)
        elif choice != PREDICTED:
            self._show_true_labels()

    def _show_true_labels(self) -> None:
        if self._predict_handle is not None:
            self._predict_handle.cancel()
        self._predicted_for = None
        self.window.colour_by.show_accuracy("")
        self.window.show_point_classes(None, None)

    def _predict(self, scene: Any) -> None:
        model, data = self._model(), self._data()
        if model is None or data is None or not inference.fits(model.config, data):
            return
        self._predicted_for = scene.codes
        key = (scene.model_key, scene.data_key)
        names = scene.condition_names or scene.class_names
        self.window.colour_by.show_accuracy("Classifying…")

        def shown(predicted: np.ndarray | None) -> None:
            self._predict_handle = None
            if predicted is None or self.window.colour_by.choice() != PREDICTED:
                return
            labels = None if data.labels is None else data.labels.numpy()
            text, tip = accuracy_text(predicted, labels, self.validation_indices())
            self.window.colour_by.show_accuracy(text, tip)
            self.window.show_point_classes(key, predicted, tuple(names))
            self.predicted.emit(predicted)

        self._predict_handle = self._submit("classify", predict_job(model.config, self._state(), data.images),
                                            on_result=shown, on_error=self._on_predict_failed)

    def _on_predict_failed(self, message: str) -> None:
        self._predict_handle = None
        self.window.colour_by.show_accuracy("")
        self.window.show_error("Could not classify the data", message)

    # -- generating ---------------------------------------------------------------------
    def open_generate_dialog(self) -> GenerateDialog | None:
        """File ▸ Generate Data Set…: the dialog over the current model (None without one)."""
        model = self._model()
        if model is None:
            self.window.show_error("Nothing to generate from", "Open or train a model first: a data set is "
                                   "sampled from a model's prior and decoded.")
            return None
        if self.dialog is not None and self.dialog.is_running():
            self.dialog.raise_()
            return self.dialog
        dialog = GenerateDialog(model.config, self._state(), model_sha256=self._model_hash(), model_name=self._model_name(),
                                ask_path=lambda suggested: self.window.ask_generated_set_path(suggested),
                                confirm_replace=self._confirm_replace, open_data=self._open_generated,
                                parent=self.window)
        dialog.written.connect(self.window.show_status)
        dialog.finished.connect(lambda _result, d=dialog: self._forget_dialog(d))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _forget_dialog(self, dialog: GenerateDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None
        dialog.deleteLater()

    def _confirm_replace(self, path: str) -> bool:
        return self._ask_yes_no("Replace it?", f"“{path}” already holds files. Replace everything in it with the "
                                "generated data set? (It is replaced only once the new set is complete.)")

    def _open_generated(self, path: str) -> None:
        self.window.openDataRequested.emit(path)
        if self.dialog is not None:
            self.dialog.accept()

    def shutdown(self) -> None:
        """The window closes: stop a running generation and what waits to be measured."""
        self.compression.schedule.cancel()
        if self._predict_handle is not None:
            self._predict_handle.cancel()
        if self.dialog is not None:
            self.dialog.shutdown()
