"""The compression panel: the model as an image codec, beside JPEG and WebP.

One image (the point selected on the plane, else the first validation item), its
reconstruction from the quantised code and the error map side by side, with a bits selector
(4, 6, 8 bits a latent value, or float16), the bytes an image's code takes and its PSNR; and
a rate–distortion plot (PSNR against bytes per image) of this model against JPEG and WebP.

Every number comes from :mod:`latentlab.core.compress`. The plot and the quantisation range
are measured by :func:`latentlab.core.compress.compression_report` over the first
:data:`REFERENCE_ITEMS` items of the validation split in the inference worker
(:func:`compression_job`); the one image on show is then quantised over that range on the GUI
thread (:func:`reconstruct`: one encode, one decode). A model without an encoder, or one
whose outputs are not images, gets the panel disabled with the reason.

:class:`CompressionTool` decides what to measure and when, from plain callables;
:class:`CompressionPanel` only shows values.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QComboBox, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget
from superqt import QElidingLabel
from superqt.utils import qdebounced

from latentlab.core import compress, inference
from latentlab.core.errors import LatentLabError
from latentlab.gui.views import theme
from latentlab.gui.views.qimage import array_to_qpixmap

#: Bit depths offered: whole bits per latent value, or 16-bit floats.
BITS_CHOICES: tuple[int | str, ...] = (4, 6, 8, "float16")
DEFAULT_BITS = 8
#: Validation items the curve and the quantisation range are measured on.
REFERENCE_ITEMS = 64
IMAGE_PX = 64            # each of the three pictures is drawn at least this large
REFRESH_MS = 120
SERIES = (("model", "This model", theme.ACCENT), ("jpeg", "JPEG", "#5b8bd6"), ("webp", "WebP", "#6cc46c"))
# Five stops of "inferno" (dark = no error), built here rather than read from pyqtgraph's files.
_ERROR_MAP = pg.ColorMap([0.0, 0.25, 0.5, 0.75, 1.0],
                         [(0, 0, 4), (87, 16, 110), (188, 55, 84), (249, 142, 9), (252, 255, 164)])


def bits_text(bits: int | str) -> str:
    return "float16" if bits == "float16" else f"{bits} bits"


def unsupported_reason(config: Any) -> str | None:
    """Why a model cannot be a codec here (None: it can)."""
    if config is None:
        return "Open or train a model to see it compress images."
    try:
        caps = config.capabilities
    except LatentLabError as exc:   # its family was unregistered (a plug-in gone) while on screen
        return str(exc)
    if not caps.encoder:
        return ("This model has no encoder: compressing needs one to turn an image into a code "
                "(a GAN only decodes).")
    if caps.output != "image":
        return f"This model makes {caps.output}s, not images: the codec comparison is for images."
    return None


@dataclass(frozen=True)
class Reconstruction:
    """One image through the quantised code: what the panel shows."""

    original: np.ndarray      # [C, H, W] in [0, 1]
    restored: np.ndarray      # [C, H, W]
    error: np.ndarray         # [H, W]: absolute error, averaged over channels
    bits: int | str
    bytes_per_image: int
    psnr: float


def reconstruct(model: Any, image: np.ndarray | torch.Tensor, label: int | None, bits: int | str,
                low: np.ndarray, high: np.ndarray) -> Reconstruction:
    """Encode ``image`` ``[C, H, W]``, quantise its code to ``bits`` over ``[low, high]`` (or
    store it as float16), decode it and score it, as :func:`core.compress.compression_report`
    does for a whole set."""
    bits = compress.parse_bits(bits)
    x = torch.as_tensor(np.asarray(image, dtype=np.float32))[None]
    cond = None if label is None else torch.tensor([int(label)])
    codes = inference.encode(model, x, cond)
    if bits == "float16":
        restored_codes = codes.astype(np.float16).astype(np.float32)
    else:
        levels, _, _ = compress.quantise(codes, int(bits), np.asarray(low), np.asarray(high))
        restored_codes = compress.dequantise(levels, int(bits), np.asarray(low), np.asarray(high))
    out = inference.decode(model, torch.from_numpy(restored_codes), cond)
    config = model.config
    k = config.num_classes if config.is_conditional else 0
    original, restored = x[0].numpy(), out[0].to(torch.float32).numpy()
    return Reconstruction(original=original, restored=restored,
                          error=np.abs(original - restored).mean(0),
                          bits=bits, bytes_per_image=compress.code_bytes(config.latent_dim, bits, k),
                          psnr=float(compress.psnr(x, out)[0]))


def compression_job(config: Any, state: dict[str, torch.Tensor], images: torch.Tensor,
                    labels: torch.Tensor | None) -> Callable[[Callable[[], bool]], Any]:
    """An inference-worker job: the compression report of ``images`` (a model copy of its own)."""

    def job(should_stop: Callable[[], bool]) -> dict[str, Any] | None:
        model = inference.model_from_state(config, state)
        return compress.compression_report(model, images, labels if config.is_conditional else None,
                                           bits=DEFAULT_BITS, curve_bits=BITS_CHOICES, should_stop=should_stop)

    return job


def curve_series(report: dict[str, Any]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{"model" | "jpeg" | "webp": (bytes per image, PSNR)}`` from a report's curve, by bytes;
    points of infinite PSNR (a lossless copy) are left out."""
    out = {}
    for codec, _title, _colour in SERIES:
        points = sorted((p["bytes_per_image"], p["psnr"]) for p in report["curve"]
                        if p["codec"] == codec and math.isfinite(p["psnr"]))
        xs = np.array([p[0] for p in points], dtype=np.float64)
        ys = np.array([p[1] for p in points], dtype=np.float64)
        out[codec] = (xs, ys)
    return out


