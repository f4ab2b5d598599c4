"""Training in the window autosaves; a crashed run is offered at the next launch and goes on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from latentlab import app
from latentlab.core import autosave
from latentlab.core.data import load_dataset
from latentlab.core.errors import LatentLabError
from latentlab.core.models import ModelConfig
from latentlab.core.training import RunState, TrainConfig, train
from latentlab.gui import autosave_watch
from latentlab.gui.autosave_watch import DISCARD, LATER, RESTORE, RunAutosave
from latentlab.gui.window.main_window import DISCARD as DISCARD_MODEL
from latentlab.gui.window.main_window import SAVE, MainWindow
from tests.gui.controller_support import N_ITEMS, training_settings


@pytest.fixture
def root() -> Path:
    """The autosave folder every test has to itself (set for the GUI tests in conftest)."""
    return autosave.autosave_root()


def run_folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def trained_in_window(qtbot, opened, epochs: int = 2, **settings):
    """A window whose run checkpoints every epoch (no minimum interval) and has finished."""
    window, c = opened(show=False)
    c.training.autosave.interval_s = 0
    assert c.start_training(training_settings(epochs=epochs, **settings))
    qtbot.waitUntil(lambda: c.run.status == "idle", timeout=60000)
    return window, c


# -- a crashed run, made without a window ---------------------------------------------------------
MODEL = ModelConfig(family="vae", latent_dim=2, hidden=(16,))
CONFIG = TrainConfig(epochs=4, batch_size=32, lr=1e-3, seed=0, device="cpu", threads=1)


def crashed_run(root: Path, after: int = 2) -> tuple[Path, RunState]:
    """A checkpoint of a 4-epoch run written after epoch ``after``, as a window that died leaves it."""
    data = load_dataset("mnist", limit=N_ITEMS)
    gen = train(MODEL, data, replace(CONFIG, checkpoint_every=1))
    for item in gen:
        if isinstance(item, RunState) and item.epoch == after:
            gen.close()
            break
    from latentlab.core.checkpoint import describe_data

    folder = autosave.new_run_folder(root)
    autosave.write_checkpoint(folder, item, data=describe_data(data, CONFIG.val_fraction, CONFIG.seed),
                              extra={"written_by": "window", "prior_history": []})
    return folder, item


def uninterrupted_weights() -> dict[str, torch.Tensor]:
    gen = train(MODEL, load_dataset("mnist", limit=N_ITEMS), CONFIG)
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        return stop.value.model.state_dict()


class Asked:
    """Answers the restore question with each of ``answers`` in turn and records the texts."""

    def __init__(self, *answers: str) -> None:
        self.answers, self.texts = list(answers), []

    def __call__(self, text: str) -> str:
        self.texts.append(text)
        return self.answers.pop(0)


# -- autosave while training ------------------------------------------------------------------------
def test_training_autosaves_each_epoch_off_the_gui_thread_and_saving_removes_it(qtbot, opened, root,
                                                                                tmp_path, monkeypatch):
    threads: list[threading.Thread] = []
    write = autosave.write_checkpoint
    monkeypatch.setattr(autosave, "write_checkpoint",
                        lambda *a, **k: threads.append(threading.current_thread()) or write(*a, **k))
    window, c = trained_in_window(qtbot, opened, epochs=2)
    assert len(threads) == 2 and threading.main_thread() not in threads
    [folder] = run_folders(root)
    assert folder == c.training.autosave.folder and (root / f"{folder.name}.lock").exists()
    state, meta = autosave.read_checkpoint(folder)
    assert state.epoch == 2 and [h["epoch"] for h in state.history] == [1, 2]
    assert meta["data"]["source"] == {"kind": "mnist", "limit": N_ITEMS}
    for name, value in c.model.state_dict().items():   # the finished model is the last checkpoint's
        assert torch.equal(value, state.model[name]), name
    # Continuing the unsaved model keeps writing into its folder, the earlier epochs as its history.
    assert c.start_training(replace(training_settings(epochs=1), continue_training=True))
    qtbot.waitUntil(lambda: c.run.status == "idle", timeout=60000)
    assert run_folders(root) == [folder]
    state, meta = autosave.read_checkpoint(folder)
    assert state.epoch == 1 and [h["epoch"] for h in meta["extra"]["prior_history"]] == [1, 2]
    assert c.save_model(str(tmp_path / "kept"))
    assert run_folders(root) == [] and not (root / f"{folder.name}.lock").exists()


def test_the_window_checkpoints_every_epoch_at_most_once_a_minute(qtbot, opened):
    window, c = opened(show=False)
    assert c.start_training(training_settings(epochs=1))
    config = c.training.worker.train_config
    assert (config.checkpoint_every, config.checkpoint_interval_s) == (1, 60.0)
    c.stop_training()
    qtbot.waitUntil(lambda: c.run.status == "idle", timeout=60000)


def test_saving_while_training_keeps_the_checkpoint_until_the_run_is_over(qtbot, opened, root, tmp_path):
    window, c = opened(show=False)
    c.training.autosave.interval_s = 0
    assert c.start_training(training_settings(epochs=30))
    qtbot.waitUntil(lambda: c.training.autosave.folder is not None, timeout=60000)
    c.pause_training()
    assert c.save_model(str(tmp_path / "midway"))
    assert len(run_folders(root)) == 1   # the run goes on changing the model
    c.stop_training()
    qtbot.waitUntil(lambda: c.run.status == "idle", timeout=60000)
    assert c.run.unsaved and len(run_folders(root)) == 1
    assert c.save_model(str(tmp_path / "final"))
    assert run_folders(root) == []


def test_a_model_discarded_with_consent_takes_its_checkpoint_along(qtbot, opened, root):
    window, c = trained_in_window(qtbot, opened, epochs=1)
    [first] = run_folders(root)
    c.ask_unsaved = lambda _text: DISCARD_MODEL
    assert c.start_training(training_settings(epochs=1))
    qtbot.waitUntil(lambda: c.run.status == "idle", timeout=60000)
    [second] = run_folders(root)
    assert second != first
    window.close()   # Discard again: nothing is left behind
    assert window.closed and run_folders(root) == []


def test_closing_with_save_saves_and_removes_the_checkpoint(qtbot, opened, root, tmp_path):
    window, c = trained_in_window(qtbot, opened, epochs=1)
    c.ask_unsaved = lambda _text: SAVE
    c.ask_save_path = lambda _name: str(tmp_path / "closing")
    window.close()
    assert window.closed and (tmp_path / "closing" / "config.json").exists()
    assert run_folders(root) == []


def test_a_checkpoint_that_cannot_be_written_is_reported_once_and_training_goes_on(qtbot, opened, tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    window, c = opened(show=False)
    c.training.autosave = RunAutosave(root=blocked, interval_s=0)
    errors: list[tuple[str, str]] = []
    c.training.failed.connect(lambda title, message: errors.append((title, message)))
    window.show_error = lambda title, message: None   # no box in the test
    assert c.start_training(training_settings(epochs=3))
    qtbot.waitUntil(lambda: c.run.status == "idle", timeout=60000)
    assert len(errors) == 1 and errors[0][0] == "Autosave failed" and str(blocked) in errors[0][1]
    assert c.run.outcome[0] == "finished" and [h["epoch"] for h in c.run.history] == [1, 2, 3]


# -- at the next launch -------------------------------------------------------------------------------
def test_an_interrupted_run_is_offered_later_keeps_it_and_discard_removes_it(qtbot, opened, root):
    folder, _ = crashed_run(root)
    window, c = opened(show=False)
    window.ask_restore_run = asked = Asked(LATER, DISCARD)
    assert not autosave_watch.offer_interrupted_runs(window, c)
    assert run_folders(root) == [folder]
    [text] = asked.texts
    assert "VAE" in text and "mnist (240 items)" in text and "epoch 2 of 4" in text
    saved = autosave.find_interrupted_runs(root)[0].saved
    from datetime import datetime

    assert datetime.fromisoformat(saved).astimezone().strftime("%Y-%m-%d %H:%M") in text
    assert not autosave_watch.offer_interrupted_runs(window, c)
    assert list(root.iterdir()) == [] and not c.is_training   # no folder, no lock file


def test_restore_trains_on_from_the_saved_epoch_as_the_uninterrupted_run(qtbot, opened, root):
    folder, state = crashed_run(root, after=2)
    window, c = opened(show=False)
    runs: list = []
    c.run_model.runChanged.connect(runs.append)
    window.ask_restore_run = Asked(RESTORE)
    assert autosave_watch.offer_interrupted_runs(window, c)
    first = next(r for r in runs if r.status == "running")
    assert [h["epoch"] for h in first.history] == [1, 2] and first.unsaved
    qtbot.waitUntil(lambda: c.run.status == "idle", timeout=60000)
    reports = [r.progress.epoch for r in runs if r.progress is not None]
    assert min(reports) == 3   # the run went on at epoch 3, not at 1
    assert [h["epoch"] for h in c.run.history] == [1, 2, 3, 4] and c.run.unsaved
    expected = uninterrupted_weights()
    for name, value in c.model.state_dict().items():
        assert torch.equal(value, expected[name]), name
    assert c.training.autosave.folder == folder   # its checkpoint stays until the model is saved


def test_a_run_that_had_finished_is_restored_as_the_unsaved_model_without_training(qtbot, opened, root):
    folder, _ = crashed_run(root, after=4)
    window, c = opened(show=False)
    window.ask_restore_run = Asked(RESTORE)
    assert autosave_watch.offer_interrupted_runs(window, c)
    assert not c.is_training and c.run.unsaved and [h["epoch"] for h in c.run.history] == [1, 2, 3, 4]
    expected = uninterrupted_weights()
    for name, value in c.model.state_dict().items():
        assert torch.equal(value, expected[name]), name
    c.ask_unsaved = lambda _text: DISCARD_MODEL
    window.close()
    assert run_folders(root) == []


def test_a_run_still_training_in_another_window_is_not_offered(root):
    folder, _ = crashed_run(root)
    holder = RunAutosave()
    holder.adopt(folder)
    assert autosave_watch.interrupted_runs() == []
    with pytest.raises(LatentLabError, match="another LatentLab window"):
        RunAutosave().adopt(folder)
    holder.discard()
    assert run_folders(root) == []


def test_a_restore_whose_data_changed_keeps_the_run_and_says_why(qtbot, opened, root):
    folder, _ = crashed_run(root)
    path = folder / autosave.STATE_NAME
    meta = json.loads(path.read_text())
    meta["data"]["source"] = {"kind": "mnist", "limit": 100}   # loads, but not the data it trained on
    path.write_text(json.dumps(meta))
    window, c = opened(show=False, items=None)
    errors: list[tuple[str, str]] = []
    window.show_error = lambda title, message: errors.append((title, message))
    window.ask_restore_run = Asked(RESTORE)
    assert not autosave_watch.offer_interrupted_runs(window, c)
    assert errors and "has changed since the run was saved" in errors[0][1]
    assert run_folders(root) == [folder] and not c.is_training


@pytest.mark.parametrize(("button", "answer"), [("Restore", RESTORE), ("Discard", DISCARD), ("Later", LATER)])
def test_the_window_asks_restore_discard_or_later(qtbot, button, answer):
    window = MainWindow()
    qtbot.addWidget(window)
    seen: list[str] = []

    def press() -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox) and box.objectName() == "restoreRunDialog"
        seen.append(box.text())
        next(b for b in box.buttons() if b.text().replace("&", "") == button).click()

    QTimer.singleShot(0, press)
    assert window.ask_restore_run("Restore it?") == answer
    assert seen == ["Restore it?"]


# -- a real crash: the training process is killed ------------------------------------------------
DRIVER = textwrap.dedent("""
    import os, sys
    import torch
    torch.set_num_threads(1)
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from latentlab import app
    from latentlab.core.plan import TrainingSettings

    qapp = QApplication([])
    window = app.launch([], default_model="")

    def start():
        controller = app.controller_of(window)
        if controller is None:
            QTimer.singleShot(50, start)
            return
        controller.training.autosave.interval_s = 0
        settings = TrainingSettings(data="mnist", limit=240, family="vae", arch="mlp", latent_dim=2,
                                    hidden=(16,), epochs=200, batch_size=32, lr=1e-3, device="cpu", seed=0)
        assert controller.start_training(settings)
        print("training", flush=True)

    QTimer.singleShot(0, start)
    qapp.exec()
