"""The window over a model and data already in memory: the GUI half of ``latentlab.show``.

:func:`latentlab.launch.show` checks its arguments and hands them here as a
:class:`~latentlab.core.models.base.LatentModel` (a person's own module arrives wrapped as an
:class:`~latentlab.core.adapters.ExternalModel`) and a
:class:`~latentlab.core.data.dataset.Dataset`. :func:`show_window` builds the main window and
its :class:`~latentlab.gui.controller.AppController` and gives them the objects as they are,
with the same calls the app's start-up makes after reading files (``set_data``, then
``set_model``); nothing is read from disk.

Blocking: in a plain script the call runs Qt's event loop until the window closes. When a
loop already runs (the call comes from inside one, an IPython session set up with
``%gui qt``, or a Jupyter kernel's Qt loop), or with ``block=False``, it returns at once and
the window stays live: :data:`_OPEN` holds it until it closes, so it is not garbage-collected
when the caller drops the return value. A Jupyter kernel without a Qt loop is given one
(``%gui qt``) instead of being blocked.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from PySide6.QtCore import QEventLoop, QThread
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from latentlab.core.adapters import is_external
from latentlab.core.errors import LatentLabError
from latentlab.gui.controller import AppController, default_training_threads
from latentlab.gui.settings import APPLICATION, ORGANISATION
from latentlab.gui.window.main_window import APP_TITLE, MainWindow
from latentlab.resources_path import resource_path

__all__ = ["event_loop_running", "open_window", "open_windows", "show_window"]

log = logging.getLogger(__name__)

NO_MODEL_HINT = "No model given. Press Start to train one on this data."
#: Windows opened without a blocking loop, kept alive until they close.
_OPEN: list[MainWindow] = []


def open_windows() -> tuple[MainWindow, ...]:
    """The windows :func:`show_window` opened that are still open."""
    return tuple(_OPEN)


def _has_display() -> bool:
    # Qt aborts the process on Linux when it finds no screen; say so instead.
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _application() -> QApplication:
    app = QApplication.instance()
    if app is not None:
        return app  # type: ignore[return-value]
    if not _has_display():
        raise LatentLabError("no display found (DISPLAY and WAYLAND_DISPLAY are unset): the window needs a "
                             "screen. The library works without one: latentlab.load_model, train, "
                             "inference and the exports")
    app = QApplication([sys.argv[0] if sys.argv and sys.argv[0] else "latentlab"])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    return app


def _ipython_shell() -> Any:
    if "IPython" not in sys.modules:   # never import IPython just to ask
        return None
    try:
        return sys.modules["IPython"].get_ipython()
    except Exception:  # noqa: BLE001 - an odd IPython is no reason to fail; treat it as absent
        return None


def event_loop_running(app: QApplication) -> bool:
    """Whether Qt events are processed without our help: we are inside a running loop, or
    IPython runs one between cells (``%gui qt``) or a kernel's Qt loop is marked as running."""
    if QThread.currentThread().loopLevel() > 0:
        return True
    if getattr(app, "_in_event_loop", False):   # ipykernel and IPython's guisupport mark the app so
        return True
    shell = _ipython_shell()
    loop = getattr(shell, "active_eventloop", None) if shell is not None else None
    return isinstance(loop, str) and loop.startswith("qt")


def _give_kernel_a_loop() -> bool:
    """In a Jupyter kernel without a Qt loop, start one (``%gui qt``) so the window lives
    between cells; True when done. Blocking a kernel would freeze the notebook."""
    shell = _ipython_shell()
    if shell is None or getattr(shell, "kernel", None) is None:
        return False
    try:
        shell.enable_gui("qt")
    except Exception as exc:  # noqa: BLE001 - the kernel's own errors; the advice is the same
        raise LatentLabError(f"could not start Qt's event loop in this kernel ({exc}); run %gui qt in a "
                             "cell first, then latentlab.show(...) again") from None
    return True


def open_window(model: Any, data: Any, *, title: str | None = None) -> tuple[MainWindow, AppController]:
    """Build and show the window and its controller over ``model`` and ``data`` (either may be None).

    ``title`` names the model in the window's title while it is on screen (default: a wrapped
    model's name; a LatentLab model is "untitled" until saved).
    """
    app = _application()
    window = MainWindow()
    icon_path = resource_path("icons", "latentlab.svg")
    if icon_path.exists():
        window.setWindowIcon(QIcon(str(icon_path)))
    controller = AppController(window, training_threads=default_training_threads())
    if data is not None:
        controller.set_data(data)
    if model is not None:
        meta = getattr(model, "meta", None)
        controller.set_model(model, meta=dict(meta) if isinstance(meta, dict) else {}, path=None)
    else:
        window.decoded.clear(NO_MODEL_HINT)
        window.set_hint(NO_MODEL_HINT)
    name = title or (model.name if is_external(model) else "")
    if name:
        _keep_title(window, controller, str(name))
    _OPEN.append(window)
    window.closing.connect(lambda: _forget(window))
    window.show()
    window.raise_()
    app.processEvents()   # paint once now: in a notebook the next loop turn may be a while away
    return window, controller


def _keep_title(window: MainWindow, controller: AppController, name: str) -> None:
    """The title names the adopted model for as long as it is the one on screen."""
    key = controller.scene.model_key

    def retitle(*_: Any) -> None:
        scene, run = controller.scene, controller.run
        if scene.model_key == key and not scene.model_path:
            unsaved = " (unsaved)" if run.unsaved else ""
            window.setWindowTitle(f"{APP_TITLE} — {name}{unsaved}")

    # Connected after the window's own slots, so this runs after they set the usual title.
    controller.scene_model.sceneChanged.connect(retitle)
    controller.run_model.runChanged.connect(retitle)
    retitle()


def _forget(window: MainWindow) -> None:
    if window in _OPEN:
        _OPEN.remove(window)


def show_window(model: Any, data: Any, *, title: str | None = None, block: bool = True) -> int:
    """Open the window on ``model`` and ``data``; the event loop's exit status, or 0 at once.

    Runs the event loop until the window closes when ``block`` is true and no loop runs
    already (see the module doc); otherwise returns 0 at once and the window stays open.
    """
    app = _application()
    window, _controller = open_window(model, data, title=title)
    if not block or event_loop_running(app) or _give_kernel_a_loop():
        return 0
    # A loop of its own that ends with this window, whatever else the process has open (and
    # whether or not the application quits when its last window closes).
    if window.closed:   # closed already (while it painted for the first time)
        return 0
    loop = QEventLoop()
    window.closing.connect(loop.quit)
    return int(loop.exec())
