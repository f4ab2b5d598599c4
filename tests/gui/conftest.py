"""Every GUI test keeps the user's settings and autosaves untouched and sees every synthetic mouse move."""

from __future__ import annotations

import pyqtgraph as pg
import pytest
from PySide6.QtCore import QSettings


@pytest.fixture(autouse=True)
def private_settings(tmp_path, monkeypatch):
    """Its own INI and autosave folders per test (child processes inherit the latter); training on
    a thread; pyqtgraph's 10 ms mouse-move rate limit off (events come faster)."""
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    monkeypatch.setenv("LATENTLAB_AUTOSAVE_DIR", str(tmp_path / "autosave"))
    # Window tests train on a thread of the test process (no child per test);
    # test_training_process.py trains in the child process the app uses.
    monkeypatch.setenv("LATENTLAB_TRAINING_PROCESS", "0")
    monkeypatch.setitem(pg.CONFIG_OPTIONS, "mouseRateLimit", 0)


@pytest.fixture
def opened(qtbot):
    """Windows with their controllers over a model and data, made by ``opened(model, items=…)``
    (``tests.gui.controller_support.Opened``) and closed after the test."""
    from tests.gui.controller_support import Opened

    made = Opened(qtbot)
    yield made
    made.close_all()
