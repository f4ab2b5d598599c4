"""Drag to decoded pixels: time from a mouse move on the plane to the new image on screen.

Opens the real main window offscreen with a model and the bundled MNIST digits, presses
the mouse on the probe, moves it along a circle with real mouse events sent to the
plane's viewport (one move every ``--interval-ms``, as a mouse reports), and releases.
For every move it records how long until the decoded view has *painted* an image that
was decoded after the move arrived (the probe decoder decodes the first move at once and
then at most once per frame, so that image shows this position or a newer one). Prints
p50 / p95 per model:

* the bundled MLP VAE (``resources/models/mnist-vae-2d``);
* a small untrained conv VAE (an untrained decoder is exactly as fast as a trained one).

    python benchmarks/drag_latency.py [--moves 200] [--interval-ms 16] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import sys
import time
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# A scratch settings store: a benchmark never changes the person's own window layout.
os.environ.setdefault("LATENTLAB_SETTINGS_DIR", tempfile.mkdtemp(prefix="latentlab-bench-"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QMouseEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from run import emit, machine, peak_rss_mb, percentile, row  # noqa: E402

LEFT = Qt.MouseButton.LeftButton
NONE = Qt.MouseButton.NoButton


class PaintClock(QObject):
    """Event filter on the decoded view: the time each paint of a new image finished.

    It paints the view itself (calling the widget's own paintEvent) so that the time is
    taken after the pixels are drawn, not when the paint event arrives.
    """

    def __init__(self, view: Any) -> None:
        super().__init__()
        self.view = view
        self.painted: list[tuple[float, int]] = []   # (time, id of the image array painted)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if obj is self.view and event.type() == QEvent.Type.Paint:
            type(self.view).paintEvent(self.view, event)
            self.painted.append((time.perf_counter(), id(self.view.current_image())))
            return True
        return False


def send_mouse(widget: Any, kind: QEvent.Type, pos: QPoint, button: Any, buttons: Any) -> None:
    event = QMouseEvent(kind, QPointF(pos), QPointF(widget.mapToGlobal(pos)), button, buttons,
                        Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def probe_pixel(plane: Any) -> QPoint:
    """Where the probe is drawn, in the plane viewport's pixels."""
    x, y = plane.probe_position()
    scene = plane.plotItem.vb.mapViewToScene(QPointF(x, y))
    return plane.mapFromScene(scene)


def wait_until(app: QApplication, condition: Any, timeout_s: float) -> bool:
    deadline = time.perf_counter() + timeout_s
    while not condition():
        if time.perf_counter() > deadline:
            return False
        app.processEvents()
        time.sleep(0.002)
    return True


def measure_drag(app: QApplication, window: Any, moves: int, interval_s: float) -> list[float]:
    """Drag the probe in a circle; return the move-to-paint latency of every move in ms."""
    plane, decoded = window.plane, window.decoded
    clock = PaintClock(decoded)
    decoded.installEventFilter(clock)
    viewport = plane.viewport()
    start = probe_pixel(plane)
    probe_before = plane.probe_position()
    radius = 0.3 * min(viewport.width(), viewport.height())
    centre = QPoint(start.x() - int(radius), start.y())   # the circle passes through the probe
    send_mouse(viewport, QEvent.Type.MouseMove, start, NONE, NONE)
    send_mouse(viewport, QEvent.Type.MouseButtonPress, start, LEFT, LEFT)
    sent: list[tuple[float, int]] = []   # (time the move was delivered, image shown before it)
    next_at = time.perf_counter()
    for i in range(1, moves + 1):
        while time.perf_counter() < next_at:   # the event loop runs between mouse reports
            app.processEvents()
        angle = 2.0 * math.pi * i / 120.0
        pos = QPoint(centre.x() + int(radius * math.cos(angle)), centre.y() + int(radius * math.sin(angle)))
        before = id(decoded.current_image())
        send_mouse(viewport, QEvent.Type.MouseMove, pos, NONE, LEFT)
        sent.append((time.perf_counter(), before))
        next_at += interval_s
    wait_until(app, lambda: clock.painted and clock.painted[-1][0] > sent[-1][0] + 0.05, 2.0)
    send_mouse(viewport, QEvent.Type.MouseButtonRelease, pos, LEFT, NONE)
    app.processEvents()
    decoded.removeEventFilter(clock)
    if plane.probe_position() == probe_before:
        raise RuntimeError("the probe did not follow the mouse: the press missed it")
    latencies = []
    for t, before in sent:
        # The first paint after the move of an image other than the one shown at the move.
        done = next((pt for pt, image in clock.painted if pt >= t and image != before), None)
        if done is not None:
            latencies.append((done - t) * 1000.0)
    return latencies


def open_window(app: QApplication, model: Any, meta: dict) -> Any:
    """A shown main window with ``model``, MNIST, and the codes on the plane."""
    from latentlab.core.data import load_dataset
    from latentlab.gui.controller import AppController
    from latentlab.gui.window.main_window import MainWindow

    window = MainWindow()
    controller = AppController(window, training_threads=1)
    controller.set_data(load_dataset("mnist"))
    controller.set_model(model, meta=meta)
    window.resize(1280, 800)
    window.show()
    if not wait_until(app, lambda: controller.scene.xy is not None, 120.0):
        raise RuntimeError("the data set was not encoded within 120 s")
    wait_until(app, lambda: False, 0.3)   # let the plane settle after the new points
    return window


def models() -> list[tuple[str, Any, dict]]:
    from latentlab.core.checkpoint import load_model
    from latentlab.core.models import ModelConfig, build_model
    from latentlab.resources_path import resource_path

    loaded = load_model(resource_path("models", "mnist-vae-2d"))
    hidden = "-".join(str(h) for h in loaded.config.hidden)
    conv_config = ModelConfig(family="vae", arch="conv", input_shape=(1, 28, 28), latent_dim=2, hidden=(32, 64))
    return [(f"MLP decoder (bundled model, hidden {hidden})", loaded.model, dict(loaded.meta or {})),
            ("conv decoder (untrained, channels 32-64)", build_model(conv_config), {})]


def rows(quick: bool = False, moves: int | None = None, interval_ms: float = 16.0) -> list[dict[str, Any]]:
    """Drag latency rows (p50, p95) for the MLP and the conv decoder."""
    import torch

    torch.set_num_threads(1)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    n = moves or (60 if quick else 200)
    out = []
    for name, model, meta in models():
        window = open_window(app, model, meta)
        measure_drag(app, window, 10, interval_ms / 1000.0)   # warm-up: first decodes are slower
        lat = measure_drag(app, window, n, interval_ms / 1000.0)
        window.close()
        app.processEvents()
        note = f"{len(lat)} of {n} moves, one every {interval_ms:g} ms"
        out.append(row("drag latency", f"{name}: p50", percentile(lat, 50), "ms", note=note))
        out.append(row("drag latency", f"{name}: p95", percentile(lat, 95), "ms", note=note))
    out.append(row("peak memory", "drag benchmark (window, 10k points, two models)", peak_rss_mb(), "MiB"))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--moves", type=int, default=None, help="mouse moves per model (default 200; 60 with --quick)")
    p.add_argument("--interval-ms", type=float, default=16.0, help="time between mouse moves (default 16)")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--json", action="store_true", help="print the rows as JSON (for run.py)")
    args = p.parse_args(argv)
    result = rows(args.quick, args.moves, args.interval_ms)
    if args.json:
        emit(result)
        return 0
    print(f"machine: {machine(1)}")
    for r in result:
        print(f"{r['measure']:<60} {r['value']:8.1f} {r['unit']}   {r['note']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
