"""File ▸ Generate Data Set…: sample a new data set from the model, with a preview and Cancel.

:class:`GenerateDialog` asks how many items (per class, or of which classes, for a
conditional model), the temperature, the seed and where to write (a folder of PNGs or an
``.npz``; the place is chosen through the ``ask_path`` question the window answers). Its
preview grid decodes a few samples at the chosen temperature and seed on the GUI thread
(a handful of decodes); the set itself is made by :class:`GenerateThread` off the GUI
thread through :func:`latentlab.core.generate.generate` and
:func:`latentlab.core.generate.write_set`, with a progress bar and Cancel. Cancelling
leaves nothing behind: decoding stops between batches, and a folder being written is a
temporary sibling that is removed (an ``.npz`` is one atomic write, too short to cancel).
A non-empty folder or an existing file is replaced only when ``confirm_replace(path)`` says
so. The dialog ends by saying where it wrote and how many; "Open as Data" opens the set.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PySide6.QtCore import Qt, QThread, Signal
from PySide6.QtWidgets import (
    QCheckBox, QDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QProgressBar, QPushButton, QVBoxLayout,
    QWidget,
)
from superqt.utils import qdebounced

from latentlab.core import generate as core_generate
from latentlab.core import inference, render
from latentlab.core.errors import LatentLabError
from latentlab.gui.views.qimage import array_to_qpixmap
from latentlab.gui.views.training_fields import NumberField

log = logging.getLogger(__name__)

PREVIEW_ITEMS = 24          # samples in the preview of a model without classes (4 rows of 6)
PREVIEW_COLUMNS = 6
PREVIEW_ROWS_PER_CLASS = 3  # a conditional model: a column per class, this many rows
PREVIEW_MAX_CLASSES = 10
PREVIEW_WIDTH_PX = 300
PREVIEW_DEBOUNCE_MS = 150
SEQUENCE_PREVIEW_PX = 48
MAX_SEED = 2**63 - 1


class _Cancelled(Exception):
    """Raised inside a progress report to abandon a write (its temporary folder is removed)."""


def tile(images: np.ndarray, columns: int, gap: int = 2) -> np.ndarray:
    """Images ``[N, C, H, W]`` in [0, 1] as one picture, ``columns`` wide, row by row, on a
    light ground: ``[H', W']`` for grey, ``[H', W', 3]`` for colour."""
    n, c, h, w = images.shape
    columns = max(1, min(columns, n))
    rows = math.ceil(n / columns)
    sheet = np.full((c, rows * h + (rows + 1) * gap, columns * w + (columns + 1) * gap), 0.85, np.float32)
    for i in range(n):
        r, k = divmod(i, columns)
        y, x = gap + r * (h + gap), gap + k * (w + gap)
        sheet[:, y:y + h, x:x + w] = images[i]
    return sheet[0] if c == 1 else np.ascontiguousarray(sheet.transpose(1, 2, 0))


def describe_written(path: str, count: int, counts: Mapping[str, int]) -> str:
    """"Wrote 1,000 items to …" with the count per class when there are classes."""
    text = f"Wrote {count:,} item{'s' if count != 1 else ''} to {path}"
    if counts:
        values = set(counts.values())
        if len(values) == 1:
            text += f" ({values.pop():,} of each of {len(counts)} classes)"
        else:
            text += " (" + ", ".join(f"{name}: {n:,}" for name, n in counts.items()) + ")"
    return text + "."


class GenerateThread(QThread):
    """Generates and writes one data set on its own thread.

    ``progressed(stage, done, total)`` follows decoding (``"Decoding"``) and writing
    (``"Writing"``); ``finishedWriting(path, count, counts)`` or ``cancelled()`` or
    ``failed(message)`` ends it. :meth:`cancel` may be called from any thread.
    """

    progressed = Signal(str, int, int)
    finishedWriting = Signal(str, int, object)
    cancelled = Signal()
    failed = Signal(str)

    def __init__(self, config: Any, state: Mapping[str, torch.Tensor], options: dict[str, Any]) -> None:
        super().__init__()
        self.config, self.state, self.options = config, state, dict(options)
        self._stop = threading.Event()

    def cancel(self) -> None:
        self._stop.set()

    def is_cancelled(self) -> bool:
        return self._stop.is_set()

    def _writing(self, done: int, total: int) -> None:
        if self._stop.is_set():
            raise _Cancelled
        self.progressed.emit("Writing", done, total)

    def run(self) -> None:  # noqa: D401 - Qt override
        torch.set_num_threads(1)   # per thread: the GUI and any training keep their cores
        opts = self.options
        try:
            model = inference.model_from_state(self.config, self.state)
            made = core_generate.generate(
                model, n=opts["n"], per_class=opts["per_class"], classes=opts["classes"],
                temperature=opts["temperature"], seed=opts["seed"], model_sha256=opts.get("model_sha256"),
                progress=lambda done, total: self.progressed.emit("Decoding", done, total),
                should_stop=self._stop.is_set)
            if made is None or self._stop.is_set():
                self.cancelled.emit()
                return
            self.progressed.emit("Writing", 0, len(made))
            path = core_generate.write_set(made, opts["out"], force=opts["force"], progress=self._writing)
            self.finishedWriting.emit(str(path), len(made), dict(made.manifest.get("counts") or {}))
        except _Cancelled:
            self.cancelled.emit()
        except LatentLabError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # reported in the dialog; the thread must end cleanly
            log.exception("generating a data set failed")
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        finally:
            self.state = {}


class GenerateDialog(QDialog):
    """The Generate Data Set dialog (see the module doc).

    ``config`` and ``state`` are the model to sample (a detached copy of its weights);
    ``model_sha256`` goes into the manifest (None for an unsaved model). ``ask_path(suggested)``
    chooses the output, ``confirm_replace(path)`` allows replacing a non-empty folder or a
    file, ``open_data(path)`` opens a written set as data. ``threadStarted(thread)`` is
    emitted before each :class:`GenerateThread` starts; ``written(text)`` when a set is written.
    """

    threadStarted = Signal(object)
    written = Signal(str)

    def __init__(self, config: Any, state: Mapping[str, torch.Tensor], *, model_sha256: str | None,
                 model_name: str, ask_path: Callable[[str], str | None],
                 confirm_replace: Callable[[str], bool], open_data: Callable[[str], Any],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("generateDialog")
        self.setWindowTitle("Generate a data set")
        self.config, self.state = config, state
        self.model_sha256, self.model_name = model_sha256, model_name
        self.ask_path, self.confirm_replace, self.open_data = ask_path, confirm_replace, open_data
        self.worker: GenerateThread | None = None
        self.last_written: str | None = None
        self._preview_model = inference.model_from_state(config, state)
        self._spec = render.output_spec(config)
        self.preview_images: np.ndarray | None = None
        self._schedule_preview = qdebounced(self.update_preview, timeout=PREVIEW_DEBOUNCE_MS, parent=self)
        self._build()
        self._update()
        self.update_preview()

    # -- building --------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        form = QFormLayout()
        conditional = bool(self.config.is_conditional)
        self.count = NumberField("Items", int, 1000 if not conditional else 100, minimum=1,
                                 maximum=core_generate.MAX_ITEMS, why_maximum="the most one set may hold")
        self.count.set_tip("How many items to generate (per class when “Per class” is ticked).")
        self.count_label = QLabel("&Items")
        self.count_label.setBuddy(self.count)
        form.addRow(self.count_label, self.count)
        self.per_class = QCheckBox("Per class")
        self.per_class.setObjectName("generatePerClass")
        self.per_class.setToolTip("Generate the number of items for every chosen class.")
        self.per_class.setChecked(conditional)
        self.classes = QLineEdit()
        self.classes.setObjectName("generateClasses")
        self.classes.setPlaceholderText("all")
        self.classes.setToolTip("The classes to generate, by name or number, separated by commas; empty for all.")
        if conditional:
            form.addRow("", self.per_class)
            form.addRow("&Classes", self.classes)
        else:
            self.per_class.hide()
            self.classes.hide()
        self.temperature = NumberField("Temperature", float, 1.0, positive=True)
        self.temperature.set_tip("The prior's spread: codes are standard normal draws times this. Lower gives "
                                 "tidier, less varied items.")
        form.addRow("&Temperature", self.temperature)
        self.seed = NumberField("Seed", int, 0, minimum=0, maximum=MAX_SEED, why_maximum="seeds are 63-bit numbers")
        self.seed.set_tip("Seeds the codes: the same seed and settings give the same set.")
        form.addRow("&Seed", self.seed)
        out_widget = QWidget()
        out_row = QHBoxLayout(out_widget)
        out_row.setContentsMargins(0, 0, 0, 0)
        self.output = QLineEdit()
        self.output.setObjectName("generateOutput")
        self.output.setPlaceholderText("a folder, or a file ending in .npz")
        self.output.setToolTip("A folder of PNG images (a subfolder per class) or one .npz archive; a "
                               "manifest.json and the codes are written with them.")
        out_row.addWidget(self.output, 1)
        self.browse = QPushButton("Choose…")
        self.browse.setObjectName("generateBrowse")
        self.browse.clicked.connect(self._choose_output)
        out_row.addWidget(self.browse)
        out_label = QLabel("&Output")
        out_label.setBuddy(self.output)
        form.addRow(out_label, out_widget)
        layout.addLayout(form)
        self.preview_title = QLabel("Preview")
        layout.addWidget(self.preview_title)
        self.preview = QLabel()
        self.preview.setObjectName("generatePreview")
        self.preview.setMinimumSize(PREVIEW_WIDTH_PX, 120)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.preview, 1)
        self.problems = QLabel()
        self.problems.setObjectName("generateProblems")
        self.problems.setWordWrap(True)
        self.problems.setStyleSheet("color: #d03c3c;")
        layout.addWidget(self.problems)
        self.progress = QProgressBar()
        self.progress.setObjectName("generateProgress")
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        layout.addWidget(self.progress)
        self.status = QLabel("Not started.")
        self.status.setObjectName("generateStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        buttons = QHBoxLayout()
        self.open_button = QPushButton("Open as Data")
        self.open_button.setObjectName("generateOpenData")
        self.open_button.setToolTip("Open the set just written as the data set on the plane.")
        self.open_button.clicked.connect(self._open_written)
        self.open_button.setEnabled(False)
        buttons.addWidget(self.open_button)
        buttons.addStretch(1)
        self.generate_button = QPushButton("Generate")
        self.generate_button.setObjectName("generateStart")
        self.generate_button.setDefault(True)
        self.generate_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Close")
        self.cancel_button.setObjectName("generateCancel")
        self.cancel_button.clicked.connect(self._cancel_or_close)
        buttons.addWidget(self.generate_button)
        buttons.addWidget(self.cancel_button)
        layout.addLayout(buttons)
        for field in (self.count, self.temperature, self.seed):
            field.edited.connect(self._update)
        for field in (self.temperature, self.seed):
            field.edited.connect(self._schedule_preview)
        self.classes.textChanged.connect(self._update)
        self.classes.textChanged.connect(self._schedule_preview)
        self.per_class.toggled.connect(self._update)
        self.output.textChanged.connect(self._update)

    # -- the choices -------------------------------------------------------------------
    def chosen_classes(self) -> tuple[int, ...]:
        """Class numbers typed in the Classes field (empty: all); LatentLabError if one is unknown."""
        items = [part.strip() for part in self.classes.text().split(",") if part.strip()]
        return core_generate.parse_classes(self.config, items)

    def total(self) -> int | None:
        """How many items the set will hold, or None while the count or classes are unusable."""
        n = self.count.value()
        if n is None:
            return None
        if not self.config.is_conditional or not self.per_class.isChecked():
            return int(n)
        try:
            k = len(self.chosen_classes()) or int(self.config.num_classes)
        except LatentLabError:
            return None
        return int(n) * k

    def current_problems(self) -> list[str]:
        """Why Generate is disabled (empty: it is not)."""
        problems = [p for p in (self.count.problem(), self.temperature.problem(), self.seed.problem()) if p]
        if self.config.is_conditional:
            try:
                self.chosen_classes()
            except LatentLabError as exc:
                problems.append(f"Classes: {exc}.")
        total = self.total()
        if total is not None and total > core_generate.MAX_ITEMS:
            problems.append(f"At most {core_generate.MAX_ITEMS:,} items can be generated at once; this asks for "
                            f"{total:,}.")
        if not self.output.text().strip():
            problems.append("Choose where to write the data set (a folder or an .npz file).")
        return problems

    def options(self) -> dict[str, Any]:
        """The run the dialog describes, as :class:`GenerateThread` takes it."""
        return {"n": int(self.count.value()), "per_class": self.config.is_conditional and self.per_class.isChecked(),
                "classes": self.chosen_classes(), "temperature": float(self.temperature.value()),
                "seed": int(self.seed.value()), "out": self.output.text().strip(), "force": False,
                "model_sha256": self.model_sha256}

    def _update(self, *_: Any) -> None:
        problems = self.current_problems()
        self.problems.setText("\n".join(f"• {p}" for p in problems))
        self.problems.setVisible(bool(problems))
        running = self.is_running()
        self.generate_button.setEnabled(not problems and not running)
        self.count_label.setText("&Items per class" if self.config.is_conditional and self.per_class.isChecked()
                                 else "&Items")
        total = self.total()
        if not running and total is not None and self.config.is_conditional:
            self.preview_title.setText(f"Preview · a column per class · the set holds {total:,} items")

    def _choose_output(self) -> None:
        suggested = self.output.text().strip() or f"{self.model_name}-generated"
        path = self.ask_path(suggested)
        if path:
            self.output.setText(path)

    # -- preview -------------------------------------------------------------------------
    def update_preview(self) -> None:
        """Decode a few samples at the chosen temperature and seed into the preview grid."""
        self._schedule_preview.cancel()
        temperature, seed = self.temperature.value(), self.seed.value()
        try:
            classes = self.chosen_classes() if self.config.is_conditional else ()
        except LatentLabError:
            return
        if temperature is None or seed is None:
            return
        conditional = bool(self.config.is_conditional)
        if conditional:
            shown = (classes or tuple(range(self.config.num_classes)))[:PREVIEW_MAX_CLASSES]
            made = core_generate.generate(self._preview_model, n=PREVIEW_ROWS_PER_CLASS, per_class=True,
                                          classes=shown, temperature=temperature, seed=seed)
            # generate orders class by class; the grid shows a column per class.
            order = np.arange(len(shown) * PREVIEW_ROWS_PER_CLASS).reshape(len(shown), -1).T.reshape(-1)
            columns = len(shown)
        else:
            made = core_generate.generate(self._preview_model, n=PREVIEW_ITEMS, temperature=temperature, seed=seed)
            order = np.arange(PREVIEW_ITEMS)
            columns = PREVIEW_COLUMNS
        assert made is not None
        pictures = render.as_images(made.outputs, self._spec, size=SEQUENCE_PREVIEW_PX) \
            if self._spec.kind == "sequence" else made.outputs
        images = pictures.clamp(0, 1).numpy()[order]
        self.preview_images = images
        sheet = tile(images, columns)
        scale = max(1, PREVIEW_WIDTH_PX // sheet.shape[1])
        if scale > 1:
            sheet = sheet.repeat(scale, axis=0).repeat(scale, axis=1)
        self.preview.setPixmap(array_to_qpixmap(sheet))
        if not conditional:
            self.preview_title.setText(f"Preview · {PREVIEW_ITEMS} samples at temperature {temperature:g}, "
                                       f"seed {seed}")

    # -- running ----------------------------------------------------------------------------
    def is_running(self) -> bool:
        return self.worker is not None and self.worker.isRunning()

    def start(self) -> bool:
        """Generate and write the set the dialog describes (asking before replacing anything)."""
        if self.is_running() or self.current_problems():
            return False
        options = self.options()
        target = Path(options["out"]).expanduser()
        occupied = (target.is_dir() and any(target.iterdir())) or (target.exists() and not target.is_dir())
        if occupied:
            if not self.confirm_replace(str(target)):
                self.status.setText(f"Nothing written: {target} is kept. Choose another place or agree to "
                                    "replace it.")
                return False
            options["force"] = True
        self.last_written = None
        self.open_button.setEnabled(False)
        thread = self.worker = GenerateThread(self.config, self.state, options)
        thread.progressed.connect(self._on_progress)
        thread.finishedWriting.connect(self._on_written)
        thread.cancelled.connect(self._on_cancelled)
        thread.failed.connect(self._on_failed)
        self._set_running(True)
        self.progress.setValue(0)
        self.status.setText("Decoding…")
        self.threadStarted.emit(thread)
        thread.start()
        return True

    def _set_running(self, running: bool) -> None:
        for widget in (self.count, self.per_class, self.classes, self.temperature, self.seed, self.output,
                       self.browse):
            widget.setEnabled(not running)
        self.cancel_button.setText("Cancel" if running else "Close")
        self.cancel_button.setEnabled(True)
        self._update()

    def _on_progress(self, stage: str, done: int, total: int) -> None:
        if self.worker is None or self.worker.is_cancelled():
            return
        share = done / max(total, 1)
        # Decoding is the first half of the bar, writing the second.
        self.progress.setValue(int(1000 * (share / 2 if stage == "Decoding" else 0.5 + share / 2)))
        if stage == "Writing" and str(self.worker.options["out"]).lower().endswith(".npz"):
            self.cancel_button.setEnabled(False)   # one atomic write: nothing left to cancel
            self.status.setText("Writing the archive…")
        else:
            self.status.setText(f"{stage} {done:,} of {total:,}…")

    def _on_written(self, path: str, count: int, counts: dict[str, int]) -> None:
        self._finish()
        self.progress.setValue(1000)
        self.last_written = path
        self.open_button.setEnabled(True)
        text = describe_written(path, count, counts)
        self.status.setText(text)
        self.written.emit(text)

    def _on_cancelled(self) -> None:
        self._finish()
        self.progress.setValue(0)
        self.status.setText("Cancelled: nothing was written.")

    def _on_failed(self, message: str) -> None:
        self._finish()
        self.progress.setValue(0)
        self.status.setText(f"Could not generate the data set: {message}")

    def _finish(self) -> None:
        if self.worker is not None:
            self.worker.wait()
        self._set_running(False)

    def cancel(self) -> None:
        """Stop a running generation; nothing it started is left behind."""
        if self.is_running():
            self.worker.cancel()
            self.status.setText("Cancelling…")

    def _cancel_or_close(self) -> None:
        if self.is_running():
            self.cancel()
        else:
            self.reject()

    def _open_written(self) -> None:
        if self.last_written:
            self.open_data(self.last_written)

    def shutdown(self) -> None:
        """Cancel and wait for a running generation (the window is closing)."""
        if self.worker is not None:
            self.worker.cancel()
            self.worker.wait()

    def reject(self) -> None:
        self.shutdown()
        super().reject()
