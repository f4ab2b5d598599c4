"""The desktop app's entry: paint the window first, then load torch and the model behind it.

Importing torch takes a second or more, so :func:`main` shows the window shell (widgets
that need no torch) at once and does the heavy part on a background thread: import
torch, read the data set and the model. That thread starts first, before the window's own
modules import (:func:`start_loading`), so the two overlap. Before anything else, importing this module starts
loading torch's native library without the interpreter lock (:mod:`latentlab.native_startup`, which also caps glibc's malloc arenas),
so the dynamic loader's share of that import overlaps the window's own imports. The controller is then built on the GUI thread over
the window (it becomes the window's child; :func:`controller_of` finds it). Only once the
points are on the plane is what only training needs paid for: the process that will train
(:mod:`latentlab.core.train_process`) starts and warms up then, or, when training stays in this
process, a second thread pays the optimiser's first use (it imports ``torch._dynamo``, over a
second): the probe and the points come first. Python's cyclic collector is paused for the
start-up and then told to leave the start-up's objects alone (:func:`settle_heap`).
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from latentlab import native_startup

# First of all (before any thread starts): fewer malloc arenas, and torch's native library
# starts loading on the other core (without the interpreter lock) while Qt and the window's
# modules import here.
native_startup.limit_malloc_arenas()
native_startup.start()

from PySide6.QtCore import QEvent, QObject, QTimer  # noqa: E402
from PySide6.QtGui import QIcon  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from latentlab.gui.settings import APPLICATION, ORGANISATION  # noqa: E402
from latentlab.gui.workers import WarmUpThread, describe_exception  # noqa: E402
from latentlab.resources_path import resource_path  # noqa: E402

if TYPE_CHECKING:
    from latentlab.gui.window.main_window import MainWindow

log = logging.getLogger(__name__)

DEFAULT_DATA = "mnist"
# Packaging smoke checks set this to quit by themselves after so many milliseconds.
SMOKE_ENV = "LATENTLAB_SMOKE_QUIT_MS"
SMOKE_GRACE_S = 60.0   # a slow machine may still be loading then: wait this much longer at most


def default_model_path() -> str:
    """The bundled pretrained 2-D VAE on MNIST (a model folder)."""
    return str(resource_path("models", "mnist-vae-2d"))


def training_threads() -> int:
    """Torch threads for training in the app: every core but one, which the GUI keeps."""
    return max(1, (os.cpu_count() or 2) - 1)


@dataclass
class StartupResult:
    """What the background start-up produced (plain objects, no Qt)."""

    data: Any = None
    model: Any = None                 # an OpenedModel (a LatentLab model or ONNX graphs)
    errors: list[tuple[str, str]] = field(default_factory=list)
    hint: str = ""


def load_startup(model_path: str | None, default_model: str | None,
                 window_imported: threading.Event | None = None) -> StartupResult:
    """Import torch and load the model and its data set (runs on a background thread).

    ``model_path`` is what the user asked for (errors are reported); ``default_model``
    is tried when nothing was asked for (a missing default only gives a hint). The
    controller's modules are imported here too, at the end, once ``window_imported`` is set:
    the GUI thread imports the window's modules meanwhile, and two threads importing the same
    modules at once could each wait for the other's.
    """
    import torch  # noqa: F401 - the slow import this thread exists for

    from latentlab.core.data import load_dataset
    from latentlab.gui.open_model import load_model   # a LatentLab model or ONNX graphs

    out = StartupResult()
    wanted = model_path or (default_model if default_model and os.path.exists(default_model) else None)
    if wanted:
        try:
            out.model = load_model(wanted)
        except Exception as exc:
            message, user_mistake = describe_exception(exc)
            if not user_mistake:
                log.exception("could not open %s", wanted)
            out.errors.append(("Could not open the model", message))
    source = ((out.model.meta.get("data") or {}).get("source") if out.model is not None else None) or DEFAULT_DATA
    try:
        out.data = load_dataset(source)
    except Exception as exc:
        message, _ = describe_exception(exc)
        out.errors.append(("Could not open the data set", f"{message}\nUsing the bundled MNIST digits instead."))
        out.data = load_dataset(DEFAULT_DATA)
    if out.model is None:
        out.hint = "No model loaded yet. Press Start to train one."
    # Which data a model was trained on is checked by content hash: hash it here, not on the
    # GUI thread while the window waits for its probe (it is cached on the data set).
    _ = out.data.fingerprint
    if window_imported is not None:
        window_imported.wait(WINDOW_IMPORT_WAIT_S)
    from latentlab.gui import controller  # noqa: F401 - the controller's imports, off the GUI thread
    return out


#: The loading thread waits at most this long for the window's modules (a window that never
#: comes must not keep the thread, and with it the app's exit, waiting).
WINDOW_IMPORT_WAIT_S = 30.0


class StartupLoading:
    """The start-up's loading (:func:`load_startup`), begun before the window's modules import.

    Importing torch and the window's modules both take most of a second; begun first, the
    loading overlaps the window's imports and building. Its result waits here until the window
    is there to take it (:meth:`deliver_to`): a thread's signal reaches only the slots connected
    when it is sent.
    """

    def __init__(self, model_path: str | None, default_model: str | None) -> None:
        self.window_imported = threading.Event()
        self._result: Any = None
        self._has_result = False
        self._target: Any = None
        self.thread = WarmUpThread(lambda: load_startup(model_path, default_model, self.window_imported))
        self.thread.done.connect(self._arrived)   # queued to the GUI thread
        self.thread.start()

    def _arrived(self, result: Any) -> None:
        self._result, self._has_result = result, True
        self._hand_over()

    def deliver_to(self, target: Any) -> None:
        """Call ``target(result)`` on the GUI thread once the result is there (now, if it is)."""
        self.window_imported.set()
        self._target = target
        self._hand_over()

    def _hand_over(self) -> None:
        if self._has_result and self._target is not None:
            target, self._target = self._target, None
            result, self._result = self._result, None
            target(result)


def _warm_up() -> None:
    """Pay one-off first-use costs now so the first Start does not freeze the window."""
    from latentlab.core import training

    warm_up = getattr(training, "warm_up", None)
    if warm_up is not None:
        try:
            warm_up()
        except Exception:   # only a speed-up; training will report real problems itself
            log.debug("warm-up failed", exc_info=True)


#: If the points never show (an error on the way), the collector is back on after this long.
HEAP_SETTLE_LATEST_MS = 20000


def pause_collector() -> bool:
    """Stop Python's cyclic garbage collector for the start-up (True if this paused it).

    Importing torch, Qt and the window's modules makes a quarter of a million objects, and
    every full collection walks all of them (about 0.2 s a time on a 2-core laptop): during
    start-up that is pure delay, since nothing made then is garbage.
    """
    if not gc.isenabled():
        return False
    gc.disable()
    return True


def settle_heap() -> None:
    """The start-up is over: what exists now lives as long as the app, so the collector stops
    walking it (``gc.freeze``), and runs again for what comes later. Without this, a full
    collection would stall the GUI thread for 0.2 s every so often (a dropped dozen frames
    while a probe is dragged)."""
    gc.freeze()
    gc.enable()


def warm_up_when_shown(window: MainWindow, controller: Any) -> None:
    """Start :func:`_warm_up` on a thread once the plane shows points (or at once without any);
    when training runs in a child process, start that child instead.

    Run earlier, its imports would compete for the interpreter with the first encode.
    """
    def start() -> None:
        settle_heap()   # the points show: the start-up's objects are here to stay
        if window.closed:
            return
        if getattr(controller, "isolate_training", False):
            # Training happens in a child process: start it now (it imports torch and warms
            # up there, on the other core); this process needs no optimiser at all.
            from latentlab.core import train_process

            train_process.prepare()
            return
        thread = WarmUpThread(_warm_up)
        window.adopt_thread(thread)
        window.warm_up_thread = thread
        thread.start()

    scene = controller.scene
    if scene.xy is not None or not (scene.model_ready and scene.fits_data):
        start()
        return

    def on_scene(value: Any) -> None:
        if value.xy is None:
            return
        controller.scene_model.sceneChanged.disconnect(on_scene)
        start()

    controller.scene_model.sceneChanged.connect(on_scene)


def controller_of(window: MainWindow) -> Any:
    """The window's :class:`~latentlab.gui.controller.AppController`, or None while loading."""
    if "latentlab.gui.controller" not in sys.modules:
        return None
    from latentlab.gui.controller import AppController

    return window.findChild(AppController)


