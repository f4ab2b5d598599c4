"""Dialogs: a non-blocking error box, the overwrite question, and About with the licences."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

import latentlab
from latentlab.gui.views import dialogs
from latentlab.gui.views.dialogs import AboutDialog, confirm_overwrite, show_error


def _top_level(name: str) -> list:
    return [w for w in QApplication.topLevelWidgets() if w.objectName() == name and w.isVisible()]


def test_show_error_opens_a_visible_box_without_blocking(qtbot) -> None:
    box = show_error(None, "Cannot open model", "model.latentlab: config.json is missing")
    qtbot.waitUntil(box.isVisible, timeout=2000)
    assert box in _top_level("errorDialog")
    assert box.text() == "model.latentlab: config.json is missing"
    assert box.windowTitle() == "Cannot open model"
    assert box.icon() == QMessageBox.Icon.Critical
    assert box.isModal()
    assert box in dialogs._open_boxes   # noqa: SLF001 (kept alive while open)
    box.button(QMessageBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: box not in dialogs._open_boxes, timeout=2000)   # noqa: SLF001


def _answer_when_shown(text: str) -> None:
    """Click the button labelled ``text`` once the (blocking) overwrite question appears."""
    def click() -> None:
        boxes = _top_level("confirmOverwriteDialog")
        if not boxes:
            QTimer.singleShot(10, click)
            return
        box = boxes[0]
        matching = [b for b in box.buttons() if b.text().replace("&", "") == text]
        if matching:
            matching[0].click()
        else:
            box.done(-1)   # never leave a blocking question open; the assertion then fails

    QTimer.singleShot(0, click)


def test_confirm_overwrite_true_only_when_replace_is_clicked(qtbot, tmp_path) -> None:
    target = tmp_path / "digits.latentlab"
    _answer_when_shown("Replace")
    assert confirm_overwrite(None, target) is True
    _answer_when_shown("Cancel")
    assert confirm_overwrite(None, str(target)) is False


def test_about_names_the_app_version_and_mnist_licence(qtbot) -> None:
    about = AboutDialog()
    qtbot.addWidget(about)
    text = about.text()
    assert "LatentLab" in text and latentlab.__version__ in text
    for needle in ("MNIST", "Creative Commons", "Yann LeCun", "MIT", "PySide6", "PyTorch"):
        assert needle in text, needle


def test_about_uses_the_licence_file_when_present(qtbot, tmp_path, monkeypatch) -> None:
    notes = tmp_path / "LICENSES.md"
    notes.write_text("# Licences\n\nA notice only this file has: zebra-42.\n", encoding="utf-8")
    monkeypatch.setattr(dialogs, "_licences_file", lambda: notes)
    about = AboutDialog()
    qtbot.addWidget(about)
    assert "zebra-42" in about.text()
    assert "Creative Commons" not in about.text()


def test_about_falls_back_to_builtin_licences(qtbot, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(dialogs, "_licences_file", lambda: tmp_path / "missing.md")
    about = AboutDialog()
    qtbot.addWidget(about)
    text = about.text()
    for needle in ("MNIST", "Creative Commons Attribution-Share Alike 3.0", "LGPL-3.0", "Apache-2.0"):
        assert needle in text, needle
