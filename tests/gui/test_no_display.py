"""Started where there is no screen, the app says so in one line instead of aborting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _run(env_changes: dict[str, str | None]) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    for key, value in env_changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run([sys.executable, "-m", "latentlab"], capture_output=True, text=True,
                          env=env, timeout=60, cwd=REPO)


def test_no_display_is_one_clear_line() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("DISPLAY decides only on Linux")
    r = _run({"DISPLAY": None, "WAYLAND_DISPLAY": None, "QT_QPA_PLATFORM": None})
    assert r.returncode == 2
    assert "no display" in r.stderr and "latentlab --help" in r.stderr
    assert "Traceback" not in r.stderr


def test_missing_qt_is_one_clear_line() -> None:
    code = ("import sys; sys.modules['PySide6'] = None\n"
            "from latentlab.__main__ import main\n"
            "sys.exit(main([]))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, PYTHONPATH=str(REPO)), cwd=REPO)
    assert r.returncode == 2
    assert "cannot start" in r.stderr and "Traceback" not in r.stderr