def encode_early(window: MainWindow, result: Any, early: dict[str, Any]) -> None:
    """Encode the start-up's data with its model on a thread now, while the GUI thread builds the
    controller (the encoder's matrix products let the interpreter lock go), and hand the codes
    to ``early["controller"]`` (:meth:`AppController.adopt_placement`) when they are ready.
    Only for a model with an encoder that fits the data; anything else is left to the
    controller's own encode."""
    from latentlab.gui import placement

    if isinstance(result, BaseException) or result.data is None or result.model is None:
        return
    model, data = result.model.model, result.data
    try:
        from latentlab.core import inference
        from latentlab.core.device import cpu_state

        config = model.config
        if placement.by_inversion(config) or inference.incompatibility(config, data):
            return
        job = placement.placement_job(config, cpu_state(model), data)
    except Exception:   # only a head start: the controller encodes as usual
        log.debug("no early encode", exc_info=True)
        return

    def encode() -> Any:
        import torch

        torch.set_num_threads(1)   # per thread: the GUI thread keeps the other core
        return job(lambda: window.closed)

    def done(placed: Any) -> None:
        controller = early.get("controller")
        if controller is not None and not isinstance(placed, BaseException):
            controller.adopt_placement(model, data, placed)

    thread = WarmUpThread(encode)
    thread.done.connect(done)   # queued: it runs on the GUI thread once attach_startup is over
    window.adopt_thread(thread)
    thread.start()


