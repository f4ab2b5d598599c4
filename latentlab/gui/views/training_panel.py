"""The training panel: what to train on, which model, how to train, and Start/Pause/Stop.

The panel holds no training logic. It turns its form into a plain dict (see
:meth:`TrainingPanel.settings`) and emits it; the controller builds the configs, runs the
worker and reports back through :meth:`set_state`, :meth:`set_progress` and
:meth:`set_status`. It must not import torch: the window paints before torch loads.
The learning-rate spin box and the field helpers are in :mod:`latentlab.gui.views.training_fields`.
"""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QProgressBar,
    QPushButton, QVBoxLayout, QWidget,
)
from superqt import QElidingLabel

from latentlab.gui.views.formatting import format_progress, is_number
from latentlab.gui.views.training_fields import (
    LearningRateSpinBox, combo_box, form_group, read_field, select_key, spin_box, write_field,
)

# (key, label); a key that is also in FILE_KINDS asks for a path when chosen.
DATA_CHOICES = (
    ("mnist", "MNIST digits (bundled)"),
    ("moons", "Moons (procedural)"),
    ("shapes", "Shapes (procedural)"),
    ("folder", "Image folder…"),
    ("idx", "IDX file…"),
    ("npz", "NumPy array (.npz/.npy)…"),
)
FILE_KINDS = ("folder", "idx", "npz")
FAMILY_CHOICES = (("ae", "AE"), ("vae", "VAE"), ("beta-vae", "β-VAE"), ("cvae", "CVAE"), ("pca", "PCA"))
ARCH_CHOICES = (("mlp", "MLP"), ("conv", "Convolutional"))
LIKELIHOOD_CHOICES = (("bernoulli", "Bernoulli"), ("gaussian", "Gaussian"))
COLOR_CHOICES = (("auto", "Auto"), ("gray", "Grayscale"), ("rgb", "RGB"))
OPTIONAL_DEVICES = (("cuda", "CUDA"), ("mps", "MPS"))
STATES = ("idle", "running", "paused", "stopping")

_FILE_FILTERS = {
    "idx": "IDX files (*-ubyte *-ubyte.gz *.idx *.idx.gz);;All files (*)",
    "npz": "NumPy arrays (*.npz *.npy);;All files (*)",
}
_SEED_MAX = 2**31 - 1
# One sentence per field, shown as its tooltip.
TIPS = {
    "spec": "The images to train on: a bundled set, a generated one, or your own files.",
    "image_size": "Images from the folder are resized to this many pixels on each side.",
    "color": "Keep the folder's colours (RGB), convert to grayscale, or decide from the images (Auto).",
    "family": "The kind of autoencoder: plain, variational, β-weighted, conditional, or a PCA baseline.",
    "arch": "Fully connected layers (MLP) or convolutions, which suit larger images.",
    "latent_dim": "Number of latent dimensions; 2 can be drawn directly as a plane.",
    "beta": "Weight of the KL term for a β-VAE; above 1 trades sharpness for a tidier latent space.",
    "kl_warmup_epochs": "Epochs over which the KL weight ramps up from 0, which helps avoid posterior collapse.",
    "likelihood": "How reconstructions are scored: Bernoulli for near-binary images, Gaussian for photos.",
    "epochs": "Number of passes over the training data.",
    "batch_size": "Images per optimiser step; larger is faster per image but needs more memory.",
    "lr": "Adam step size; type a value like 1e-3, or step along 1-2-5 with the arrows.",
    "device": "Where to train: Auto picks a GPU when one is available, else the CPU.",
    "seed": "Random seed for the split, initial weights and batch order; the same seed repeats a run.",
    "startTrainingButton": "Train a new model with these settings.",
    "pauseTrainingButton": "Pause training after the current step, or resume it.",
    "stopTrainingButton": "Stop training and keep the weights learned so far.",
}


def _button(text: str, name: str, slot: Any) -> QPushButton:
    button = QPushButton(text)
    button.setObjectName(name)
    button.setToolTip(TIPS[name])
    button.clicked.connect(slot)
    return button


