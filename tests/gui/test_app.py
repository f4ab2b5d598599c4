"""App start-up: the window shows before torch loads, then the model arrives; bad paths."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from PySide6.QtWidgets import QMessageBox

from latentlab import app
from latentlab.core.checkpoint import save_model
from latentlab.core.data import load_dataset
from latentlab.core.models import ModelConfig, build_model



@pytest.fixture
def saved_model(tmp_path):
    """A tiny 2-D VAE saved with a record of a small MNIST subset as its data."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(latent_dim=2, hidden=(16,))).eval()
    data = load_dataset("mnist", limit=300)
    folder = tmp_path / "tiny-vae"
    save_model(folder, model, data_info={"source": data.source})
    return folder, model


@pytest.fixture
def launched(qtbot):
    windows = []

    def start(args, default_model=""):
        window = app.launch(args, default_model=default_model)
        qtbot.addWidget(window)
        windows.append(window)
        return window

    yield start
    for window in windows:
        window.close()
        assert window.startup_thread is None or not window.startup_thread.isRunning()
        controller = app.controller_of(window)
        if controller is not None:
            assert not controller.inference.isRunning()


def test_the_window_shell_needs_no_torch():
    # The window must paint before torch is imported: building it may not import torch.
    code = textwrap.dedent("""
        import os, sys
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        from PySide6.QtWidgets import QApplication
        qapp = QApplication([])
        from latentlab import app
        from latentlab.gui.window.main_window import MainWindow
        window = MainWindow()
        window.show()
        qapp.processEvents()
        print("torch loaded:", "torch" in sys.modules)
        window.close()
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "torch loaded: False" in out.stdout


def test_launch_with_a_model_path_loads_it_and_its_data(qtbot, launched, saved_model):
    folder, model = saved_model
    window = launched([str(folder)])
    assert window.isVisible()
    qtbot.waitUntil(lambda: app.controller_of(window) is not None
                    and app.controller_of(window).scene.codes is not None, timeout=20000)
    controller = app.controller_of(window)
    assert "tiny-vae" in window.windowTitle()
    assert len(controller.data) == 300 and not controller.run.unsaved
    x, y = window.plane.probe_position()
    with torch.no_grad():
        expected = model.decode_image(torch.tensor([[x, y]]))[0, 0].numpy()
    np.testing.assert_allclose(window.decoded.current_image(), expected, atol=1e-6)
    assert window.training_panel.isEnabled()


def test_training_first_use_costs_wait_until_the_points_are_shown(qtbot, launched, saved_model, monkeypatch):
    folder, _ = saved_model
    seen: list[bool] = []
    windows = []

    def fake_warm_up() -> None:
        # What the plane showed when the warm-up began (read from this thread: a plain attribute).
        controller = app.controller_of(windows[0])
        seen.append(controller is not None and controller.scene.xy is not None)

    monkeypatch.setattr(app, "_warm_up", fake_warm_up)
    windows.append(launched([str(folder)]))
    qtbot.waitUntil(lambda: len(seen) == 1, timeout=20000)
    assert seen == [True]
    windows[0].warm_up_thread.wait(5000)


def test_launch_with_a_bad_path_shows_an_error_and_still_opens(qtbot, launched, tmp_path):
    missing = tmp_path / "no-such-model"
    window = launched([str(missing)])
    qtbot.waitUntil(lambda: app.controller_of(window) is not None, timeout=20000)
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, "errorDialog") is not None, timeout=2000)
    box = window.findChild(QMessageBox, "errorDialog")
    assert "no-such-model" in box.text()
    controller = app.controller_of(window)
    assert controller.model is None and controller.data is not None
    assert "Start" in window.decoded.message()


def test_without_a_default_model_the_app_starts_with_data_and_a_hint(qtbot, launched, tmp_path):
    window = launched([], default_model=str(tmp_path / "missing-default"))
    qtbot.waitUntil(lambda: app.controller_of(window) is not None, timeout=20000)
    assert window.findChild(QMessageBox, "errorDialog") is None
    data = app.controller_of(window).data
    assert data.name == "mnist" and len(data) == 10000
    assert "Press Start" in window.decoded.message()


def test_closing_while_loading_leaves_no_thread_running(qtbot, launched, saved_model):
    folder, _ = saved_model
    window = launched([str(folder)])
    window.close()
    assert not window.startup_thread.isRunning()
    qtbot.wait(0)   # deliver the loader's queued result: a closed window must ignore it
    assert app.controller_of(window) is None


def test_main_rejects_unknown_options(capsys):
    assert app.main(["--frobnicate"]) == 2
    assert "usage" in capsys.readouterr().err



def _smoke_run(args: list[str], tmp_path) -> subprocess.CompletedProcess:
    # In a process of its own: leaving app.exec() marks the event loop as quitting, which
    # would make every later modal dialog in this test process return at once.
    root = os.path.dirname(os.path.dirname(os.path.abspath(app.__file__)))
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"), PYTHONPATH=path)
    env[app.SMOKE_ENV] = "200"
    return subprocess.run([sys.executable, "-m", "latentlab", *args], capture_output=True, text=True,
                          timeout=120, env=env, cwd=str(tmp_path))


def test_smoke_quit_exits_cleanly_once_the_model_has_loaded(saved_model, tmp_path):
    folder, _ = saved_model
    out = _smoke_run([str(folder)], tmp_path)
    assert out.returncode == 0, out.stderr
    assert "tiny-vae" in out.stderr


def test_smoke_quit_fails_when_no_model_loads(tmp_path):
    out = _smoke_run([str(tmp_path / "no-such-model")], tmp_path)
    assert out.returncode == 1
    assert "no model" in out.stderr


@pytest.mark.parametrize("arrives_first", [True, False])
def test_loading_begun_before_the_window_hands_its_result_over_once(qtbot, monkeypatch, arrives_first) -> None:
    # main() begins loading before the window's modules import; the result may come before or
    # after the window is there to take it, and must reach it exactly once either way.
    import threading

    gate = threading.Event()
    seen_window_imported = []

    def fake_load(model_path, default_model, window_imported=None):
        gate.wait(5)
        seen_window_imported.append(window_imported)
        return ("loaded", model_path, default_model)

    monkeypatch.setattr(app, "load_startup", fake_load)
    loading = app.start_loading(["some/model"], default_model="fallback")
    got = []
    if arrives_first:
        gate.set()
        qtbot.waitUntil(loading.thread.isFinished, timeout=5000)
        qtbot.wait(20)   # the queued result reaches the GUI thread with no one to take it yet
        loading.deliver_to(got.append)
        assert got == [("loaded", "some/model", "fallback")]
    else:
        loading.deliver_to(got.append)
        assert got == []
        gate.set()
        qtbot.waitUntil(lambda: bool(got), timeout=5000)
    qtbot.wait(20)
    assert got == [("loaded", "some/model", "fallback")]   # once
    assert seen_window_imported == [loading.window_imported] and loading.window_imported.is_set()
    loading.thread.wait()
