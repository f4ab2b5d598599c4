"""The denoise panel: one image, clean, noisy and as the model cleans it, with PSNR.

:class:`DenoiseTool` keeps the person's choices (which image, the kind of noise, its level,
the seed of the noise draw) and computes with :func:`latentlab.core.denoising.denoise_image`.
It is told what the window shows through plain values: :meth:`DenoiseTool.show_scene` (a
Scene: the model, the plane, the selected items), :meth:`DenoiseTool.show_probe` (a Probe)
and :meth:`DenoiseTool.weights_changed` (training moved the weights); the model itself comes
from a callable. It works only while its panel is on screen (:meth:`DenoiseTool.set_active`),
so a hidden tab costs nothing and leaves no arrow on the plane.

The image is the data item selected last (on the plane or in the Data tab) or the probe's
decode. The noise is drawn from a seeded generator with the level fixed, so moving the level
slider strengthens the same pattern instead of drawing a new one; "New noise" draws another.
``arrowChanged`` carries the plane coordinates of the clean image's code and the noisy
image's code, or None when no arrow should show (hidden panel, another model, no image).

:class:`DenoisePanel` (objectName ``"denoisePanel"``) shows it: the choices on the left,
clean / noisy / denoised side by side with the PSNR of the noisy and the denoised image.
A model without an encoder or with outputs that are not images disables the panel and says why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox, QFormLayout, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget,
)
from superqt import QLabeledDoubleSlider
from superqt.utils import qthrottled

from latentlab.core import inference
from latentlab.core.denoising import DenoiseResult, denoise_image, training_note, unusable_reason
from latentlab.core.errors import LatentLabError
from latentlab.core.models.denoise import NOISE_KINDS, NoiseSpec, noise_of
from latentlab.gui.views.decoded_view import DecodedView

#: (key, text in the chooser) of the images the panel can corrupt.
SOURCES = (("item", "Selected data item"), ("probe", "The probe's decode"))
KIND_TEXTS = {"gaussian": "Gaussian (σ)", "saltpepper": "Salt and pepper (fraction)", "mask": "Mask (fraction)"}
DEFAULT_LEVELS = {"gaussian": 0.5, "saltpepper": 0.2, "mask": 0.5}
#: The slider's top: stronger Gaussian noise leaves little of a [0, 1] image to look at.
SLIDER_MAX = {"gaussian": 2.0, "saltpepper": 1.0, "mask": 1.0}
LEVEL_STEP = 0.01
DECIMALS = 2
# A slider drag reports every pixel; one image through a small model takes a few ms, so
# the first move computes at once and the rest at most this often (always the last one).
UPDATE_MS = 30
CONTROLS_MAX_PX = 320

NO_MODEL = "Open or train a model to see how it cleans a noisy image."
NOT_READY = "The model is not ready yet: it is still being fitted."
NO_SELECTION = ("Select a data point on the plane or in the Data tab, or choose the probe's decode as "
                "the image.")
NO_FIT = "The data set on screen does not fit this model; choose the probe's decode as the image."
NO_PROBE = "Put the probe on the plane first."

Ends = tuple[np.ndarray, np.ndarray]


def level_range(kind: str, trained: NoiseSpec | None = None) -> tuple[float, float]:
    """The slider's range for ``kind``; wide enough for the level a model was trained with."""
    top = SLIDER_MAX[kind]
    if trained is not None and trained.kind == kind:
        top = max(top, trained.level)
    return LEVEL_STEP, top


def as_picture(image: np.ndarray) -> np.ndarray:
    """``[C, H, W]`` in [0, 1] → ``[H, W]`` (grey) or ``[H, W, 3]`` for a :class:`DecodedView`."""
    arr = np.asarray(image, dtype=np.float32)
    return arr[0] if arr.shape[0] == 1 else np.ascontiguousarray(arr[:3].transpose(1, 2, 0))


def psnr_text(value: float) -> str:
    """``12.34 dB``; identical images (no pixel changed) have no finite PSNR."""
    return "∞ (identical)" if not np.isfinite(value) else f"{value:.2f} dB"


