"""The window trains in a child process (the app's default): results, autosave, a crash, closing."""

from __future__ import annotations

import os
import signal
import sys

import pytest

from latentlab.core import autosave, train_process
from latentlab.gui.window.main_window import DISCARD
from tests.gui.controller_support import Opened, training_settings


@pytest.fixture
def opened(qtbot, monkeypatch):
    monkeypatch.setenv(train_process.WANTED_ENV, "1")   # the app's default (conftest turns it off)
    made = Opened(qtbot)
    yield made
    made.close_all()
    train_process.discard()


def child_pid(controller) -> int:
    worker = controller.training.worker
    assert worker is not None and worker.isolated
    return worker._process._proc.pid


def alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return waited == 0


def test_a_run_trains_in_a_child_and_its_model_history_and_autosave_come_back(qtbot, opened):
    window, c = opened(show=False)
    assert c.isolate_training
    c.training.autosave.interval_s = 0
    before = c.model
    assert c.start_training(training_settings(epochs=2))
    pid = child_pid(c)
    assert pid != os.getpid()
    qtbot.waitUntil(lambda: c.run.status == "idle", timeout=90000)
    assert c.model is not None and c.model is not before
    assert [h["epoch"] for h in c.run.history] == [1, 2]
    assert c.run.message.startswith("Training finished")
    qtbot.waitUntil(lambda: c.scene.xy is not None, timeout=20000)
    root = autosave.autosave_root()
    assert any(p.is_dir() for p in root.iterdir())   # checkpoints relayed from the child were written
    qtbot.waitUntil(lambda: not alive(pid), timeout=10000)


def test_a_crashed_training_process_leaves_the_window_its_model_and_the_autosave(qtbot, opened):
    window, c = opened(show=False)
    errors: list[tuple[str, str]] = []
    window.show_error = lambda title, message: errors.append((title, message))
    c.training.autosave.interval_s = 0
    assert c.start_training(training_settings(epochs=200))
    pid = child_pid(c)
    root = autosave.autosave_root()
    qtbot.waitUntil(lambda: root.is_dir() and any(p.is_dir() for p in root.iterdir()), timeout=90000)
    os.kill(pid, signal.SIGKILL)   # as a segfault in a native kernel would end it
    qtbot.waitUntil(lambda: c.run.status == "idle", timeout=20000)
    assert errors and errors[-1][0] == "Training stopped"
    assert "crashed (SIGKILL)" in errors[-1][1]
    assert not window.closed   # the window lives on
    assert c.model is not None
    assert any(p.is_dir() for p in root.iterdir())   # the run can still be restored


def test_closing_the_window_while_training_ends_the_child(qtbot, opened):
    window, c = opened(show=False)
    assert c.start_training(training_settings(epochs=200))
    pid = child_pid(c)
    qtbot.waitUntil(lambda: c.run.progress is not None, timeout=90000)
    assert c.shutdown(3000)
    qtbot.waitUntil(lambda: not alive(pid), timeout=10000)


def test_when_no_training_process_can_start_the_run_trains_in_the_window_process(qtbot, opened, monkeypatch):
    import sys

    monkeypatch.setattr(train_process, "_command", lambda: [sys.executable, "-c", "import sys; sys.exit(3)"])
    train_process.discard()
    window, c = opened(show=False)
    errors: list[tuple[str, str]] = []
    window.show_error = lambda title, message: errors.append((title, message))
    assert c.start_training(training_settings(epochs=1))
    qtbot.waitUntil(lambda: c.run.status == "idle", timeout=90000)
    assert not errors
    assert [h["epoch"] for h in c.run.history] == [1]
    assert c.run.message.startswith("Training finished")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread's own nice value is Linux's")
def test_the_next_runs_process_trains_at_the_apps_priority_not_the_relaying_threads(qtbot, opened):
    # The relaying thread runs below the GUI thread, and a process inherits its starter's nice
    # value for good: the next run's process, started after a run, must not come from there.
    window, c = opened(show=False)
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    assert c.start_training(training_settings(epochs=1))
    first = child_pid(c)
    qtbot.waitUntil(lambda: c.run.status == "idle", timeout=90000)
    qtbot.waitUntil(lambda: train_process._waiting is not None and train_process._waiting.alive, timeout=10000)
    waiting = train_process._waiting._proc.pid
    assert waiting != first
    assert os.getpriority(os.PRIO_PROCESS, waiting) == mine
    c.ask_unsaved = lambda _text: DISCARD   # the first run's model goes
    assert c.start_training(training_settings(epochs=1))   # and the next run takes the waiting process
    assert child_pid(c) == waiting
    qtbot.waitUntil(lambda: c.run.status == "idle", timeout=90000)