""")


def test_a_killed_training_is_offered_at_the_next_launch_and_goes_on(qtbot, root, tmp_path):
    repo = Path(app.__file__).resolve().parents[1]
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", LATENTLAB_SETTINGS_DIR=str(tmp_path / "settings"),
               PYTHONPATH=os.pathsep.join(p for p in (str(repo), os.environ.get("PYTHONPATH", "")) if p))
    log = tmp_path / "child.log"   # a file, not a pipe: a full pipe would stall the child
    with open(log, "wb") as out:
        child = subprocess.Popen([sys.executable, "-c", DRIVER], env=env, cwd=str(tmp_path), stdout=out,
                                 stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while not any(run.epoch >= 2 for run in autosave.find_interrupted_runs(root)):
            assert child.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "no checkpoint within 90 s"
            time.sleep(0.1)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    [run] = autosave.find_interrupted_runs(root)
    assert (root / f"{run.folder.name}.lock").exists()   # the dead process's lock is left behind
    saved_epoch = autosave.read_checkpoint(run.folder)[0].epoch

    window = app.launch([], default_model="")
    window.ask_restore_run = asked = Asked(RESTORE)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: app.controller_of(window) is not None
                    and app.controller_of(window).run.status == "running", timeout=30000)
    c = app.controller_of(window)
    assert f"epoch {saved_epoch} of 200" in asked.texts[0] and "VAE" in asked.texts[0]
    assert len(c.data) == 240 and c.run.unsaved and c.training.autosave.folder == run.folder
    qtbot.waitUntil(lambda: len(c.run.history) > saved_epoch, timeout=30000)
    assert [h["epoch"] for h in c.run.history][: saved_epoch + 1] == list(range(1, saved_epoch + 2))
    assert c.run.progress.epoch > saved_epoch
    c.ask_unsaved = lambda _text: DISCARD_MODEL
    window.close()
    assert window.closed and list(root.iterdir()) == []   # the checkpoint and the dead process's lock


def test_the_autosave_folder_follows_the_private_folders_of_tests_and_benchmarks(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTLAB_AUTOSAVE_DIR", str(tmp_path / "mine"))
    monkeypatch.setenv("LATENTLAB_SETTINGS_DIR", str(tmp_path / "settings"))
    assert autosave.autosave_root() == tmp_path / "mine"
    monkeypatch.delenv("LATENTLAB_AUTOSAVE_DIR")
    assert autosave.autosave_root() == tmp_path / "settings" / "autosave"
    monkeypatch.delenv("LATENTLAB_SETTINGS_DIR")
    assert tmp_path not in autosave.autosave_root().parents   # the person's own data folder
