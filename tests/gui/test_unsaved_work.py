"""Unsaved work is never thrown away without asking: Save, Discard or Cancel."""

from __future__ import annotations

import json

import pytest
import torch
from PySide6.QtGui import QAction

from latentlab.core.checkpoint import load_model, save_model
from latentlab.gui.window.main_window import CANCEL, DISCARD, SAVE
from tests.gui.controller_support import tiny_model, training_settings, wait_for_codes


class Answers:
    """Answers the unsaved-work question with ``answer`` and records each question."""

    def __init__(self, controller, answer: str, save_to=None) -> None:
        self.answer, self.questions, self.paths = answer, [], []
        controller.ask_unsaved = self.ask
        controller.ask_save_path = lambda name: self.paths.append(name) or (None if save_to is None else str(save_to))

    def ask(self, text: str) -> str:
        self.questions.append(text)
        return self.answer


def trained(qtbot, opened, epochs: int = 1):
    """A window whose model was just trained here and not saved."""
    window, c = opened(show=False)
    assert c.start_training(training_settings(epochs=epochs))
    qtbot.waitUntil(lambda: c.run.status == "idle", timeout=60000)
    assert c.run.unsaved
    return window, c


def test_start_again_asks_and_cancel_keeps_the_trained_model(qtbot, opened):
    window, c = trained(qtbot, opened)
    model = c.model
    answers = Answers(c, CANCEL)
    assert not c.start_training(training_settings(epochs=1))
    assert len(answers.questions) == 1 and "not been saved" in answers.questions[0]
    assert c.model is model and not c.is_training


def test_start_again_with_save_saves_then_trains(qtbot, opened, tmp_path):
    window, c = trained(qtbot, opened)
    weights = {k: v.clone() for k, v in c.model.state_dict().items()}
    answers = Answers(c, SAVE, save_to=tmp_path / "first")
    assert c.start_training(training_settings(epochs=1))
    assert answers.paths == ["untitled"]
    saved = load_model(tmp_path / "first")
    assert all(torch.equal(saved.model.state_dict()[k], weights[k]) for k in weights)
    assert [h["epoch"] for h in saved.meta["history"]] == [1]
    qtbot.waitUntil(lambda: c.run.status == "idle", timeout=60000)


def test_save_cancelled_at_the_file_dialog_cancels_the_action(qtbot, opened):
    window, c = trained(qtbot, opened)
    Answers(c, SAVE, save_to=None)   # Save chosen, then no file
    assert not c.start_training(training_settings(epochs=1))
    assert not c.is_training and c.run.unsaved


def test_continuing_the_trained_model_does_not_ask(qtbot, opened):
    window, c = trained(qtbot, opened)
    answers = Answers(c, CANCEL)
    assert c.start_training(training_settings(epochs=1).with_changes(continue_training=True))
    assert answers.questions == []
    qtbot.waitUntil(lambda: c.run.status == "idle", timeout=60000)


def test_open_model_asks_and_discard_opens_it(qtbot, opened, tmp_path):
    window, c = trained(qtbot, opened)
    folder = tmp_path / "other"
    save_model(folder, tiny_model())
    answers = Answers(c, CANCEL)
    window.openModelRequested.emit(str(folder))
    assert len(answers.questions) == 1 and c.model_path is None and c.run.unsaved
    answers.answer = DISCARD
    window.openModelRequested.emit(str(folder))
    assert c.model_path == str(folder) and not c.run.unsaved


def test_open_session_of_another_model_asks(qtbot, opened, tmp_path):
    from latentlab.core.checkpoint import model_content_hash
    from latentlab.core.session_file import Session, save_session

    folder = tmp_path / "theirs"
    save_model(folder, tiny_model())
    save_session(tmp_path / "s.json", Session(model_path=str(folder), model_hash=model_content_hash(folder),
                                              bookmarks=[{"name": "b", "z": [0.5, 0.5]}]))
    window, c = trained(qtbot, opened)
    answers = Answers(c, CANCEL)
    window.openSessionRequested.emit(str(tmp_path / "s.json"))
    assert len(answers.questions) == 1 and c.model_path is None and c.tools.bookmarks == []


def test_quit_asks_and_cancel_keeps_the_window_open(qtbot, opened):
    window, c = trained(qtbot, opened)
    window.show()
    answers = Answers(c, CANCEL)
    window.findChild(QAction, "quitAction").trigger()
    assert len(answers.questions) == 1
    assert not window.closed and window.isVisible()
    window.close()   # the close button asks as well
    assert len(answers.questions) == 2 and not window.closed


def test_closing_while_training_asks_saves_and_stops_cleanly(qtbot, opened, tmp_path):
    window, c = opened()
    assert c.start_training(training_settings(epochs=500))
    qtbot.waitUntil(lambda: len(c.run.history) >= 2, timeout=60000)
    trainer = c.training.worker
    answers = Answers(c, SAVE, save_to=tmp_path / "mid-run")
    window.close()
    assert len(answers.questions) == 1 and "Training is still running" in answers.questions[0]
    assert window.closed and c.shutdown_clean
    assert not trainer.isRunning() and not c.is_training and not c.inference.isRunning()
    meta = json.loads((tmp_path / "mid-run" / "config.json").read_text())
    epochs = [h["epoch"] for h in meta["history"]]
    assert len(epochs) >= 2 and epochs == list(range(1, len(epochs) + 1))


def test_a_model_opened_from_a_file_closes_without_a_question(qtbot, opened, tmp_path):
    folder = tmp_path / "saved"
    save_model(folder, tiny_model())
    window, c = opened()
    assert c.open_model(str(folder))
    wait_for_codes(qtbot, c)
    answers = Answers(c, CANCEL)
    window.close()
    assert answers.questions == [] and window.closed
    assert c.shutdown_clean


@pytest.mark.parametrize(("button", "answer"), [("Save", SAVE), ("Discard", DISCARD), ("Cancel", CANCEL)])
def test_the_window_asks_with_save_discard_and_cancel(qtbot, button, answer):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from latentlab.gui.window.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    seen: list[str] = []

    def press() -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox) and box.objectName() == "unsavedDialog"
        seen.append(box.text())
        target = next(b for b in box.buttons() if b.text().replace("&", "") == button)
        target.click()

    QTimer.singleShot(0, press)
    assert window.ask_unsaved("Save it first?") == answer
    assert seen == ["Save it first?"]
