"""The standard data sets from the window: a progress dialog with Cancel while a thread downloads,
against a local HTTP server (no network); a cancelled download resumes, offline says where to put files."""

from __future__ import annotations

import socket
import threading

import numpy as np
from PySide6.QtWidgets import QDialog

from latentlab.core.data import downloads
from latentlab.gui.views.training_panel import DATA_CHOICES
from tests.core.test_downloads import digits, fashion_files, idx_images, idx_labels, publish
from tests.core.test_downloads import server  # noqa: F401 - the local server fixture
from tests.gui.controller_support import training_settings


def _choose(window, key: str) -> None:
    """Pick ``key`` in the panel's data list as a person would (activated, not just set)."""
    combo = window.training_panel.data_combo
    index = combo.findData(key)
    assert index >= 0
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def _dialog(window) -> QDialog | None:
    found = [d for d in window.findChildren(QDialog, "downloadDialog") if d.isVisible()]
    return found[0] if found else None


def test_the_panel_offers_every_standard_set() -> None:
    assert set(downloads.NAMES) <= {key for key, _label in DATA_CHOICES}


def test_choosing_a_set_not_cached_downloads_it_with_a_dialog(qtbot, opened, server, monkeypatch) -> None:  # noqa: F811
    files = fashion_files()
    publish(server, monkeypatch, "fashion-mnist", files)
    window, controller = opened(items=20)
    seen: list[int] = []
    _choose(window, "fashion-mnist")
    dialog = _dialog(window)
    assert dialog is not None and dialog.isModal()
    dialog.bar.valueChanged.connect(seen.append)
    qtbot.waitUntil(lambda: controller.downloads.thread is None and _dialog(window) is None, timeout=10000)
    assert downloads.is_cached("fashion-mnist") and seen[-1] == 1000   # the bar ended full
    assert window.training_panel.choices()["data"]["spec"] == "fashion-mnist"
    assert "Downloaded and verified Fashion-MNIST" in window.statusBar().currentMessage()
    # Choosing it again reads the cache: no dialog, no request.
    asked = len(server.requests)
    _choose(window, "mnist")
    _choose(window, "fashion-mnist")
    assert _dialog(window) is None and len(server.requests) == asked


def test_cancel_keeps_the_part_and_the_next_try_resumes(qtbot, opened, server, monkeypatch, tmp_path) -> None:  # noqa: F811
    big = digits(400, 7)   # ~300 kB of noise: many blocks at the small block size below
    files = {**fashion_files(), "train-images-idx3-ubyte.gz": idx_images(big),
             "train-labels-idx1-ubyte.gz": idx_labels(np.arange(400) % 10)}
    publish(server, monkeypatch, "fashion-mnist", files)
    monkeypatch.setattr(downloads, "CHUNK", 4096)
    # Hold the download after its first block until Cancel has been pressed (no race with the server).
    first_block, pressed = threading.Event(), threading.Event()
    real_ensure = downloads.ensure

    def held(name, progress=None, should_stop=None):
        def report(*args):
            progress(*args)
            first_block.set()
            pressed.wait(10)
        return real_ensure(name, report, should_stop)

    monkeypatch.setattr(downloads, "ensure", held)
    window, controller = opened(items=20)
    _choose(window, "fashion-mnist")
    qtbot.waitUntil(first_block.is_set, timeout=10000)
    dialog = _dialog(window)
    qtbot.waitUntil(lambda: "file 1 of 4" in dialog.file_label.text(), timeout=5000)
    dialog.cancel_button.click()
    pressed.set()
    qtbot.waitUntil(lambda: controller.downloads.thread is None and _dialog(window) is None, timeout=10000)
    folder = tmp_path / "cache" / "fashion-mnist"
    part = folder / "train-images-idx3-ubyte.gz.part"
    size = part.stat().st_size
    assert 0 < size < len(files["train-images-idx3-ubyte.gz"])
    assert not (folder / "train-images-idx3-ubyte.gz").exists()
    # The panel went back to what was chosen before; the status says the download can continue.
    assert window.training_panel.choices()["data"]["spec"] == "mnist"
    assert "continues where it stopped" in window.statusBar().currentMessage()

    # The next try asks only for the rest and ends with the verified file.
    monkeypatch.setattr(downloads, "ensure", real_ensure)
    _choose(window, "fashion-mnist")
    qtbot.waitUntil(lambda: controller.downloads.thread is None and _dialog(window) is None, timeout=10000)
    assert ("/fashion-mnist/train-images-idx3-ubyte.gz", f"bytes={size}-") in server.requests
    assert (folder / "train-images-idx3-ubyte.gz").read_bytes() == files["train-images-idx3-ubyte.gz"]
    assert not part.exists() and downloads.is_cached("fashion-mnist")


def test_offline_names_the_url_and_the_cache_path(qtbot, opened, monkeypatch, tmp_path) -> None:
    with socket.socket() as s:   # a port nobody listens on: refused at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv(downloads.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(downloads.MIRROR_ENV, f"http://127.0.0.1:{port}")
    window, controller = opened(items=20)
    errors: list[tuple[str, str]] = []
    window.show_error = lambda title, message: errors.append((title, message))
    _choose(window, "kmnist")
    qtbot.waitUntil(lambda: bool(errors), timeout=10000)
    title, message = errors[0]
    assert title == "Could not download Kuzushiji-MNIST"
    assert f"http://127.0.0.1:{port}/kmnist/train-images-idx3-ubyte.gz" in message
    assert str(tmp_path / "cache" / "kmnist" / "train-images-idx3-ubyte.gz") in message
    qtbot.waitUntil(lambda: _dialog(window) is None)
    assert window.training_panel.choices()["data"]["spec"] == "mnist"


def test_start_with_a_set_not_cached_downloads_it_then_trains(qtbot, opened, server, monkeypatch) -> None:  # noqa: F811
    files = {"train-images-idx3-ubyte.gz": idx_images(digits(64, 5)),
             "train-labels-idx1-ubyte.gz": idx_labels(np.arange(64) % 10),
             "t10k-images-idx3-ubyte.gz": idx_images(digits(4, 6)),
             "t10k-labels-idx1-ubyte.gz": idx_labels(np.arange(4))}
    publish(server, monkeypatch, "kmnist", files)
    window, controller = opened(items=20)
    controller.ask_unsaved = lambda _text: "discard"
    settings = training_settings(epochs=1, hidden=[8]).with_changes(data="kmnist")
    assert not controller.start_training(settings)   # not yet: the download comes first
    assert _dialog(window) is not None and not controller.is_training
    qtbot.waitUntil(lambda: controller.data.name == "kmnist", timeout=10000)
    assert len(controller.data) == 64
    # The Start went on once the data was there: the one epoch asked for is trained on it.
    qtbot.waitUntil(lambda: not controller.is_training and bool(controller.run.history), timeout=30000)
    assert [h["epoch"] for h in controller.run.history] == [1]