def _section(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class TrainingPanel(QWidget):
    """Form and controls for one training run. See the module docstring for the contract."""

    startRequested = Signal(dict)
    pauseRequested = Signal()
    resumeRequested = Signal()
    stopRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainingPanel")
        self._state = "idle"
        self._paths: dict[str, str] = {}
        self._data_index = 0   # the last data choice that had everything it needs
        self._fields: dict[tuple[str, str], QWidget] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        self._data_group = self._build_data_group()
        self._model_group = self._build_model_group()
        self._train_group = self._build_train_group()
        for group in (self._data_group, self._model_group, self._train_group):
            layout.addWidget(group)
        self._align_label_columns()
        layout.addLayout(self._build_buttons())
        self.progress = QProgressBar()
        self.progress.setObjectName("trainingProgress")
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("Not started")
        self.progress.setToolTip("Progress of the whole run, the time left and the training speed.")
        layout.addWidget(self.progress)
        self.status = QLabel("Ready.")
        self.status.setObjectName("trainingStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status)
        layout.addStretch(1)
        self._update_data_rows()
        self._update_model_fields()
        self.set_state("idle")

    # ---------------------------------------------------------------- building
    def _build_data_group(self) -> QGroupBox:
        group, form = form_group("Data")
        self.data_combo = combo_box(DATA_CHOICES)
        self.data_combo.activated.connect(self._on_data_activated)
        # Not a plain field: the spec is the choice or its path (see settings()).
        self.data_combo.setToolTip(TIPS["spec"])
        form.addRow("&Source", self.data_combo)
        self.path_label = QElidingLabel("")
        self.path_label.setElideMode(Qt.TextElideMode.ElideMiddle)
        self.path_label.setObjectName("dataPathLabel")
        form.addRow("", self.path_label)
        self.image_size_spin = spin_box(8, 512, 32)
        self.image_size_spin.setSuffix(" px")
        self._row(form, "Image &size", self.image_size_spin, "data", "image_size")
        self.color_combo = combo_box(COLOR_CHOICES)
        self._row(form, "&Colour", self.color_combo, "data", "color")
        self._data_form = form
        return group

    def _build_model_group(self) -> QGroupBox:
        group, form = form_group("Model")
        self.family_combo = combo_box(FAMILY_CHOICES)
        select_key(self.family_combo, "vae")
        self.family_combo.currentIndexChanged.connect(self._update_model_fields)
        self._row(form, "&Family", self.family_combo, "model", "family")
        self.arch_combo = combo_box(ARCH_CHOICES)
        self._row(form, "&Architecture", self.arch_combo, "model", "arch")
        self.latent_spin = spin_box(1, 256, 2)
        self._row(form, "&Latent dim", self.latent_spin, "model", "latent_dim")
        self.beta_spin = QDoubleSpinBox()
        self.beta_spin.setRange(0.01, 1000.0)
        self.beta_spin.setSingleStep(0.5)
        self.beta_spin.setValue(4.0)
        self._row(form, "&β", self.beta_spin, "model", "beta")
        self.warmup_spin = spin_box(0, 100, 0)
        self._row(form, "KL &warm-up", self.warmup_spin, "model", "kl_warmup_epochs")
        self.likelihood_combo = combo_box(LIKELIHOOD_CHOICES)
        self._row(form, "Li&kelihood", self.likelihood_combo, "model", "likelihood")
        return group

    def _build_train_group(self) -> QGroupBox:
        group, form = form_group("Training")
        self.epochs_spin = spin_box(1, 10000, 20)
        self._row(form, "&Epochs", self.epochs_spin, "train", "epochs")
        self.batch_spin = spin_box(1, 65536, 128)
        self._row(form, "&Batch size", self.batch_spin, "train", "batch_size")
        self.lr_spin = LearningRateSpinBox()
        self._row(form, "Learning &rate", self.lr_spin, "train", "lr")
        self.device_combo = combo_box((("auto", "Auto"), ("cpu", "CPU")))
        self._row(form, "&Device", self.device_combo, "train", "device")
        self.seed_spin = spin_box(0, _SEED_MAX, 0)
        self._row(form, "S&eed", self.seed_spin, "train", "seed")
        self.resume_check = QCheckBox("Continue training the loaded model")
        self.resume_check.setObjectName("resumeCheckBox")
        self.resume_check.setToolTip("Start from the weights of the model on screen instead of a new one; "
                                     "its architecture replaces the Model settings.")
        self.resume_check.toggled.connect(lambda _checked: self._update_model_fields())
        form.addRow(self.resume_check)
        self.set_resumable(False)
        return group

    def _build_buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.start_button = _button("Start", "startTrainingButton", self._on_start)
        self.start_button.setDefault(True)
        self.pause_button = _button("Pause", "pauseTrainingButton", self._on_pause)
        self.stop_button = _button("Stop", "stopTrainingButton", self.stopRequested.emit)
        for button in (self.start_button, self.pause_button, self.stop_button):
            row.addWidget(button)
        return row

    def _row(self, form: QFormLayout, label: str, field: QWidget, section: str, key: str) -> None:
        """Add a labelled field whose value is ``settings()[section][key]``."""
        field.setToolTip(TIPS[key])
        form.addRow(label, field)
        self._fields[(section, key)] = field

    def _align_label_columns(self) -> None:
        # Separate forms size their label columns separately; one width reads as one form.
        labels = [
            form.labelForField(form.itemAt(row, QFormLayout.ItemRole.FieldRole).widget())
            for form in self.findChildren(QFormLayout)
            for row in range(form.rowCount())
            if form.itemAt(row, QFormLayout.ItemRole.FieldRole) is not None
        ]
        labels = [label for label in labels if isinstance(label, QLabel)]
        width = max((label.sizeHint().width() for label in labels), default=0)
        for label in labels:
            label.setMinimumWidth(width)

    # ---------------------------------------------------------------- data choice
    def _data_kind(self) -> str:
        return str(self.data_combo.currentData())

    def _on_data_activated(self, index: int) -> None:
        kind = str(self.data_combo.itemData(index))
        if kind in FILE_KINDS:
            path = self._ask_path(kind)
            if not path:
                # Cancelled: go back to the previous choice and its path.
                self.data_combo.setCurrentIndex(self._data_index)
                self._update_data_rows()
                return
            self._paths[kind] = path
        self._data_index = index
        self._update_data_rows()

    def _ask_path(self, kind: str) -> str | None:
        """Ask for a folder or a file of the given kind; None when the user cancels."""
        start = os.path.dirname(self._paths.get(kind, "")) or os.path.expanduser("~")
        if kind == "folder":
            path = QFileDialog.getExistingDirectory(self, "Choose an image folder", start)
        else:
            title = "Choose an IDX file" if kind == "idx" else "Choose a NumPy array"
            path, _ = QFileDialog.getOpenFileName(self, title, start, _FILE_FILTERS[kind])
        return path or None

    def _update_data_rows(self) -> None:
        kind = self._data_kind()
        path = self._paths.get(kind, "") if kind in FILE_KINDS else ""
        self.path_label.setText(path)
        self.path_label.setToolTip(path)
        self._data_form.setRowVisible(self.path_label, bool(path))
        self._data_form.setRowVisible(self.image_size_spin, kind == "folder")
        self._data_form.setRowVisible(self.color_combo, kind == "folder")

    # ---------------------------------------------------------------- model fields
    def _update_model_fields(self) -> None:
        # Continuing a model keeps its architecture: the Model settings do not apply then.
        self._model_group.setEnabled(self._state == "idle" and not self._resuming())
        family = str(self.family_combo.currentData())
        variational = family in ("vae", "beta-vae", "cvae")
        # Only the fields that mean something for this family stay editable.
        self.beta_spin.setEnabled(family == "beta-vae")
        self.warmup_spin.setEnabled(variational)
        self.arch_combo.setEnabled(family != "pca")
        self.likelihood_combo.setEnabled(family != "pca")

    # ---------------------------------------------------------------- buttons
    def _on_start(self) -> None:
        self.startRequested.emit(self.settings())

    def _on_pause(self) -> None:
        if self._state == "paused":
            self.resumeRequested.emit()
        elif self._state == "running":
            self.pauseRequested.emit()

    # ---------------------------------------------------------------- public API
    def state(self) -> str:
        """The state last set with :meth:`set_state`."""
        return self._state

    def set_state(self, state: str) -> None:
        """Enable the controls that make sense in ``state`` (idle, running, paused, stopping)."""
        if state not in STATES:
            raise ValueError(f"unknown training state {state!r}; expected one of {STATES}")
        self._state = state
        idle = state == "idle"
        for group in (self._data_group, self._model_group, self._train_group):
            group.setEnabled(idle)
        self._model_group.setEnabled(idle and not self._resuming())
        self.start_button.setEnabled(idle)
        self.pause_button.setEnabled(state in ("running", "paused"))
        self.pause_button.setText("Resume" if state == "paused" else "Pause")
        self.stop_button.setEnabled(state in ("running", "paused"))

    def set_progress(self, epoch: int, epochs: int, fraction: float, eta_s: float, images_per_s: float) -> None:
        """Show how far the run is: ``fraction`` (0..1) covers the whole run."""
        text = format_progress(epoch, epochs, fraction, eta_s, images_per_s)
        share = min(max(fraction, 0.0), 1.0) if is_number(fraction) else 0.0
        self.progress.setValue(int(share * self.progress.maximum()))
        self.progress.setFormat(text)

    def set_status(self, text: str) -> None:
        """Show one line of status (the last event, an error summary, the final loss)."""
        self.status.setText(text)

    def set_devices(self, devices: list[str]) -> None:
        """Offer CUDA / MPS in the device list only when they are in ``devices``."""
        wanted = {str(d).lower().split(":")[0] for d in devices}
        current = self.device_combo.currentData()
        while self.device_combo.count() > 2:
            self.device_combo.removeItem(2)
        for key, label in OPTIONAL_DEVICES:
            if key in wanted:
                self.device_combo.addItem(label, key)
        if not select_key(self.device_combo, current):
            select_key(self.device_combo, "auto")

    def set_resumable(self, available: bool, model: dict[str, Any] | None = None) -> None:
        """Offer "continue training" for a loaded model; ``model`` (a ModelConfig dict) fills
        the Model fields so the panel describes the model on screen."""
        if model:
            self.apply_settings({"model": model})
        self.resume_check.setEnabled(available)
        if not available:
            self.resume_check.setChecked(False)
        self._update_model_fields()

    def _resuming(self) -> bool:
        return self.resume_check.isEnabled() and self.resume_check.isChecked()

    def settings(self) -> dict[str, Any]:
        """The form as the dict :attr:`startRequested` carries (data / model / train, and
        ``"resume": True`` when the loaded model is to be continued)."""
        kind = self._data_kind()
        out: dict[str, dict[str, Any]] = {"data": {}, "model": {}, "train": {}}
        for (section, key), field in self._fields.items():
            out[section][key] = read_field(field)
        out["data"]["spec"] = self._paths.get(kind, "") if kind in FILE_KINDS else kind
        if kind != "folder":
            out["data"]["image_size"] = None
        if self._resuming():
            out["resume"] = True  # type: ignore[assignment]
        return out

    def apply_settings(self, d: dict[str, Any]) -> None:
        """Restore a dict from :meth:`settings`; unknown or invalid values are skipped.

        A remembered path that no longer exists is skipped too. Call :meth:`set_devices`
        first, or a remembered "cuda" / "mps" device is not offered yet and is skipped.
        """
        d = _section(d)
        for (section, key), field in self._fields.items():
            values = _section(d.get(section))
            if key in values:
                write_field(field, values[key])
        self._apply_spec(_section(d.get("data")).get("spec"))
        self._update_model_fields()

    def _apply_spec(self, spec: object) -> None:
        if not isinstance(spec, str) or not spec or spec in FILE_KINDS:
            return   # a file kind without its path is not a usable choice
        if not select_key(self.data_combo, spec):
            kind = _kind_of_path(spec)
            if kind is None:
                return
            self._paths[kind] = spec
            select_key(self.data_combo, kind)
        self._data_index = self.data_combo.currentIndex()
        self._update_data_rows()


def _kind_of_path(path: str) -> str | None:
    """Which file choice an existing path belongs to; None when it does not exist."""
    if os.path.isdir(path):
        return "folder"
    if not os.path.isfile(path):
        return None
    if path.lower().endswith((".npz", ".npy")):
        return "npz"
    return "idx"