class DenoiseTool(QObject):
    """The denoise panel's state and computation (see the module doc).

    Signals
    -------
    changed(): a new result, or a new reason why there is none; read :attr:`result`,
        :attr:`reason`, :attr:`usable`, :attr:`note` and :attr:`image_text`.
    settingsChanged(): the tool chose the kind and level itself (another model came: it
        starts from the noise that model was trained with).
    arrowChanged(object): ``(start, end)`` plane coordinates ``[2]`` of the clean and the
        noisy image's codes, or None to remove the arrow.
    """

    changed = Signal()
    settingsChanged = Signal()
    arrowChanged = Signal(object)

    def __init__(self, model: Callable[[], Any], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self._scene: Any = None
        self._probe: Any = None
        self._model_key: Any = None
        self._arrow: Ends | None = None
        self.source = "item"
        self.kind = "gaussian"
        self.level = DEFAULT_LEVELS["gaussian"]
        self.seed = 0
        self.active = False
        self.result: DenoiseResult | None = None
        #: Why there is no result (None when there is one).
        self.reason: str | None = NO_MODEL
        #: Whether the model can denoise at all (the panel's controls are enabled).
        self.usable = False
        self.note = ""
        self.image_text = ""
        self._update_soon = qthrottled(self.update_now, timeout=UPDATE_MS, leading=True, parent=self)

    # -- what the window shows --------------------------------------------------------
    def show_scene(self, scene: Any) -> None:
        """A new Scene: another model starts from its own training noise and drops the arrow."""
        self._scene = scene
        if scene.model_key != self._model_key:
            self._model_key = scene.model_key
            self._clear_arrow()
            trained = noise_of(scene.model_config) if scene.model_config is not None else None
            if trained is not None:
                self.kind, self.level = trained.kind, trained.level
            elif self.level > level_range(self.kind)[1]:
                self.level = DEFAULT_LEVELS[self.kind]
            self.settingsChanged.emit()
        self.schedule()

    def show_probe(self, probe: Any) -> None:
        """The probe moved: its decode is the image when the person chose it."""
        self._probe = probe
        if self.source == "probe":
            self.schedule()

    def weights_changed(self) -> None:
        """Training moved the weights: clean the image again."""
        self.schedule()

    def set_active(self, active: bool) -> None:
        """The panel shows (compute now) or is hidden (stop, remove the arrow)."""
        self.active = bool(active)
        if self.active:
            self._update_soon.cancel()
            self.update_now()
        else:
            self._update_soon.cancel()
            self._clear_arrow()

    # -- the person's choices -------------------------------------------------------------
    def trained_noise(self) -> NoiseSpec | None:
        scene = self._scene
        return None if scene is None or scene.model_config is None else noise_of(scene.model_config)

    def set_source(self, source: str) -> None:
        """``"item"`` (the data item selected last) or ``"probe"`` (the probe's decode)."""
        if source not in dict(SOURCES):
            raise LatentLabError(f"unknown image source '{source}' (choose from {', '.join(dict(SOURCES))})")
        if source != self.source:
            self.source = source
            self.schedule()

    def set_kind(self, kind: str) -> None:
        """The kind of noise; the level becomes that kind's usual one (the trained one if it is
        the kind the model was trained with)."""
        if kind not in NOISE_KINDS:
            raise LatentLabError(f"unknown noise '{kind}' (choose from {', '.join(NOISE_KINDS)})")
        if kind == self.kind:
            return
        trained = self.trained_noise()
        self.kind = kind
        self.level = trained.level if trained is not None and trained.kind == kind else DEFAULT_LEVELS[kind]
        self.settingsChanged.emit()
        self.schedule()

    def set_level(self, level: float) -> None:
        """The exact noise level (σ for Gaussian noise, the fraction of pixels otherwise)."""
        low, high = level_range(self.kind, self.trained_noise())
        level = round(float(level), DECIMALS)
        if not low <= level <= high:
            raise LatentLabError(f"the {self.kind} noise level must be between {low:g} and {high:g}, not {level:g}")
        if level != self.level:
            self.level = level
            self.schedule()

    def new_noise(self) -> None:
        """Draw another noise pattern."""
        self.seed += 1
        self.schedule()

    def spec(self) -> NoiseSpec:
        return NoiseSpec(self.kind, self.level)

    # -- computing ------------------------------------------------------------------------
    def schedule(self) -> None:
        """Compute soon (at once, then at most every :data:`UPDATE_MS`); nothing while hidden."""
        if self.active:
            self._update_soon()

    def update_now(self) -> None:
        """Corrupt and clean the chosen image with the current model and redraw the arrow."""
        if not self.active:
            return
        model, scene = self._model(), self._scene
        if model is not None and (scene is None or scene.model_config is not model.config):
            return   # another model is being put in place (its tools refresh first); its Scene follows
        self.result, self.image_text = None, ""
        self.reason = self._unusable(model)
        self.usable = self.reason is None
        self.note = training_note(model.config) if self.usable else ""
        if self.usable:
            try:
                image, label, self.image_text = self._clean_image(model)
                if image is not None:
                    self.result = denoise_image(model, image, self.spec(), seed=self.seed, label=label)
                    self.reason = None
                else:
                    self.reason = self.image_text
                    self.image_text = ""
            except LatentLabError as exc:
                self.reason = str(exc)
        self.changed.emit()
        self._draw_arrow()

    def _unusable(self, model: Any) -> str | None:
        scene = self._scene
        if model is None or scene is None or not scene.has_model:
            return NO_MODEL
        reason = unusable_reason(model.config)
        if reason is not None:
            return reason
        return None if scene.model_ready else NOT_READY

    def _clean_image(self, model: Any) -> tuple[np.ndarray | None, int | None, str]:
        """The clean image, its class for a conditional model and a line naming it; without an
        image, (None, None, why)."""
        scene, conditional = self._scene, model.config.is_conditional
        if self.source == "probe":
            probe = self._probe
            if probe is None or probe.z is None or len(probe.z) != model.config.latent_dim:
                return None, None, NO_PROBE
            condition = probe.condition if conditional else None
            image = inference.decode(model, np.array(probe.z, dtype=np.float32), condition)[0].numpy()
            return image, condition, f"The probe's decode at ({probe.x:.2f}, {probe.y:.2f})"
        if not scene.fits_data:
            return None, None, NO_FIT
        if not scene.anchors or scene.item_image is None or not 0 <= scene.anchors[-1] < scene.data_size:
            return None, None, NO_SELECTION
        index = int(scene.anchors[-1])
        label = None if scene.labels is None else int(scene.labels[index])
        text = f"Data item {index}"
        if label is not None and label >= 0:
            names = scene.class_names
            text += f" · class {names[label] if label < len(names) else label}"
        return np.asarray(scene.item_image(index)), label, text

    # -- the arrow on the plane -------------------------------------------------------------
    def arrow(self) -> Ends | None:
        """The arrow's ends now: clean code → noisy code in plane coordinates, or None."""
        return self._arrow

    def _draw_arrow(self) -> None:
        scene, result = self._scene, self.result
        plane = None if scene is None else scene.plane
        if result is None or plane is None or scene.codes is None or plane.dim != result.z_clean.size:
            self._clear_arrow()   # no image, or the plane of this model's codes is not there yet
            return
        xy = plane.project(torch.as_tensor(np.stack([result.z_clean, result.z_noisy]))).numpy()
        self._arrow = (xy[0].astype(np.float64), xy[1].astype(np.float64))
        self.arrowChanged.emit(self._arrow)

    def _clear_arrow(self) -> None:
        if self._arrow is not None:
            self._arrow = None
            self.arrowChanged.emit(None)


class _ImageView(DecodedView):
    """A decoded view that asks for little room: the dock is a short strip under the plane,
    and its scroll area sizes the panel by the views' preferred height."""

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(120, 120)


class DenoisePanel(QWidget):
    """The denoise panel over a :class:`DenoiseTool` (see the module doc).

    The window activates the tool while the panel's tab shows (a tabbed dock counts as
    visible even when covered, so it is told, not guessed here).
    """

    def __init__(self, tool: DenoiseTool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("denoisePanel")
        self.tool = tool
        self._settling = False   # the tool sets the widgets: their signals are not the person's
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self._build_controls(), 0)
        self.titles: dict[str, QLabel] = {}
        self.clean_view, self.noisy_view, self.denoised_view = (
            self._add_view(layout, name) for name in ("Clean", "Noisy", "Denoised"))
        self.source_combo.currentIndexChanged.connect(self._on_source)
        self.kind_combo.currentIndexChanged.connect(self._on_kind)
        self.level_slider.valueChanged.connect(self._on_level)
        self.new_noise_button.clicked.connect(tool.new_noise)
        tool.changed.connect(self._show_result)
        tool.settingsChanged.connect(self._show_settings)
        self._show_settings()
        self._show_result()

    def _build_controls(self) -> QWidget:
        """The choices, in a column of bounded width: the images get the rest of the strip."""
        box = QWidget()
        box.setObjectName("denoiseControls")
        box.setMaximumWidth(CONTROLS_MAX_PX)
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(4)
        self.hint = self._wrapping_label("denoiseHint")
        column.addWidget(self.hint)
        form = QFormLayout()
        form.setVerticalSpacing(4)
        self.source_combo = QComboBox()
        self.source_combo.setObjectName("denoiseSource")
        for key, text in SOURCES:
            self.source_combo.addItem(text, key)
        form.addRow("Image:", self.source_combo)
        self.kind_combo = QComboBox()
        self.kind_combo.setObjectName("denoiseKind")
        for kind in NOISE_KINDS:
            self.kind_combo.addItem(KIND_TEXTS[kind], kind)
        form.addRow("Noise:", self.kind_combo)
        self.level_slider = QLabeledDoubleSlider()
        self.level_slider.setObjectName("denoiseLevel")
        self.level_slider.setDecimals(DECIMALS)
        self.level_slider.setSingleStep(LEVEL_STEP)
        self.level_slider.setToolTip("How strong the noise is: the same pattern, stronger or weaker")
        self.new_noise_button = QPushButton("New noise")
        self.new_noise_button.setObjectName("denoiseNewNoise")
        self.new_noise_button.setToolTip("Draw another noise pattern at the same level")
        level_row = QHBoxLayout()
        level_row.addWidget(self.level_slider, 1)
        level_row.addWidget(self.new_noise_button)
        form.addRow("Level:", level_row)
        column.addLayout(form)
        self.image_label = self._wrapping_label("denoiseImage")
        column.addWidget(self.image_label)
        self.note_label = self._wrapping_label("denoiseNote")
        column.addWidget(self.note_label)
        column.addStretch(1)
        return box

    @staticmethod
    def _wrapping_label(name: str) -> QLabel:
        label = QLabel()
        label.setObjectName(name)
        label.setWordWrap(True)
        label.setMinimumWidth(200)
        return label

    def _add_view(self, layout: QHBoxLayout, name: str) -> DecodedView:
        """A titled image column; the title (with the PSNR) sits above, where it always shows."""
        column = QVBoxLayout()
        column.setSpacing(2)
        title = QLabel(name)
        title.setObjectName(f"denoise{name}Title")
        title.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom)
        title.setMinimumHeight(2 * title.fontMetrics().lineSpacing())   # a name and a PSNR line, aligned
        # The three columns share the width equally, whatever their titles say.
        title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.titles[name] = title
        view = _ImageView()
        view.setObjectName(f"denoise{name}View")
        view.setMinimumSize(64, 64)
        column.addWidget(title)
        column.addWidget(view, 1)
        layout.addLayout(column, 1)
        return view

    # -- the person's choices -------------------------------------------------------------
    def _on_source(self, row: int) -> None:
        if row >= 0 and not self._settling:
            self.tool.set_source(self.source_combo.itemData(row))

    def _on_kind(self, row: int) -> None:
        if row >= 0 and not self._settling:
            self.tool.set_kind(self.kind_combo.itemData(row))

    def _on_level(self, value: float) -> None:
        if not self._settling:
            self.tool.set_level(value)

    # -- showing the tool -----------------------------------------------------------------
    def _show_settings(self) -> None:
        tool = self.tool
        self._settling = True
        try:
            self.source_combo.setCurrentIndex(self.source_combo.findData(tool.source))
            self.kind_combo.setCurrentIndex(self.kind_combo.findData(tool.kind))
            self.level_slider.setRange(*level_range(tool.kind, tool.trained_noise()))
            self.level_slider.setValue(tool.level)
        finally:
            self._settling = False

    def _show_result(self) -> None:
        tool, result = self.tool, self.tool.result
        for widget in (self.source_combo, self.kind_combo, self.level_slider, self.new_noise_button):
            widget.setEnabled(tool.usable)
        self.hint.setText(tool.reason or "")
        self.hint.setVisible(bool(tool.reason))
        self.note_label.setText(tool.note)
        self.note_label.setVisible(bool(tool.note))
        self.image_label.setText(tool.image_text)
        if result is None:
            for view in (self.clean_view, self.noisy_view, self.denoised_view):
                view.clear()
            self.titles["Noisy"].setText("Noisy")
            self.titles["Denoised"].setText("Denoised")
            return
        self.clean_view.set_image(as_picture(result.clean))
        self.noisy_view.set_image(as_picture(result.noisy))
        self.denoised_view.set_image(as_picture(result.denoised))
        self.titles["Noisy"].setText(f"Noisy\nPSNR {psnr_text(result.psnr_noisy)}")
        self.titles["Denoised"].setText(f"Denoised\nPSNR {psnr_text(result.psnr_denoised)}")
        # The levels and the seed say what made the noise, for a person comparing numbers.
        self.titles["Noisy"].setToolTip(f"{result.spec}, noise draw {result.seed}; PSNR against the clean image")

    def psnr_texts(self) -> tuple[str, str]:
        """The noisy and the denoised image's titles, as shown."""
        return self.titles["Noisy"].text(), self.titles["Denoised"].text()
