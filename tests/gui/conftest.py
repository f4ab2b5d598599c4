"""Every GUI test keeps the user's settings untouched and sees every synthetic mouse move."""

from __future__ import annotations

import pyqtgraph as pg
import pytest
from PySide6.QtCore import QSettings


@pytest.fixture(autouse=True)
def private_settings(tmp_path, monkeypatch):
    """Its own INI folder per test; pyqtgraph's 10 ms mouse-move rate limit off (events come faster)."""
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    monkeypatch.setitem(pg.CONFIG_OPTIONS, "mouseRateLimit", 0)