def byte_ticks(sizes: np.ndarray) -> list[float]:
    """1, 2, 5, 10, 20, … from just below the smallest size to just above the largest."""
    low, high = float(np.min(sizes)), float(np.max(sizes))
    ticks = [m * 10.0**e for e in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
             for m in (1, 2, 5)]
    inside = [t for t in ticks if low <= t <= high]
    below = [t for t in ticks if t < low][-1:]
    above = [t for t in ticks if t > high][:1]
    return below + inside + above


class CompressionPanel(QWidget):
    """The panel's widgets; it shows values and emits ``bitsChanged(bits)``."""

    bitsChanged = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("compressionPanel")
        column = QVBoxLayout(self)
        column.setContentsMargins(6, 4, 6, 4)
        # Why the panel is disabled, alone in its place (the only label here that wraps: a
        # wrapped label would make the dock's scroll area size the panel by its preferred height).
        self.reason = QLabel()
        self.reason.setObjectName("compressionReason")
        self.reason.setWordWrap(True)
        self.reason.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.reason.hide()
        column.addWidget(self.reason)
        self.content = QWidget()
        column.addWidget(self.content, 1)
        outer = QHBoxLayout(self.content)
        outer.setContentsMargins(0, 0, 0, 0)
        left = QVBoxLayout()
        left.setSpacing(3)
        top = QHBoxLayout()
        top.addWidget(QLabel("Code"))
        self.bits_combo = QComboBox()
        self.bits_combo.setObjectName("compressionBits")
        for bits in BITS_CHOICES:
            self.bits_combo.addItem(bits_text(bits), bits)
        self.bits_combo.setCurrentIndex(BITS_CHOICES.index(DEFAULT_BITS))
        self.bits_combo.setToolTip("Bits per latent value (each dimension quantised uniformly over the range the "
                                   "validation codes span), or 16-bit floats.")
        self.bits_combo.currentIndexChanged.connect(lambda _row: self.bitsChanged.emit(self.bits()))
        top.addWidget(self.bits_combo)
        self.numbers = QLabel()
        self.numbers.setObjectName("compressionNumbers")
        top.addWidget(self.numbers, 1)
        left.addLayout(top)
        grid = QGridLayout()
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(0)
        self.pictures: dict[str, QLabel] = {}
        for column, (key, title) in enumerate((("original", "Image"), ("restored", "From the code"),
                                               ("error", "Error"))):
            picture = QLabel()
            picture.setObjectName(f"compression_{key}")
            picture.setMinimumSize(IMAGE_PX, IMAGE_PX)
            picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
            picture.setStyleSheet("background: #202020;")
            self.pictures[key] = picture
            caption = QLabel(title)
            caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
            grid.addWidget(picture, 0, column)
            grid.addWidget(caption, 1, column)
        self.error_caption = grid.itemAtPosition(1, 2).widget()
        left.addLayout(grid)
        self.caption = QElidingLabel()
        self.caption.setObjectName("compressionCaption")
        left.addWidget(self.caption)
        self.mean_label = QElidingLabel()
        self.mean_label.setObjectName("compressionMean")
        left.addWidget(self.mean_label)
        left.addStretch(1)
        outer.addLayout(left)
        theme.ensure_pyqtgraph_config()
        self.plot = pg.PlotWidget(background=theme.BACKGROUND)
        self.plot.setObjectName("rateDistortionPlot")
        self.plot.setMinimumSize(200, 120)
        item = self.plot.plotItem
        item.setMenuEnabled(False)
        item.hideButtons()
        item.setLogMode(x=True, y=False)
        item.setLabel("bottom", "bytes per image", color=theme.MUTED)
        item.setLabel("left", "PSNR (dB)", color=theme.MUTED)
        item.showGrid(x=True, y=True, alpha=0.15)
        # Top left: few bytes and a high PSNR, where no codec's curve usually goes.
        self.legend = item.addLegend(offset=(6, 6), labelTextColor=theme.FOREGROUND)
        self.series: dict[str, pg.PlotDataItem] = {}
        for key, title, colour in SERIES:
            self.series[key] = item.plot([], [], name=title, pen=pg.mkPen(colour, width=2),
                                         symbol="o", symbolSize=6, symbolBrush=colour, symbolPen=None)
        self.marker = pg.ScatterPlotItem(size=13, pen=pg.mkPen(theme.FOREGROUND, width=2), brush=None)
        item.addItem(self.marker)
        outer.addWidget(self.plot, 1)

    def bits(self) -> int | str:
        return self.bits_combo.currentData()

    def set_bits(self, bits: int | str) -> None:
        self.bits_combo.setCurrentIndex(BITS_CHOICES.index(bits))

    def show_unavailable(self, reason: str) -> None:
        """Disable the panel and say why."""
        self.setEnabled(False)
        self.setToolTip(reason)
        self.reason.setText(reason)
        self.reason.show()
        self.content.hide()
        self.numbers.setText("")
        self.caption.setText("")
        self.mean_label.setText("")
        for picture in self.pictures.values():
            picture.clear()
        for series in self.series.values():
            series.setData([], [])
        self.marker.setData([], [])

    def show_note(self, text: str) -> None:
        """Say why nothing is shown yet (the panel stays enabled)."""
        self.setEnabled(True)
        self.setToolTip("")
        self.reason.setText(text)
        self.reason.show()
        self.content.hide()

    def _available(self) -> None:
        self.setEnabled(True)
        self.setToolTip("")
        self.reason.hide()
        self.content.show()

    def show_measuring(self, text: str) -> None:
        self._available()
        self.caption.setText(text)
        self.caption.setToolTip(text)

    def show_reconstruction(self, r: Reconstruction, caption: str, mean: str) -> None:
        """The image, its reconstruction and the error map; bytes and PSNR; ``caption`` says
        which image it is, ``mean`` what the set scores."""
        self._available()
        psnr = "∞ (identical)" if not math.isfinite(r.psnr) else f"{r.psnr:.2f} dB"
        self.numbers.setText(f"{r.bytes_per_image} bytes per image · PSNR {psnr}")
        top = float(r.error.max()) if r.error.size else 0.0
        self._draw("original", r.original)
        self._draw("restored", np.clip(r.restored, 0, 1))
        scaled = r.error / top if top > 0 else r.error
        self._draw_rgb("error", _ERROR_MAP.map(scaled.astype(np.float64), mode="byte")[..., :3])
        self.error_caption.setText(f"Error (max {top:.2f})")
        self.caption.setText(caption)
        self.caption.setToolTip(caption)
        self.mean_label.setText(mean)
        self.mean_label.setToolTip(mean)

    def _draw(self, key: str, chw: np.ndarray) -> None:
        self._draw_rgb(key, chw[0] if chw.shape[0] == 1 else np.ascontiguousarray(chw.transpose(1, 2, 0)))

    def _draw_rgb(self, key: str, image: np.ndarray) -> None:
        scale = max(1, IMAGE_PX // max(image.shape[0], 1))
        big = np.ascontiguousarray(image.repeat(scale, axis=0).repeat(scale, axis=1))
        self.pictures[key].setPixmap(array_to_qpixmap(big))

    def show_curve(self, series: dict[str, tuple[np.ndarray, np.ndarray]], mark: tuple[float, float] | None) -> None:
        """The rate–distortion curves; ``mark`` rings the model's point at the chosen bits."""
        for key, (xs, ys) in series.items():
            self.series[key].setData(xs, ys)
        sizes = np.concatenate([xs for xs, _ys in series.values()])
        # Labels at 1, 2 and 5 of each decade: pyqtgraph's own log ticks crowd over a few decades.
        self.plot.plotItem.getAxis("bottom").setTicks(
            [[(math.log10(v), f"{v:g}") for v in byte_ticks(sizes)]] if len(sizes) else None)
        if mark is None or not all(math.isfinite(v) for v in mark):
            self.marker.setData([], [])
        else:
            self.marker.setData([math.log10(mark[0])], [mark[1]])


class CompressionTool(QObject):
    """Keeps a :class:`CompressionPanel` showing the current model (see the module doc).

    ``model()`` is the GUI's inference copy (None without a ready model), ``state()`` a
    detached copy of its weights, ``data()`` the data set, ``reference()`` the indices of the
    validation items, ``selected()`` the point selected on the plane, ``busy()`` whether
    training runs (the curve is measured again once it stops), ``submit(kind, job,
    on_result, on_error)`` the inference worker's.
    """

    measured = Signal()   # a new report arrived (tests wait for it)

    def __init__(self, panel: CompressionPanel, *, model: Callable[[], Any], state: Callable[[], Any],
                 data: Callable[[], Any], reference: Callable[[], np.ndarray], selected: Callable[[], int | None],
                 busy: Callable[[], bool], submit: Callable[..., Any], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.panel = panel
        self._model, self._state, self._data = model, state, data
        self._reference, self._selected, self._busy, self._submit = reference, selected, busy, submit
        self.report: dict[str, Any] | None = None
        self.shown: Reconstruction | None = None
        self.shown_index: int | None = None
        self._report_key: Any = None
        self._handle: Any = None
        self.schedule = qdebounced(self.refresh, timeout=REFRESH_MS, parent=self)
        panel.bitsChanged.connect(lambda _bits: self.show_item())

    def _reason(self) -> str | None:
        model, data = self._model(), self._data()
        reason = unsupported_reason(None if model is None else model.config)
        if reason is not None:
            return reason
        if data is None or len(data) == 0:
            return "Open a data set to compress its images."
        if not inference.fits(model.config, data):
            return "The data on screen does not fit this model: " + (inference.incompatibility(model.config, data) or "")
        if model.config.is_conditional and data.labels is None:
            return "This conditional model needs the images' labels to compress them; this data set has none."
        return None

    def refresh(self, *_: Any) -> None:
        """Measure again if the model, data or weights changed, then show the chosen image."""
        self.schedule.cancel()
        reason = self._reason()
        if reason is not None:
            self._cancel()
            self.report, self._report_key, self.shown = None, None, None
            self.panel.show_unavailable(reason)
            return
        state = self._state()
        key = (id(self._model()), id(self._data()), id(state))
        if self._report_key is not None and key[:2] != self._report_key[:2]:
            # Another model or data set: the last report (and its range) belongs to the old one.
            self._cancel()
            self.report, self._report_key, self.shown = None, None, None
        if key != self._report_key and self.panel.isVisible():
            if not self._busy():
                self._measure(key, state)
            elif self.report is None:
                self.panel.show_note("The codec is measured once training stops.")
        self.show_item()

    def _measure(self, key: Any, state: Any) -> None:
        data = self._data()
        index = torch.as_tensor(self._reference()[:REFERENCE_ITEMS], dtype=torch.int64)
        images = data.images[index]
        labels = None if data.labels is None else data.labels[index]
        self._report_key = key
        self.panel.show_measuring(f"Measuring the codec on {len(index)} validation images…")
        self._handle = self._submit("compression", compression_job(self._model().config, state, images, labels),
                                    on_result=self._on_report, on_error=self._on_error)

    def _cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _on_report(self, report: dict[str, Any] | None) -> None:
        self._handle = None
        if report is None:
            return
        self.report = report
        self.show_item()
        self.measured.emit()

    def _on_error(self, message: str) -> None:
        self._handle = None
        self._report_key = None
        self.panel.show_measuring(f"Could not measure the codec: {message}")

    def item_to_show(self) -> tuple[int, str]:
        """The data item on show and why: the selected point, else the first validation item."""
        selected, data = self._selected(), self._data()
        if selected is not None and 0 <= selected < len(data):
            return int(selected), f"item {selected} (selected on the plane)"
        return int(self._reference()[0]), f"item {int(self._reference()[0])} (the first validation item)"

    def show_item(self) -> None:
        """Quantise the chosen image's code at the chosen bits over the measured range."""
        report = self.report
        if report is None or self._reason() is not None \
                or len(report["model"]["range_low"]) != self._model().config.latent_dim:
            return
        data, model, bits = self._data(), self._model(), self.panel.bits()
        index, why = self.item_to_show()
        label = None if data.labels is None or not model.config.is_conditional else int(data.labels[index])
        low = np.asarray(report["model"]["range_low"])
        high = np.asarray(report["model"]["range_high"])
        try:
            self.shown = reconstruct(model, data.images[index], label, bits, low, high)
        except LatentLabError as exc:
            self.panel.show_measuring(str(exc))
            return
        self.shown_index = index
        point = self.curve_point(bits)
        mean = "" if point is None else f"{report['n']} validation images: PSNR {point['psnr']:.2f} dB on average"
        self.panel.show_reconstruction(self.shown, why[0].upper() + why[1:], mean)
        self.panel.show_curve(curve_series(report), None if point is None else
                              (point["bytes_per_image"], point["psnr"]))

    def curve_point(self, bits: int | str) -> dict[str, Any] | None:
        """The report's curve point of the learned code at ``bits`` (None before a report)."""
        if self.report is None:
            return None
        return next((p for p in self.report["curve"] if p["codec"] == "model" and p["bits"] == bits), None)