def attach_startup(window: MainWindow, result: Any) -> None:
    """On the GUI thread: build the controller over the window from the start-up result."""
    from latentlab.gui.controller import AppController

    if window.closed:   # closed while loading: nothing to show, and no thread may start now
        settle_heap()
        return
    early: dict[str, Any] = {}
    encode_early(window, result, early)   # runs while the controller is built below
    controller = AppController(window, training_threads=training_threads())
    early["controller"] = controller
    if isinstance(result, BaseException):
        settle_heap()
        message, _ = describe_exception(result)
        window.show_error("Could not start", message)
        return
    if result.data is not None:
        controller.set_data(result.data)
    if result.model is not None:
        loaded = result.model
        controller.set_model(loaded.model, meta=dict(loaded.meta or {}), path=str(loaded.path))
    for title, message in result.errors:
        window.show_error(title, message)
    if result.hint:
        window.decoded.clear(result.hint)
        window.set_hint(result.hint)
    warm_up_when_shown(window, controller)
    if os.environ.get(SMOKE_ENV) is None:   # a smoke check never waits on a question
        from latentlab.gui.autosave_watch import offer_interrupted_runs

        QTimer.singleShot(0, lambda: offer_interrupted_runs(window, controller))


def launch(args: list[str], default_model: str | None = None,
           loading: StartupLoading | None = None) -> MainWindow:
    """Show the window now and load in the background; returns the window.

    ``args`` may hold one model path. ``loading`` is the loading already begun for them
    (:func:`start_loading`); without it, it begins here. The window's ``startup_thread`` does
    the loading; the controller is attached when it is done.
    """
    from latentlab.gui.window.main_window import MainWindow

    if loading is None:
        loading = start_loading(args, default_model)
    window = MainWindow()
    icon_path = resource_path("icons", "latentlab.svg")
    if icon_path.exists():
        window.setWindowIcon(QIcon(str(icon_path)))
    window.show()
    window.adopt_thread(loading.thread)
    window.startup_thread = loading.thread
    window.startup_loading = loading   # holds the result until it is handed over
    loading.deliver_to(lambda result: attach_startup(window, result))
    return window


