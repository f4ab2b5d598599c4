"""The training panel: what to train on, which model, how to train, and Start/Pause/Stop.

The panel holds no training logic. It keeps two things apart:

* the person's **choices** for the next run (data, family, architecture, latent size, β,
  epochs, learning rate, …): :meth:`TrainingPanel.choices` / :meth:`apply_choices` save
  and restore them, and nothing else writes into them;
* a read-only **description of the loaded model** (:meth:`describe_model`), with the
  "Continue training the loaded model" tick.

Start turns the form into core :class:`~latentlab.core.training_settings.TrainingSettings`
(:meth:`settings`) and emits it; the controller plans the run, runs the worker and reports
back through :meth:`set_state`, :meth:`set_progress`, :meth:`set_status` and, when a run ends, :meth:`show_result`.
A number that cannot be used is marked at its field and Start stays disabled, with the
reason shown above it (:meth:`problems`). It must not import torch: the window paints
before torch loads. The number fields and helpers are in
:mod:`latentlab.gui.views.training_fields`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QProgressBar, QPushButton,
    QVBoxLayout, QWidget,
)
from superqt import QElidingLabel

from latentlab.core.errors import LatentLabError
from latentlab.core.models import registry
from latentlab.core.training_settings import TrainingSettings
from latentlab.gui.views.formatting import PRECISION_WORDS, format_loss, format_progress, is_number
from latentlab.gui.views.labelled_field import TIP as LABELLED_TIP
from latentlab.gui.views.labelled_field import LabelledField
from latentlab.gui.views.training_fields import (
    NumberField, combo_box, form_group, read_field, select_key, write_field,
)

# (key, label); a key that is also in FILE_KINDS asks for a path when chosen.
DATA_CHOICES = (
    ("mnist", "MNIST digits (bundled)"),
    ("moons", "Moons (procedural)"),
    ("shapes", "Shapes (procedural)"),
    ("fashion-mnist", "Fashion-MNIST (download, 31 MB)"),
    ("kmnist", "Kuzushiji-MNIST (download, 21 MB)"),
    ("mnist-full", "MNIST, all 60,000 (download, 12 MB)"),
    ("emnist-letters", "EMNIST letters (download, 562 MB)"),
    ("cifar10", "CIFAR-10 (download, 170 MB)"),
    ("folder", "Image folder…"),
    ("idx", "IDX file…"),
    ("npz", "NumPy array (.npz/.npy)…"),
    ("strokes", "Pen-stroke digits (procedural)"),
    ("waves", "Waves (procedural signals)"),
    ("stream", "Stream (procedural series)"),
    ("csv", "CSV series…"),
)
FILE_KINDS = ("folder", "idx", "npz", "csv")
# Sources of sequences, and those cut into windows of a long series (the window fields show).
SEQUENCE_CHOICES = ("strokes", "waves", "stream", "csv")
WINDOWED_CHOICES = ("stream", "csv")
ARCH_CHOICES = (("mlp", "MLP"), ("conv", "Convolutional"), ("gru", "Recurrent (GRU)"))
LIKELIHOOD_CHOICES = (("bernoulli", "Bernoulli"), ("gaussian", "Gaussian"))
COLOR_CHOICES = (("auto", "Auto"), ("gray", "Grayscale"), ("rgb", "RGB"))
OPTIONAL_DEVICES = (("cuda", "CUDA"), ("mps", "MPS"))
STATES = ("idle", "running", "paused", "stopping")
# What show_result understands; "cancelled" is the trainer's word for a stop.
RESULTS = ("finished", "stopped", "cancelled", "diverged")

_FILE_FILTERS = {
    "idx": "IDX files (*-ubyte *-ubyte.gz *.idx *.idx.gz);;All files (*)",
    "npz": "NumPy arrays (*.npz *.npy);;All files (*)",
    "csv": "Series (*.csv);;All files (*)",
}
# The limits that have a reason: the model and image loaders refuse anything outside them.
MAX_LATENT_DIM = 256
MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 4, 512
MAX_SEED = 2**63 - 1
# One sentence per field, shown as its tooltip.
TIPS = {
    "spec": "The data to train on: images or sequences, bundled, generated, or your own files.",
    "window": "Steps per window cut from the long series; a stream model reads windows of this length.",
    "stride": "Steps from one window's start to the next (smaller: more, overlapping windows).",
    "image_size": "Images from the folder are resized to this many pixels on each side.",
    "color": "Keep the folder's colours (RGB), convert to grayscale, or decide from the images (Auto).",
    "family": "The kind of autoencoder: plain, variational, β-weighted, conditional, or a PCA baseline.",
    "arch": "Fully connected layers (MLP) or convolutions, which suit larger images.",
    "latent_dim": "Number of latent dimensions (1 to 256); 2 can be drawn directly as a plane.",
    "beta": "Weight of the KL term; above 1 trades sharpness for a tidier latent space. Each family starts "
            "from its own default.",
    "kl_warmup_epochs": "Epochs over which the KL weight ramps up from 0, which helps avoid posterior collapse.",
    "likelihood": "How reconstructions are scored: Bernoulli for near-binary images, Gaussian for photos.",
    "epochs": "Number of passes over the training data.",
    "batch_size": "Images per optimiser step; larger is faster per image but needs more memory.",
    "lr": "Adam step size; type a value like 1e-3, or step along 1-2-5 with the arrows.",
    "device": "Where to train: Auto picks a GPU when one is available, else the CPU.",
    "precision": "How the steps compute. Auto is float32, except the GAN and the VAE-GAN on a CPU with native "
                 "bfloat16 arithmetic, which train in bfloat16 there: faster, with the same sample quality. "
                 "float32 or bfloat16 chooses for every model.",
    "seed": "Random seed for the split, initial weights and batch order; the same seed repeats a run.",
    "labelled": LABELLED_TIP,
    "startTrainingButton": "Train with these settings.",
    "pauseTrainingButton": "Pause training after the current step, or resume it.",
    "stopTrainingButton": "Stop training and keep the weights learned so far.",
}
_NOT_STARTED = "Not started"
# What a field that does not apply to the run contributes to settings() (None: the default).
# The settings a family may not read: their fields are disabled for it, saying so.
_FAMILY_SETTINGS = ("arch", "likelihood", "beta", "kl_warmup_epochs")
#: What the form reads from a loaded model's description (whether it can continue, its family).
_FORM_READS = ("resumable", "family")
# Settings whose field starts from the chosen family's default (the command line's default).
_FAMILY_DEFAULTS = {"beta": 1.0, "kl_warmup_epochs": 0}
_NEUTRAL: dict[str, Any] = {"image_size": None, "color": "auto", "beta": 1.0, "kl_warmup_epochs": 0,
                            "labelled": None}


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

    startRequested = Signal(object)   # TrainingSettings
    pauseRequested = Signal()
    resumeRequested = Signal()
    stopRequested = Signal()
    problemsChanged = Signal(list)   # the sentences of problems() whenever they change
    dataChosen = Signal(str)   # a data set chosen by name (a standard one may need downloading first)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainingPanel")
        self._state = "idle"
        self._paths: dict[str, str] = {}
        self._data_index = 0   # the last data choice that had everything it needs
        self._previous_data_index = 0   # the one before it (undo_data_choice)
        self._fields: dict[tuple[str, str], QWidget] = {}
        self._problems: list[str] = []
        self._last_progress: tuple[int, int, float] | None = None   # epoch, epochs, fraction
        # What only a running run shows: time left, speed and precision.
        self._last_running: tuple[float, float, str] = (float("nan"), float("nan"), "fp32")
        self._result_prefix = ""   # how the last run ended ("Stopped"), shown with its progress
        self._desc: dict[str, Any] | None = None
        self._defaults_for: str | None = None   # the family whose values the β and warm-up fields show
        self._typed: dict[str, dict[str, str]] = {}   # per family, what was typed in those fields
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        self._loaded_group = self._build_loaded_group()
        self._data_group = self._build_data_group()
        self._model_group = self._build_model_group()
        self._train_group = self._build_train_group()
        self.problems_label = QLabel()
        self.problems_label.setObjectName("trainingProblems")
        self.problems_label.setWordWrap(True)
        self.problems_label.setStyleSheet("color: #d03c3c;")
        # The controls come first: nothing above them changes height (the loaded-model box
        # grows and shrinks with its description), so Start, Pause and Stop never move.
        layout.addLayout(self._build_buttons())
        self.timelapse_check = QCheckBox("Record time-lapse")
        self.timelapse_check.setObjectName("timelapseCheckBox")
        self.timelapse_check.setToolTip("Take a frame of the plane and the decoded probe at every snapshot "
                                        "while training; saved as MP4 or GIF when the run ends.")
        layout.addWidget(self.timelapse_check)
        layout.addLayout(self._build_progress())
        self.status = QLabel("Ready.")
        self.status.setObjectName("trainingStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status)
        layout.addWidget(self.problems_label)
        for group in (self._loaded_group, self._data_group, self._model_group, self._train_group):
            layout.addWidget(group)
        self._align_label_columns()
        layout.addStretch(1)
        self._update_data_rows()
        self.describe_model(None)
        self.set_state("idle")

    # ---------------------------------------------------------------- building
    def _build_loaded_group(self) -> QGroupBox:
        group = QGroupBox("Loaded model")
        group.setObjectName("loadedModelBox")
        box = QVBoxLayout(group)
        box.setContentsMargins(6, 4, 6, 4)
        box.setSpacing(3)
        self.model_label = QLabel()
        self.model_label.setObjectName("loadedModelLabel")
        self.model_label.setWordWrap(True)
        self.model_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.addWidget(self.model_label)
        self.resume_check = QCheckBox("Continue training the loaded model")
        self.resume_check.setObjectName("resumeCheckBox")
        self.resume_check.setToolTip("Start from the weights of the loaded model instead of a new one; "
                                     "its architecture is used and the Model settings below wait for a new model.")
        self.resume_check.toggled.connect(lambda _checked: self._update_model_fields())
        box.addWidget(self.resume_check)
        return group

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
        self.image_size_spin = NumberField("Image size", int, 32, minimum=MIN_IMAGE_SIZE, maximum=MAX_IMAGE_SIZE,
                                           why_maximum="the largest size images can be resized to")
        self._row(form, "Image &size (px)", self.image_size_spin, "data", "image_size")
        self.color_combo = combo_box(COLOR_CHOICES)
        self._row(form, "&Colour", self.color_combo, "data", "color")
        self.window_spin = NumberField("Window", int, 64, minimum=2, maximum=4096,
                                       why_maximum="the longest sequence a model reads")
        self._row(form, "&Window (steps)", self.window_spin, "data", "window")
        self.stride_spin = NumberField("Stride", int, 16, minimum=1)
        self._row(form, "S&tride (steps)", self.stride_spin, "data", "stride")
        self._data_form = form
        return group

    def _build_model_group(self) -> QGroupBox:
        group, form = form_group("Model")
        offered = [f for f in registry.families() if not _wraps_own_code(f)]
        self.family_combo = combo_box(tuple((f.name, f.title) for f in offered))
        for row, family in enumerate(offered):   # the registry's one-line description
            self.family_combo.setItemData(row, family.description, Qt.ItemDataRole.ToolTipRole)
        select_key(self.family_combo, "vae")
        self.family_combo.currentIndexChanged.connect(self._update_model_fields)
        self._row(form, "&Family", self.family_combo, "model", "family")
        self.arch_combo = combo_box(ARCH_CHOICES)
        self._row(form, "&Architecture", self.arch_combo, "model", "arch")
        self.latent_spin = NumberField("Latent dim", int, 2, minimum=1, maximum=MAX_LATENT_DIM,
                                       why_maximum="the most a model supports")
        self._row(form, "&Latent dim", self.latent_spin, "model", "latent_dim")
        self.beta_spin = NumberField("β", float, 4.0, positive=True)
        self._row(form, "&β", self.beta_spin, "model", "beta")
        self.warmup_spin = NumberField("KL warm-up", int, 0, minimum=0)
        self._row(form, "KL &warm-up", self.warmup_spin, "model", "kl_warmup_epochs")
        self.likelihood_combo = combo_box(LIKELIHOOD_CHOICES)
        self._row(form, "Li&kelihood", self.likelihood_combo, "model", "likelihood")
        return group

    def _build_train_group(self) -> QGroupBox:
        group, form = form_group("Training")
        self.epochs_spin = NumberField("Epochs", int, 20, minimum=1)
        self._row(form, "&Epochs", self.epochs_spin, "train", "epochs")
        self.batch_spin = NumberField("Batch size", int, 128, minimum=1)
        self._row(form, "&Batch size", self.batch_spin, "train", "batch_size")
        self.lr_spin = NumberField("Learning rate", float, 1e-3, positive=True, ladder=True)
        self._row(form, "Learning &rate", self.lr_spin, "train", "lr")
        self.device_combo = combo_box((("auto", "Auto"), ("cpu", "CPU")))
        self._row(form, "&Device", self.device_combo, "train", "device")
        self.precision_combo = combo_box((("auto", "Auto"), *((k, PRECISION_WORDS[k]) for k in ("fp32", "bf16"))))
        self._row(form, "&Precision", self.precision_combo, "train", "precision")
        self.seed_spin = NumberField("Seed", int, 0, minimum=0, maximum=MAX_SEED,
                                     why_maximum="seeds are 63-bit numbers")
        self._row(form, "S&eed", self.seed_spin, "train", "seed")
        self.labelled_spin = LabelledField()   # TrainingSettings.labelled; None is every label
        self._row(form, "Labelled &images", self.labelled_spin, "train", "labelled")
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

    def _build_progress(self) -> QVBoxLayout:
        # The words sit above a thin bar, never on it: text drawn over the bar's fill loses
        # letters at the fill's edge where its colour meets the empty part.
        column = QVBoxLayout()
        column.setSpacing(2)
        self.progress_label = QElidingLabel(_NOT_STARTED)
        self.progress_label.setObjectName("trainingProgressText")
        column.addWidget(self.progress_label)
        self.progress = QProgressBar()
        self.progress.setObjectName("trainingProgress")
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(False)
        self.progress.setFixedHeight(8)
        self.progress.setToolTip("Progress of the whole run, the time left and the training speed "
                                 "(and the precision, when a run trains in bfloat16).")
        column.addWidget(self.progress)
        return column

    def _row(self, form: QFormLayout, label: str, field: QWidget, section: str, key: str) -> None:
        """Add a labelled field whose value is the setting ``key`` (``choices()[section][key]``)."""
        if isinstance(field, NumberField):
            field.set_tip(TIPS[key])
            field.edited.connect(self._update_problems)
        else:
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
        self._previous_data_index, self._data_index = self._data_index, index
        self._update_data_rows()
        if kind not in FILE_KINDS:
            self.dataChosen.emit(kind)

    def undo_data_choice(self) -> None:
        """Go back to the data chosen before (the last choice could not be fetched)."""
        self.data_combo.setCurrentIndex(self._previous_data_index)
        self._data_index = self.data_combo.currentIndex()
        self._update_data_rows()

    def _ask_path(self, kind: str) -> str | None:
        """Ask for a folder or a file of the given kind; None when the user cancels."""
        start = os.path.dirname(self._paths.get(kind, "")) or os.path.expanduser("~")
        if kind == "folder":
            path = QFileDialog.getExistingDirectory(self, "Choose an image folder", start)
        else:
            title = {"idx": "Choose an IDX file", "csv": "Choose a series (.csv)"}.get(kind, "Choose a NumPy array")
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
        self._data_form.setRowVisible(self.window_spin, kind in WINDOWED_CHOICES)
        self._data_form.setRowVisible(self.stride_spin, kind in WINDOWED_CHOICES)
        self._update_problems()

    # ---------------------------------------------------------------- model fields
    def _family(self) -> str:
        return str(self.family_combo.currentData())

    def _family_settings(self) -> tuple[str, ...]:
        """The common model settings the chosen family reads (from the family registry)."""
        try:
            return tuple(registry.get(self._family()).settings)
        except LatentLabError:
            return ()

    def _show_family_values(self, family: str) -> None:
        """The β and KL warm-up fields show what was typed for ``family``, else its own default
        (as on the command line: a β-VAE's β is 4, an RVAE warms its KL up over 2 epochs)."""
        if self._defaults_for is not None:
            self._typed[self._defaults_for] = {key: self._fields[("model", key)].text() for key in _FAMILY_DEFAULTS}
        self._defaults_for = family
        typed = self._typed.get(family, {})
        for key, fallback in _FAMILY_DEFAULTS.items():
            field = self._fields[("model", key)]
            if key in typed:
                field.lineEdit().setText(typed[key])
            else:
                write_field(field, self._family_default(key, fallback))

    def _family_default(self, key: str, fallback: Any) -> Any:
        try:
            return registry.get(self._family()).default(key, fallback)
        except LatentLabError:
            return fallback

    def _family_title(self) -> str:
        try:
            return registry.get(self._family()).title
        except LatentLabError:
            return self._family()

    def _family_description(self) -> str:
        try:
            return registry.get(self._family()).description
        except LatentLabError:
            return TIPS["family"]

    def _update_model_fields(self) -> None:
        # Continuing a model keeps its architecture: the Model settings do not apply then.
        resuming = self._resuming()
        self._model_group.setEnabled(self._state == "idle" and not resuming)
        self._model_group.setTitle("Model — for a new model only" if resuming else "Model")
        reads = self._family_settings()
        family = self._family()
        if family != self._defaults_for:
            self._show_family_values(family)
        # Only the fields that mean something for this family stay editable; the others say why not.
        for key in _FAMILY_SETTINGS:
            field = self._fields[("model", key)]
            field.setEnabled(key in reads)
            tip = TIPS[key] if key in reads else f"The {self._family_title()} family does not use this setting."
            if isinstance(field, NumberField):
                field.set_tip(tip)
            else:
                field.setToolTip(tip)
        self.labelled_spin.set_available(self._classifies())
        offer_archs(self.arch_combo, self._family())
        self.family_combo.setToolTip(self._family_description())
        self._update_problems()

    def _applies(self, section: str, key: str) -> bool:
        """Whether a field's value is used by a run started now."""
        if section == "data" and key in ("image_size", "color"):
            return self._data_kind() == "folder"
        if section == "data" and key in ("window", "stride"):
            return self._data_kind() in WINDOWED_CHOICES
        if section == "model":
            if self._resuming():
                return False
            if key in ("beta", "kl_warmup_epochs"):
                return key in self._family_settings()
        if key == "labelled":
            return self._classifies()
        return True

    def _classifies(self) -> bool:
        """Whether the model a run started now trains is of a family that classifies."""
        family = (self._desc or {}).get("family") if self._resuming() else self._family()
        try:
            return bool(registry.get(str(family)).capabilities.classifies)
        except LatentLabError:
            return False

    # ---------------------------------------------------------------- problems
    def problems(self) -> list[str]:
        """Why Start is disabled: one sentence per field that cannot be used (empty: none)."""
        return list(self._problems)

    def _current_problems(self) -> list[str]:
        problems = [field.problem() for (section, key), field in self._fields.items()
                    if isinstance(field, NumberField) and self._applies(section, key)]
        problems = [p for p in problems if p]
        if self._data_kind() in FILE_KINDS and not self._paths.get(self._data_kind()):
            problems.append("Choose the data's file or folder.")
        mismatch = kind_mismatch(self._family(), self._data_kind())
        if mismatch and not self._resuming():
            problems.append(mismatch)
        return problems

    def _update_problems(self) -> None:
        problems = self._current_problems()
        changed = problems != self._problems
        self._problems = problems
        self.problems_label.setText("\n".join(f"• {p}" for p in problems))
        self.problems_label.setVisible(bool(problems))
        self._update_start()
        if changed:
            self.problemsChanged.emit(list(problems))

    def _update_start(self) -> None:
        ready = self._state == "idle" and not self._problems
        self.start_button.setEnabled(ready)
        tip = TIPS["startTrainingButton"]
        if self._problems:
            tip += " Fix the marked fields first."
        self.start_button.setToolTip(tip)

    # ---------------------------------------------------------------- buttons
    def _on_start(self) -> None:
        if self._problems or self._state != "idle":
            return
        self._result_prefix = ""
        self._last_progress = None
        self.progress.setValue(0)
        self.progress_label.setText("Starting…")
        self.startRequested.emit(self.settings())

    def _on_pause(self) -> None:
        if self._state == "paused":
            self.resumeRequested.emit()
        elif self._state == "running":
            self.pauseRequested.emit()

    # ---------------------------------------------------------------- run state
    def state(self) -> str:
        """The state last set with :meth:`set_state`."""
        return self._state

    def set_state(self, state: str) -> None:
        """Enable the controls that make sense in ``state`` (idle, running, paused, stopping)."""
        if state not in STATES:
            raise ValueError(f"unknown training state {state!r}; expected one of {STATES}")
        self._state = state
        idle = state == "idle"
        for group in (self._loaded_group, self._data_group, self._train_group):
            group.setEnabled(idle)
        self._update_model_fields()
        self.pause_button.setEnabled(state in ("running", "paused"))
        self.pause_button.setText("Resume" if state == "paused" else "Pause")
        self.stop_button.setEnabled(state in ("running", "paused"))
        self._show_progress_text()

    def set_progress(self, epoch: int, epochs: int, fraction: float, eta_s: float, images_per_s: float,
                     precision: str = "fp32") -> None:
        """Show how far the run is: ``fraction`` (0..1) covers the whole run.

        The time left, the speed and a precision other than float32 are shown only while
        training runs.
        """
        share = min(max(fraction, 0.0), 1.0) if is_number(fraction) else 0.0
        self._last_progress = (int(epoch), int(epochs), share)
        self._last_running = (eta_s, images_per_s, precision)
        self.progress.setValue(int(share * self.progress.maximum()))
        self._show_progress_text()

    def progress_text(self) -> str:
        """The words shown with the progress bar."""
        return self.progress_label.text()

    def _show_progress_text(self) -> None:
        if self._last_progress is None:
            text = {"running": "Starting…", "stopping": "Stopping…"}.get(self._state, _NOT_STARTED)
            self.progress_label.setText(self._result_prefix or text)
            return
        epoch, epochs, share = self._last_progress
        if self._state == "running" and not self._result_prefix:
            text = format_progress(epoch, epochs, share, *self._last_running)
        else:
            # No ETA once training is not running: it would count down to nothing.
            text = format_progress(epoch, epochs, share, float("nan"), float("nan")).split(" · ETA")[0]
            prefix = self._result_prefix or {"paused": "Paused", "stopping": "Stopping…"}.get(self._state)
            if prefix:
                text = f"{prefix} · {text}"
        self.progress_label.setText(text)

    def set_status(self, text: str) -> None:
        """Show one line of status (the last event, an error summary, the final loss)."""
        self.status.setText(text)

    def show_result(self, status: str, epoch: int, epochs: int, loss: float | None = None,
                    message: str = "") -> None:
        """Say how a run ended.

        Parameters
        ----------
        status
            ``"finished"``, ``"stopped"`` (or the trainer's ``"cancelled"``) or ``"diverged"``.
        epoch, epochs
            The epoch the run was in when it ended (1-based) and the epochs asked for.
        loss
            The last validation (or training) loss, if known.
        message
            Extra words for a divergence (what broke, what to try).
        """
        if status not in RESULTS:
            raise ValueError(f"unknown training result {status!r}; expected one of {RESULTS}")
        tail = f" Validation loss {format_loss(loss)}." if is_number(loss) else ""
        if status == "finished":
            self._last_progress = (int(epochs), int(epochs), 1.0)
            self.progress.setValue(self.progress.maximum())
            self._result_prefix = "Finished"
            text = f"Finished all {epochs} epochs.{tail}"
        elif status == "diverged":
            self._result_prefix = "Diverged"
            text = message or (f"Training diverged at epoch {epoch} of {epochs}; the last good weights are "
                               "kept. Try a lower learning rate.")
        else:
            self._result_prefix = "Stopped"
            text = f"Stopped at epoch {epoch} of {epochs} — the model trained so far is kept.{tail}"
        if self._last_progress is None:
            self._last_progress = (int(epoch), int(epochs), 0.0)
        self.status.setText(text)
        self._show_progress_text()

    # ---------------------------------------------------------------- devices
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

    # ---------------------------------------------------------------- loaded model
    def describe_model(self, desc: Mapping[str, Any] | None) -> None:
        """Describe the loaded model (read-only) and offer to continue it; None: no model.

        ``desc`` may hold a ModelConfig dict's keys (``family``, ``arch``, ``hidden``,
        ``latent_dim``, ``input_shape``) and ``epochs`` (epochs trained so far), ``data``
        (the name of the data it was trained on), ``training`` (a run is training it now) and ``resumable`` (whether it can continue
        on the data now chosen; default True). The choices in the form are not touched.
        """
        if not desc:
            self._desc = None
            self.model_label.setText("")
            self._loaded_group.setVisible(False)
            self.set_resumable(False)
            return
        shown = self._loaded_group.isVisibleTo(self)
        if self._desc == dict(desc) and shown:
            return   # the same again (a running model is described at every progress report)
        previous, self._desc = self._desc, dict(desc)
        self.model_label.setText(describe_text(self._desc))
        self._loaded_group.setVisible(True)
        if shown and previous is not None and all(previous.get(k) == self._desc.get(k) for k in _FORM_READS):
            return   # only the words changed (a running model's epochs): the form stays as it is
        # A wrapped model (a person's own code, ONNX graphs) is shown, never trained here.
        self.set_resumable(bool(self._desc.get("resumable", True)) and not _family_wraps_own_code(desc.get("family")))

    def model_description(self) -> str:
        """The text describing the loaded model ("" when there is none)."""
        return self.model_label.text() if self._desc else ""

    def set_resumable(self, available: bool, model: Mapping[str, Any] | None = None) -> None:
        """Whether the loaded model can be continued; ``model`` (a ModelConfig dict), when
        given, is described as by :meth:`describe_model`. The form's choices stay as they are."""
        if model:
            self.describe_model({**model, "resumable": available})
            return
        # A wrapped model (a person's own code, ONNX graphs) is shown, never trained here.
        available = available and not _family_wraps_own_code((self._desc or {}).get("family"))
        self.resume_check.setEnabled(available)
        if not available:
            self.resume_check.setChecked(False)
        self._update_model_fields()

    def _resuming(self) -> bool:
        return self.resume_check.isEnabled() and self.resume_check.isChecked()

    # ---------------------------------------------------------------- choices and settings
    def settings(self) -> TrainingSettings | None:
        """What :attr:`startRequested` carries: the run the form describes, or None while a
        field that applies cannot be used (:meth:`problems` then says why; Start is disabled).

        Fields that do not apply are given their neutral value (β 1 unless the family reads
        β, no image size and automatic colour unless the data is a folder, no KL warm-up
        unless the family reads it). ``continue_training`` is the "Continue training the
        loaded model" tick; the Model settings then wait for a new model, and one that cannot
        be read keeps the default (the loaded model's own settings are used).
        """
        if self._current_problems():
            return None
        kind = self._data_kind()
        values: dict[str, Any] = {}
        for (section, key), field in self._fields.items():
            value = read_field(field)
            if not self._applies(section, key):
                # E.g. the β field is offered only to families that read it; the others get 1.
                value = _NEUTRAL.get(key, value)
            if value is not None:
                values[key] = value
        spec: Any = self._paths.get(kind, "") if kind in FILE_KINDS else kind
        window, stride = values.pop("window", None), values.pop("stride", None)
        if kind in WINDOWED_CHOICES:
            spec = {"kind": "series", "path": spec} if kind == "csv" else {"kind": "stream"}
            spec.update(window=window, stride=stride)
        values["arch"] = family_arch(values.get("family", ""), values.get("arch", "mlp"))
        return TrainingSettings(data=spec, continue_training=self._resuming(), **values)

    def choices(self) -> dict[str, Any]:
        """The person's choices for the next run, to remember between launches.

        The form's values as typed (β even while the family does not use it); fields that
        cannot be used are left out, so :meth:`apply_choices` keeps its default for them.
        """
        kind = self._data_kind()
        out: dict[str, dict[str, Any]] = {"data": {}, "model": {}, "train": {}}
        for (section, key), field in self._fields.items():
            value = read_field(field)
            if value is not None:
                out[section][key] = value
        out["data"]["spec"] = self._paths.get(kind, "") if kind in FILE_KINDS else kind
        return out

    def apply_choices(self, d: Mapping[str, Any]) -> None:
        """Restore a dict from :meth:`choices`; unknown or invalid values are skipped.

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

    apply_settings = apply_choices

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


def family_arch(family: str, arch: str) -> str:
    """``arch`` when the family offers it, else the family's first (the field is disabled then)."""
    try:
        archs = registry.get(family).archs
    except LatentLabError:
        return arch
    return arch if arch in archs else archs[0]


def offer_archs(box: Any, family: str) -> None:
    """Enable only the architectures ``family`` offers; a choice it lacks moves to its first."""
    try:
        archs = registry.get(family).archs
    except LatentLabError:
        return
    for row in range(box.count()):
        box.model().item(row).setEnabled(box.itemData(row) in archs)
    if box.currentData() not in archs:
        select_key(box, family_arch(family, str(box.currentData())))


def kind_mismatch(family: str, data_kind: str) -> str | None:
    """Why a family cannot train on a data choice (images vs sequences), or None."""
    try:
        fam = registry.get(family)
    except LatentLabError:
        return None
    output = fam.capabilities.output
    if data_kind in SEQUENCE_CHOICES and output != "sequence":
        return f"The {fam.title} family models {output}s; choose a sequence family for this data."
    if data_kind in ("mnist", "moons", "shapes", "folder", "idx") and output == "sequence":
        return f"The {fam.title} family models sequences; choose sequence data (strokes, waves, a series)."
    return None


def family_choices() -> tuple[tuple[str, str], ...]:
    """``(name, title)`` of every registered model family, in the registry's order."""
    return tuple((family.name, family.title) for family in registry.families())


def _wraps_own_code(family: Any) -> bool:
    """A family of wrapped models (a person's own code, an ONNX graph): shown, never trained here."""
    return tuple(family.archs) == ("external",)


def _family_wraps_own_code(name: object) -> bool:
    return isinstance(name, str) and name in registry.names() and _wraps_own_code(registry.get(name))


def describe_text(desc: Mapping[str, Any]) -> str:
    """One or two lines about a model: "VAE · MLP 512-256 · latent 2" and what it was trained on."""
    names = dict(family_choices())
    family = desc.get("family")
    parts = [names.get(family, str(family)) if family else "Model"]
    if desc.get("family") != "pca":
        arch = desc.get("arch")
        hidden = desc.get("hidden")
        layers = "-".join(str(int(h)) for h in hidden) if _int_list(hidden) else ""
        if arch == "mlp":
            parts.append(f"MLP {layers}".strip())
        elif arch == "conv":
            parts.append(f"conv {layers}".strip())
    if is_number(desc.get("latent_dim")):
        parts.append(f"latent {int(desc['latent_dim'])}")
    lines = [" · ".join(parts)]
    shape = desc.get("input_shape")
    images = ""
    if _int_list(shape) and len(shape) == 3:
        c, h, w = (int(v) for v in shape)
        images = f"{w}×{h} {'grey' if c == 1 else 'colour'} images"
    epochs, data, training = desc.get("epochs"), desc.get("data"), bool(desc.get("training"))
    on = f" on {data}" if data else ""
    trained = f"trained on {data}" if data else ""
    if is_number(epochs):
        count = int(epochs)
        if count > 0:
            trained = f"trained {count} epoch{'s' if count != 1 else ''}{on}" + (", training now" if training else "")
        else:
            trained = f"training now{on}" if training else "not trained yet"
    elif training:
        trained = f"training now{on}"
    own = _family_wraps_own_code(family)
    if own:
        trained = "made outside LatentLab"
    second = ", ".join(p for p in (images, trained) if p)
    if second:
        lines.append(second[0].upper() + second[1:])
    if own:
        lines.append("Explored as it is; its training stays with its own code.")
    elif desc.get("resumable") is False:
        lines.append("It cannot continue on the data chosen now (its images differ).")
    return "\n".join(lines)


def _int_list(value: object) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str) and bool(value) \
        and all(is_number(v) for v in value)


def _kind_of_path(path: str) -> str | None:
    """Which file choice an existing path belongs to; None when it does not exist."""
    if os.path.isdir(path):
        return "folder"
    if not os.path.isfile(path):
        return None
    if path.lower().endswith((".npz", ".npy")):
        return "npz"
    if path.lower().endswith(".csv"):
        return "csv"
    return "idx"
