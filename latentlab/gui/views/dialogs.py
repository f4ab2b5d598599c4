"""Small dialogs: an error box that never blocks, an overwrite question, and About."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

import latentlab
from latentlab.resources_path import resource_path

APP_NAME = "LatentLab"
DESCRIPTION = "See and steer what a generative autoencoder has learned."

# Shown when resources/LICENSES.md is missing (e.g. a trimmed install); keep it in step.
BUILTIN_LICENCES = """\
## LatentLab
LatentLab is released under the MIT licence.

## Bundled data
The bundled digits are the test split of the MNIST database by Yann LeCun, Corinna Cortes
and Christopher J. C. Burges, made available under the Creative Commons Attribution-Share
Alike 3.0 licence.

## Libraries LatentLab runs on
- Qt for Python (PySide6) — LGPL-3.0
- pyqtgraph — MIT
- superqt — BSD-3-Clause
- PyTorch — BSD-3-Clause
- NumPy — BSD-3-Clause
- Pillow — MIT-CMU (HPND)
- safetensors — Apache-2.0
"""

# Error boxes are opened with open(), not exec(): Python would otherwise drop the last
# reference and Qt would close the box at once. They leave this list when they close.
_open_boxes: list[QMessageBox] = []


def show_error(parent: QWidget | None, title: str, message: str) -> QMessageBox:
    """Show ``message`` in a modal error box without blocking the caller; return the box.

    The box has objectName ``"errorDialog"`` so tests and scripts can find it.
    """
    box = QMessageBox(parent)
    box.setObjectName("errorDialog")
    box.setIcon(QMessageBox.Icon.Critical)
    box.setWindowTitle(title)
    box.setText(message)
    # A path or value in the message is something people want to copy.
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.setModal(True)
    _open_boxes.append(box)
    box.finished.connect(lambda _result, b=box: _forget(b))
    box.open()
    return box


def _forget(box: QMessageBox) -> None:
    if box in _open_boxes:
        _open_boxes.remove(box)
    box.deleteLater()


def confirm_overwrite(parent: QWidget | None, path: str | os.PathLike[str]) -> bool:
    """Ask whether to replace an existing file; True only if the user says Replace.

    The question is modal and blocks until answered. Its box has objectName
    ``"confirmOverwriteDialog"``; "Cancel" is the default, so Enter never destroys a file.
    """
    target = Path(path)
    box = QMessageBox(parent)
    box.setObjectName("confirmOverwriteDialog")
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Replace file?")
    box.setText(f"“{target.name}” already exists. Do you want to replace it?")
    box.setInformativeText(f"It is in {target.parent}. Replacing it overwrites its contents.")
    replace = box.addButton("Replace", QMessageBox.ButtonRole.DestructiveRole)
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel)
    box.setEscapeButton(cancel)
    box.exec()
    return box.clickedButton() is replace


def _licences_file() -> Path:
    return resource_path("LICENSES.md")


def licence_text() -> str:
    """The licence notices as Markdown: resources/LICENSES.md, or the built-in text."""
    path = _licences_file()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return BUILTIN_LICENCES
    return text if text.strip() else BUILTIN_LICENCES


class AboutDialog(QDialog):
    """Name, version, what the app is for, and the licences of LatentLab, its data and libraries."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("aboutDialog")
        self.setWindowTitle(f"About {APP_NAME}")
        self.resize(560, 480)
        layout = QVBoxLayout(self)
        layout.addLayout(self._header())
        self.licences = QTextBrowser()
        self.licences.setObjectName("aboutLicences")
        self.licences.setOpenExternalLinks(True)
        self.licences.setMarkdown(licence_text())
        layout.addWidget(self.licences, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _header(self) -> QHBoxLayout:
        row = QHBoxLayout()
        icon = QPixmap(str(resource_path("icons", "latentlab-64.png")))
        if not icon.isNull():
            logo = QLabel()
            logo.setPixmap(icon)
            logo.setAlignment(Qt.AlignmentFlag.AlignTop)
            row.addWidget(logo)
        self.title = QLabel(f"<h2>{APP_NAME}</h2>version {latentlab.__version__}<br>{DESCRIPTION}")
        self.title.setObjectName("aboutTitle")
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setWordWrap(True)
        row.addWidget(self.title, 1)
        return row

    def text(self) -> str:
        """Everything the dialog says, as plain text (header and licences)."""
        header = f"{APP_NAME}\nversion {latentlab.__version__}\n{DESCRIPTION}"
        return f"{header}\n\n{self.licences.toPlainText()}"