def start_loading(args: list[str], default_model: str | None = None) -> StartupLoading:
    """Begin loading the model in ``args`` (else ``default_model``, by default the bundled one)."""
    model_path = args[0] if args else None
    fallback = default_model_path() if default_model is None else default_model
    return StartupLoading(model_path, fallback or None)


class PaintWatch(QObject):
    """Notes whether ``widget`` has painted at least once (for the smoke check)."""

    def __init__(self, widget: Any) -> None:
        super().__init__(widget)
        self.painted = False
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Paint:
            self.painted = True
        return False


def smoke_verdict(window: MainWindow, painted: bool) -> tuple[int, str]:
    """Exit code and a line for the smoke check: 0 when the window painted and a model loaded."""
    if not painted:
        return 1, "smoke check failed: the window never painted"
    controller = controller_of(window)
    if controller is None:
        return 1, "smoke check failed: the model was still loading"
    if controller.model is None:
        return 1, "smoke check failed: no model was loaded"
    return 0, f"smoke check passed: the window painted and model '{controller.model_name}' loaded"


def quit_after(app: QApplication, window: MainWindow, delay_ms: int) -> None:
    """After ``delay_ms`` (and once loading has finished and the window has painted, within a
    grace period), close the window and leave the event loop with :func:`smoke_verdict`'s exit code."""
    watch = PaintWatch(window.decoded)   # the decoded view paints with the first frame
    deadline = time.monotonic() + delay_ms / 1000 + SMOKE_GRACE_S

    def check() -> None:
        # A machine under load may take a while to load and paint: wait for both, up to the grace.
        if (controller_of(window) is None or not watch.painted) and time.monotonic() < deadline:
            QTimer.singleShot(100, check)
            return
        code, line = smoke_verdict(window, watch.painted)
        print(line, file=sys.stderr)
        window.close()
        app.exit(code)

    QTimer.singleShot(max(0, delay_ms), check)


def has_display() -> bool:
    """Whether Qt can open a window here (on Linux without a screen it would abort)."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def main(argv: list[str] | None = None) -> int:
    """Run the app; ``argv`` may hold one model path (a folder, a ``.latentlab`` file, or ONNX:
    a folder holding ``decoder.onnx``, one of its files, or a lone ``.onnx`` decoder)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if any(a.startswith("-") for a in args) or len(args) > 1:
        print("usage: latentlab [MODEL]   (or latentlab --help for the commands)", file=sys.stderr)
        return 2
    smoke = os.environ.get(SMOKE_ENV)
    if smoke is not None and not smoke.strip().isdigit():
        print(f"{SMOKE_ENV} must be a whole number of milliseconds, not '{smoke}'", file=sys.stderr)
        return 2
    if QApplication.instance() is None and not has_display():
        print("latentlab: no display found (DISPLAY and WAYLAND_DISPLAY are unset). The desktop app "
              "needs a screen; the commands work without one: latentlab --help", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "latentlab"])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    if pause_collector():   # until the points show (settle_heap), or HEAP_SETTLE_LATEST_MS at most
        QTimer.singleShot(HEAP_SETTLE_LATEST_MS, lambda: None if gc.isenabled() else settle_heap())
    loading = start_loading(args)   # before the window's modules import: the two overlap
    try:
        window = launch(args, loading=loading)
    except BaseException:
        loading.window_imported.set()   # nothing to wait for now
        loading.thread.wait()   # a running QThread must not be destroyed
        raise
    if smoke is not None:
        quit_after(app, window, int(smoke))
    code = app.exec()
    del window
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
